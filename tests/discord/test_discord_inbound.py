"""Room traffic in: Discord messages, edits, deletes and replies recorded once in the real core."""

from __future__ import annotations

from typing import Any

import discord

from bridge.adapters.discord import DiscordAdapter
from bridge.core.chat import Chat
from bridge.core.models import Message
from bridge.core.ports import ChannelRef, IngestResult, OutboundMessage
from bridge.emulators.discord import DiscordEmulator
from bridge.store import keys


async def link_general(emu: DiscordEmulator, core_channel: str = "cricket") -> None:
    for command, options in (("create", {"channel": core_channel}), ("link", {"channel": core_channel})):
        interaction = await emu.slash("alice", "general", f"chat {command}", options)
        reply = await emu.wait_for_reply(interaction)
        assert not reply["content"].startswith("⚠️"), reply["content"]


async def said(chat: Chat, channel: str = "cricket") -> list[Message]:
    return [m for m in await chat.messages.history(channel, 50) if m.kind == "message"]


async def test_messages_edits_deletes_and_replies_are_recorded(
    adapter: DiscordAdapter, emulator: DiscordEmulator, chat: Chat
) -> None:
    await link_general(emulator)
    first = await emulator.say("bob", "general", "hello **all**")
    [result] = await adapter.inbound.wait_handled(1)
    assert result.status == "recorded" and result.channel == "cricket" and result.core_id
    [message] = await said(chat)
    assert (message.username, message.text, message.origin) == ("bob-b", "hello **all**", "discord")

    reply = await emulator.say("carol", "general", "agreed", reply_to=first["id"])
    results = await adapter.inbound.wait_handled(2)
    reply_core = await chat.messages.get(str(results[-1].core_id))
    assert reply_core.reply_to == result.core_id and reply_core.username == "carol"

    await emulator.edit("general", first["id"], "hello **everyone**")
    results = await adapter.inbound.wait_handled(3)
    assert results[-1].status == "recorded"
    assert (await chat.messages.get(str(result.core_id))).text == "hello **everyone**"

    await emulator.delete("general", reply["id"])
    results = await adapter.inbound.wait_handled(4)
    assert results[-1].status == "recorded"
    assert [m.text for m in await said(chat)] == ["hello **everyone**"]


async def test_own_and_webhook_messages_are_ignored(
    adapter: DiscordAdapter, emulator: DiscordEmulator, chat: Chat
) -> None:
    await link_general(emulator)
    general = adapter.client.get_channel(int(emulator.channel("general").id))
    assert isinstance(general, discord.TextChannel)
    await general.send("the bot itself")
    ref = ChannelRef("discord", emulator.guild_id, emulator.channel("general").id)
    await adapter.destination.send(ref, OutboundMessage("1-0", "cricket", "mirrored from slack", "Wasim (Slack)"))
    await emulator.say("bob", "general", "a person")
    results = await adapter.inbound.wait_handled(1)
    assert [m.text for m in await said(chat)] == ["a person"]
    assert adapter.inbound.handled == 1 and len(results) == 1
    echoes = [m for m in emulator.messages("general") if m.get("webhook_id")]
    assert len(echoes) == 1  # the webhook post did come back as MESSAGE_CREATE, and was dropped


async def test_unlinked_channels_and_unknown_edits_are_ignored(
    adapter: DiscordAdapter, emulator: DiscordEmulator, chat: Chat
) -> None:
    await link_general(emulator)
    elsewhere = await emulator.say("bob", "random", f"not mirrored, <@{emulator.user('carol').id}>")
    await emulator.edit("random", elsewhere["id"], "still not mirrored")
    results = await adapter.inbound.wait_handled(2)
    assert [(r.status, r.reason) for r in results] == [
        ("ignored", "channel not linked"),
        ("ignored", "channel not linked"),
    ]
    assert await said(chat) == []
    assert await chat.find_username("discord", emulator.guild_id, emulator.user("carol").id) is None


async def test_resume_replay_records_nothing_twice(
    adapter: DiscordAdapter, emulator: DiscordEmulator, chat: Chat
) -> None:
    await link_general(emulator)
    first = await emulator.say("bob", "general", "one")
    await emulator.say("bob", "general", "two")
    await adapter.inbound.wait_handled(2)
    await emulator.edit("general", first["id"], "one, edited")
    await adapter.inbound.wait_handled(3)
    emulator.hold_gateway()
    await emulator.say("carol", "general", "three (missed while disconnected)")
    emulator.rewind_gateway(3)  # Discord may deliver again what the client already had
    await emulator.close_gateway(4000)
    results = await adapter.inbound.wait_handled(7)
    statuses = [r.status for r in results]
    assert statuses == ["recorded", "recorded", "recorded", "duplicate", "duplicate", "duplicate", "recorded"]
    assert emulator.gateway.resumes == 1 and emulator.gateway.identifies == 1
    assert [m.text for m in await said(chat)] == ["one, edited", "two", "three (missed while disconnected)"]
    stream = await chat.ctx.redis.xrange("channel:cricket")
    kinds = [fields["type"] for _, fields in stream]
    assert kinds.count("message") == 3 and kinds.count("edit") == 1


