"""The whole bridge under the platforms' rate limits (real discord.py and slack_sdk against the
emulators, the worker): a long Discord 429 holds only its own room, which then catches up in order;
a backlog into one Slack channel drains at Slack's pace without a 429."""

from __future__ import annotations

import time

from both_sides import both_sides
from waiting import until

from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.emulators.discord import DiscordEmulator


async def test_a_long_discord_429_holds_only_its_room_which_then_catches_up_in_order(
    chat: Chat, redis_url: str
) -> None:
    async with both_sides(chat, redis_url) as b:
        discord = b.discord
        random = discord.channel("random")
        await b.chat.channels.create("random")
        await b.chat.channels.link("random", ChannelRef("discord", discord.guild_id, random.id))
        await b.chat.users.register("ada", {"firstname": "Ada"})
        await b.chat.messages.post("general", "ada", "warm up")
        await until(lambda: "warm up" in b.discord_texts("general"), what="the webhook in use")
        held = discord.rate_limit("POST", rf"/webhooks/{_hook_of(discord, 'general')}/[^/]+", retry_after=4.0)
        started = time.monotonic()
        for n in range(3):
            await b.chat.messages.post("general", "ada", f"held {n}")
        await b.chat.messages.post("random", "ada", "another room")
        await until(lambda: "another room" in b.discord_texts("random"), what="the other room's message")
        assert time.monotonic() - started < 3.5  # not behind the 4 s wait
        assert held.hits == 1 and not [t for t in b.discord_texts("general") if t.startswith("held")]
        lane = b.worker.stats[f"discord:{discord.guild_id}:{discord.channel('general').id}"]
        assert lane.rate_limited == 1 and lane.state == "throttled"
        await until(lambda: len([t for t in b.discord_texts("general") if t.startswith("held")]) == 3, timeout=15)
        assert time.monotonic() - started >= 4.0
        assert [t for t in b.discord_texts("general") if t.startswith("held")] == ["held 0", "held 1", "held 2"]
        assert await b.dead_letters() == 0
        assert [t for t in b.slack_texts("general") if t.startswith("held")] == ["held 0", "held 1", "held 2"]


async def test_a_backlog_into_one_slack_channel_drains_at_slacks_pace_without_429s(chat: Chat, redis_url: str) -> None:
    async with both_sides(chat, redis_url) as b:
        await b.chat.users.register("ada", {"firstname": "Ada"})
        texts = [f"backlog {n}" for n in range(8)]
        started = time.monotonic()
        for text in texts:
            await b.chat.messages.post("general", "ada", text)
        await until(lambda: [t for t in b.slack_texts("general") if t.startswith("backlog")] == texts, timeout=20)
        took = time.monotonic() - started
        assert b.slack.throttled == []  # paced: no 429 at all
        assert took >= 8 - 2 - 1  # 1 post/s after a burst of 2 (the pace is real here: 8 posts)
        assert await b.dead_letters() == 0


def _hook_of(emu: DiscordEmulator, channel: str) -> str:
    chan = emu.channel(channel)
    return next(h.id for h in emu.world.webhooks.values() if h.channel_id == chan.id)
