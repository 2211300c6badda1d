"""End to end on Discord alone: a room linked to two Discord channels, mirrored by the real worker
through the adapter's Destination; echoes of the bridge's own posts never come back."""

from __future__ import annotations

from bridge.adapters.discord import DiscordAdapter
from bridge.core.chat import Chat
from bridge.emulators.discord import DiscordEmulator
from bridge.mirror.worker import Worker


async def slash(emu: DiscordEmulator, channel: str, command: str, options: dict[str, str]) -> None:
    reply = await emu.wait_for_reply(await emu.slash("alice", channel, f"chat {command}", options))
    assert not reply["content"].startswith("⚠️"), reply["content"]


async def test_room_mirrored_between_two_discord_channels(
    adapter: DiscordAdapter, emulator: DiscordEmulator, chat: Chat, redis_url: str
) -> None:
    await slash(emulator, "general", "create", {"channel": "cricket"})
    await slash(emulator, "general", "link", {"channel": "cricket"})
    await slash(emulator, "random", "link", {"channel": "cricket"})
    worker = Worker(chat=chat, redis_url=redis_url, destinations={"discord": adapter.destination}, backoff_base_s=0.01)
    carol = emulator.user("carol").id

    first = await emulator.say("bob", "general", f"hello <@{carol}> and @everyone")
    await adapter.inbound.wait_handled(1)
    await worker.drain(10)
    [mirrored] = emulator.messages("random")
    assert mirrored["webhook_id"] and mirrored["author"]["username"] == "Bob B."
    assert mirrored["content"] == f"hello <@{carol}> and @\u200beveryone"
    ping = emulator.ping(mirrored["id"])
    assert ping.users == [carol] and not ping.everyone  # a linked person is reached, nobody else

    await emulator.say("carol", "general", "hi bob", reply_to=first["id"])
    await adapter.inbound.wait_handled(2)
    await worker.drain(10)
    reply_in_random = emulator.messages("random")[-1]
    header, body = reply_in_random["content"].split("\n")
    assert header.startswith("> ↪ replying to Bob B.: hello <@") and body == "hi bob"
    jump = f"/channels/{emulator.guild_id}/{emulator.channel('random').id}/{mirrored['id']}"
    assert jump in header  # points at the copy in this channel
    assert reply_in_random["author"]["username"] == "carol"

    await emulator.edit("general", first["id"], "hello again")
    await adapter.inbound.wait_handled(3)
    await worker.drain(10)
    assert emulator.messages("random")[0]["content"] == "hello again"

    await emulator.delete("general", first["id"])
    await adapter.inbound.wait_handled(4)
    await worker.drain(10)
    assert [m["content"].split("\n")[-1] for m in emulator.messages("random")] == ["hi bob"]
    assert not [m for m in emulator.messages("general") if m.get("webhook_id")]  # never back to the origin

    stream = await chat.ctx.redis.xrange("channel:cricket")
    assert [fields["type"] for _, fields in stream].count("message") == 2  # no echo was recorded
    assert adapter.inbound.handled == 4