async def test_mentions_channels_and_emoji_become_core_markdown(
    adapter: DiscordAdapter, emulator: DiscordEmulator, chat: Chat
) -> None:
    await link_general(emulator)
    alice, carol = emulator.user("alice").id, emulator.user("carol").id
    general, random = emulator.channel("general").id, emulator.channel("random").id
    role = emulator.world.admin_role.id
    text = (
        f"hi <@{alice}> and <@!{carol}>, see <#{general}> not <#{random}> <:party:123> <a:wave:456> "
        f"<@&{role}> <@999999999999> `<@{alice}> in code`"
    )
    await emulator.say("bob", "general", text)
    [result] = await adapter.inbound.wait_handled(1)
    core = (await chat.messages.get(str(result.core_id))).text
    assert core.startswith("hi @alice-a and @carol, see #cricket not ")
    assert ":party: :wave:" in core
    assert "@unknown-user" in core and "999999999999" not in core
    assert f"`<@{alice}> in code`" in core
    assert f"<#{random}>" not in core and f"<@&{role}>" not in core
    # the person mentioned got a stable core username on first sight
    assert await chat.find_username("discord", emulator.guild_id, alice) == "alice-a"


async def test_hostile_content_in(adapter: DiscordAdapter, emulator: DiscordEmulator, chat: Chat) -> None:
    await link_general(emulator)
    hostile = [
        "@everyone @here look",
        "evil \u202eoverride\u202c and \u2066isolate\u2069 عربي שלום",
        "zero\u200bwidth\u200djoiner",
        "[click](https://evil.test) **unclosed ` <@&1> \\<@2>",
        "x" * 2000,
    ]
    for text in hostile:
        await emulator.say("bob", "general", text)
    results = await adapter.inbound.wait_handled(len(hostile))
    assert all(r.status == "recorded" for r in results), results
    texts: dict[str, Any] = {r.core_id: (await chat.messages.get(str(r.core_id))).text for r in results}
    stored = list(texts.values())
    assert stored[0] == "@everyone @here look"  # plain reserved words in the core, never a mention
    assert "\u202e" not in stored[1] and "\u2066" not in stored[1] and "عربي שלום" in stored[1]
    assert stored[2] == "zero\u200bwidth\u200djoiner"
    assert "<@&1>" not in stored[3]
    assert len(stored[4]) == 2000
    assert all(isinstance(r, IngestResult) for r in results)


async def test_registered_people_post_under_their_core_name(
    adapter: DiscordAdapter, emulator: DiscordEmulator, chat: Chat
) -> None:
    await link_general(emulator)
    registered = await emulator.wait_for_reply(
        await emulator.slash("bob", "general", "chat register", {"username": "bobby"})
    )
    assert not registered["content"].startswith("⚠️"), registered["content"]
    await emulator.say("bob", "general", "hi, I am bobby")
    await emulator.say("carol", "general", f"hello <@{emulator.user('bob').id}>")
    await adapter.inbound.wait_handled(2)
    assert [(m.username, m.text) for m in await said(chat)] == [
        ("bobby", "hi, I am bobby"),
        ("carol", "hello @bobby"),
    ]


async def test_a_message_moves_its_catch_up_anchor_in_its_own_ingest(
    adapter: DiscordAdapter, emulator: DiscordEmulator, chat: Chat
) -> None:
    """The anchor (``cb:dseen:<guild>``, read by the catch-up through ``LastSeen.of``) is written by
    the message's own ingest script call, not by an HSET after it (only-forward: tests/core)."""
    await link_general(emulator)
    written: list[str] = []
    real_hset = chat.ctx.redis.hset

    async def hset(name: str, *args: Any, **kwargs: Any) -> Any:
        written.append(name)
        return await real_hset(name, *args, **kwargs)  # type: ignore[misc]

    chat.ctx.redis.hset = hset  # type: ignore[method-assign]
    await emulator.say("bob", "general", "older")
    newer = await emulator.say("bob", "general", "newer")
    await adapter.inbound.wait_handled(2)
    general = int(emulator.channel("general").id)
    anchors = await adapter.inbound.last_seen.of(int(emulator.guild_id), [general])
    assert anchors == {general: int(newer["id"])}
    assert keys.discord_last_seen(emulator.guild_id) not in written
