"""Room traffic out: the Discord Destination against the emulator (webhooks, DMs, 429s, hostile text)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from discord_kit import HOOK_POST, limit_the_nth_post

from bridge.adapters.discord import DiscordAdapter
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, OutboundMessage, PlatformUser
from bridge.emulators.discord import DiscordEmulator
from bridge.errors import DeliveryError

AVATAR = "https://example.test/wasim.png"


def ref(emu: DiscordEmulator, channel: str = "general") -> ChannelRef:
    return ChannelRef("discord", emu.guild_id, emu.channel(channel).id)


def out(text: str, **kwargs: object) -> OutboundMessage:
    return OutboundMessage("1-0", "cricket", text, "Wasim (Slack)", AVATAR, **kwargs)  # type: ignore[arg-type]


def statuses(emu: DiscordEmulator, method: str, regex: str) -> list[int]:
    return [r.status for r in emu.requests if r.method == method and __import__("re").fullmatch(regex, r.path)]


async def test_send_posts_as_the_author_through_one_webhook(
    adapter: DiscordAdapter, emulator: DiscordEmulator, chat: Chat
) -> None:
    [first] = await adapter.destination.send(ref(emulator), out("hello *there*"))
    [second] = await adapter.destination.send(ref(emulator), out("again"))
    posted = {m["id"]: m for m in emulator.messages("general")}
    assert posted[first]["content"] == "hello *there*"
    assert posted[first]["author"]["username"] == "Wasim (Slack)" and posted[first]["webhook_id"]
    assert emulator.avatar_url(first) == AVATAR
    assert posted[second]["webhook_id"] == posted[first]["webhook_id"]
    assert statuses(emulator, "POST", r"/channels/\d+/webhooks") == [200]  # created once
    state = await chat.get_state("discord", f"webhook:{emulator.channel('general').id}")
    assert state["id"] == posted[first]["webhook_id"] and state["token"]


async def test_existing_webhook_is_adopted_after_a_restart(
    adapter: DiscordAdapter, emulator: DiscordEmulator, chat: Chat
) -> None:
    await adapter.destination.send(ref(emulator), out("before"))
    channel_id = emulator.channel("general").id
    await chat.set_state("discord", f"webhook:{channel_id}", {"id": "", "token": ""})  # state lost
    adapter.webhooks._cache.clear()
    await adapter.destination.send(ref(emulator), out("after"))
    assert statuses(emulator, "POST", r"/channels/\d+/webhooks") == [200]
    assert len({m["webhook_id"] for m in emulator.messages("general")}) == 1


async def test_deleted_webhook_is_recreated(adapter: DiscordAdapter, emulator: DiscordEmulator, chat: Chat) -> None:
    [before] = await adapter.destination.send(ref(emulator), out("before"))
    old_hook = emulator.messages("general")[0]["webhook_id"]
    emulator.world.webhooks.clear()  # a moderator deleted it
    [message_id] = await adapter.destination.send(ref(emulator), out("after"))
    assert emulator.messages("general")[-1]["id"] == message_id
    assert emulator.messages("general")[-1]["webhook_id"] != old_hook
    assert statuses(emulator, "POST", r"/channels/\d+/webhooks") == [200, 200]
    general = emulator.channel("general").id
    state = await chat.get_state("discord", f"webhook:{general}")
    assert state["retired"] == old_hook
    fresh = DiscordAdapter(chat=chat, config=adapter.config)  # after a restart, late echoes are still ours
    assert await fresh.webhooks.is_own(general, old_hook) and not await fresh.webhooks.is_own(general, "1")
    assert before


async def test_only_explicit_mentions_ping(adapter: DiscordAdapter, emulator: DiscordEmulator) -> None:
    bob, carol = emulator.user("bob").id, emulator.user("carol").id
    role = emulator.world.admin_role.id
    text = f"hey @bob and @carol, @everyone @here <@{carol}> <@&{role}> @nobody #nochannel"
    [message_id] = await adapter.destination.send(ref(emulator), out(text, mentions={"bob": bob}))
    content = emulator.messages("general")[-1]["content"]
    ping = emulator.ping(message_id)
    assert ping.users == [bob] and ping.roles == [] and not ping.everyone
    assert f"<@{bob}>" in content and "@carol" in content and f"\\<@{carol}>" in content
    assert "@\u200beveryone" in content and "@\u200bhere" in content
    assert "@nobody" in content and "#nochannel" in content
    request = await emulator.wait_for_request("POST", HOOK_POST)
    assert request.json["allowed_mentions"] == {"parse": [], "users": [int(bob)]}


async def test_hostile_content_out(adapter: DiscordAdapter, emulator: DiscordEmulator) -> None:
    texts = [
        "](https://evil.test) [ok](https://good.test) **bold** `@everyone in code`",
        "rtl \u202eevil\u202c عربي and zero\u200bwidth\u200djoiner",
        "a name with discord: @discord",
    ]
    for text in texts:
        await adapter.destination.send(ref(emulator), out(text))
    posted = [m["content"] for m in emulator.messages("general")]
    assert "[ok](https://good.test)" in posted[0] and "`@everyone in code`" in posted[0]
    assert "\u202e" not in posted[1] and "عربي" in posted[1] and "zero\u200bwidth\u200djoiner" in posted[1]
    assert not any(emulator.ping(m["id"]).everyone for m in emulator.messages("general"))
    [named] = await adapter.destination.send(
        ref(emulator), OutboundMessage("2-0", "cricket", "hi", "Clyde from Discord \u202e" + "x" * 100)
    )
    author = emulator.messages("general")[-1]["author"]["username"]
    assert len(author) <= 80 and "discord" not in author.lower() and "clyde" not in author.lower()
    assert emulator.messages("general")[-1]["id"] == named


async def test_long_text_is_split_and_every_part_mapped(adapter: DiscordAdapter, emulator: DiscordEmulator) -> None:
    text = " ".join(f"word{i}" for i in range(800))  # 6289 characters
    ids = await adapter.destination.send(ref(emulator), out(text))
    posted = emulator.messages("general")
    assert [m["id"] for m in posted] == ids and len(ids) == 4
    assert all(len(m["content"]) <= 2000 for m in posted)
    assert " ".join(m["content"] for m in posted).split() == text.split()

    shorter = await adapter.destination.edit(ref(emulator), ids, out("now short"))
    assert shorter == ids[:1]
    assert [m["content"] for m in emulator.messages("general")] == ["now short"]
    longer = await adapter.destination.edit(ref(emulator), shorter, out("y" * 2500))
    assert longer[0] == ids[0] and len(longer) == 2
    assert sum(len(m["content"]) for m in emulator.messages("general")) == 2500


async def test_edit_delete_and_reply(adapter: DiscordAdapter, emulator: DiscordEmulator) -> None:
    [original] = await adapter.destination.send(ref(emulator), out("the original message"))
    assert await adapter.destination.edit(ref(emulator), [original], out("the edited message")) == [original]
    assert emulator.messages("general")[0]["content"] == "the edited message"
    assert emulator.messages("general")[0]["edited_timestamp"]

    [reply] = await adapter.destination.send(
        ref(emulator), OutboundMessage("3-0", "cricket", "I agree", "Simon (Slack)", reply_to=[original])
    )
    content = emulator.messages("general")[-1]["content"]
    first_line, rest = content.split("\n", 1)
    assert first_line.startswith("> ↪ replying to Wasim (Slack): the edited message")
    jump = f"https://discord.com/channels/{emulator.guild_id}/{emulator.channel('general').id}/{original}"
    assert jump in first_line and rest == "I agree"

    await adapter.destination.delete(ref(emulator), [original, reply])
    assert emulator.messages("general") == []
    await adapter.destination.delete(ref(emulator), [original])  # idempotent
    [orphan] = await adapter.destination.send(
        ref(emulator), OutboundMessage("4-0", "cricket", "late reply", "Simon", reply_to=[original])
    )
    assert "(deleted message)" in emulator.messages("general")[-1]["content"]
    assert orphan


async def test_429_is_waited_out(adapter: DiscordAdapter, emulator: DiscordEmulator) -> None:
    await adapter.destination.send(ref(emulator), out("warm up"))
    emulator.rate_limit("POST", HOOK_POST, retry_after=0.2, times=1)
    [message_id] = await adapter.destination.send(ref(emulator), out("after the limit"))
    assert statuses(emulator, "POST", HOOK_POST) == [200, 429, 200]
    assert emulator.messages("general")[-1]["id"] == message_id


async def test_persistent_429_becomes_a_retryable_delivery_error(
    adapter: DiscordAdapter, emulator: DiscordEmulator
) -> None:
    await adapter.destination.send(ref(emulator), out("warm up"))
    emulator.rate_limit("POST", HOOK_POST, retry_after=0.05, times=5)
    with pytest.raises(DeliveryError) as info:
        await adapter.destination.send(ref(emulator), out("never"))
    assert info.value.retry_after == pytest.approx(0.05) and not info.value.permanent
    assert [m["content"] for m in emulator.messages("general")] == ["warm up"]


async def test_permanent_errors(adapter: DiscordAdapter, emulator: DiscordEmulator) -> None:
    missing = ChannelRef("discord", emulator.guild_id, "123456789012345678")
    with pytest.raises(DeliveryError) as info:
        await adapter.destination.send(missing, out("nowhere to go"))
    assert info.value.permanent and "10003" in str(info.value)
    with pytest.raises(DeliveryError) as info:
        await adapter.destination.edit(ref(emulator), ["123456789012345678"], out("gone"))
    assert info.value.permanent


async def test_direct_messages(adapter: DiscordAdapter, emulator: DiscordEmulator) -> None:
    alice = PlatformUser("discord", emulator.guild_id, emulator.user("alice").id, "Alice")
    await adapter.destination.direct_message(alice, "New in **#cricket**: @everyone look")
    [dm] = emulator.dm_messages("alice")
    assert dm["content"] == "New in **#cricket**: @\u200beveryone look"
    nobody = PlatformUser("discord", emulator.guild_id, "123456789012345678", "Nobody")
    with pytest.raises(DeliveryError) as info:
        await adapter.destination.direct_message(nobody, "hi")
    assert info.value.permanent


async def test_metrics_count_deliveries_and_429s(adapter: DiscordAdapter, emulator: DiscordEmulator) -> None:
    ids = await adapter.destination.send(ref(emulator), out("x" * 2500))
    await adapter.destination.delete(ref(emulator), ids)
    emulator.rate_limit("POST", HOOK_POST, retry_after=0.01, times=5)
    with pytest.raises(DeliveryError):
        await adapter.destination.send(ref(emulator), out("limited"))
    metrics = adapter.metrics()
    assert metrics["connected"] is True and metrics["guilds"] == 1
    assert metrics["outbound"] == {"sent": 2, "deleted": 2, "rate_limited": 1}


async def test_a_growing_edit_that_fails_half_way_leaves_no_extra_part(
    adapter: DiscordAdapter, emulator: DiscordEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit that grows 1 part into 3 posts part 2, then part 3 keeps failing (short 429s that
    discord.py gives up on): part 2 is kept for the worker's retry, which posts only part 3 — no
    duplicate and no untracked part behind; a failure that is not a 429 removes part 2 again."""
    [first] = await adapter.destination.send(ref(emulator), out("short"))
    limit_the_nth_post(emulator, monkeypatch, 2, retry_after=0.05, times=5)
    with pytest.raises(DeliveryError) as info:
        await adapter.destination.edit(ref(emulator), [first], out("z" * 5000))
    assert info.value.retry_after is not None
    assert len(emulator.messages("general")) == 2
    ids = await adapter.destination.edit(ref(emulator), [first], out("z" * 5000))
    assert [m["id"] for m in emulator.messages("general")] == ids and len(ids) == 3
    assert "".join(m["content"] for m in emulator.messages("general")) == "z" * 5000

    ids = await adapter.destination.edit(ref(emulator), ids, out("short"))  # back to one part
    real_post, calls = adapter.destination._post, 0

    async def cut_off(*args: Any, **kwargs: Any) -> str:  # the network goes at the second new part
        nonlocal calls
        calls += 1
        if calls == 2:
            raise aiohttp.ClientConnectionError("connection reset")
        return str(await real_post(*args, **kwargs))

    monkeypatch.setattr(adapter.destination, "_post", cut_off)
    with pytest.raises(DeliveryError) as failed:
        await adapter.destination.edit(ref(emulator), ids, out("y" * 5000))
    assert failed.value.retry_after is None
    assert [m["id"] for m in emulator.messages("general")] == [first]
