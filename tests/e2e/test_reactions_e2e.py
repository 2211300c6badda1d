"""Reactions end to end, both ways: the real discord.py and slack-bolt adapters against the emulators,
a real redis-server + RediSearch and the fan-out worker (issue 11). Nothing is mocked."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from test_mirror_e2e import Bridge, bridge
from waiting import until

from bridge.app import Running, start_discord, start_slack
from bridge.config import Config
from bridge.core.chat import Chat
from bridge.core.ports import Invocation
from bridge.mirror.worker import Worker
from bridge.runtime import Runtime

__all__ = ["bridge"]  # the fixture, shared with test_mirror_e2e


@dataclass
class RestartableBridge(Bridge):
    redis_url: str = ""
    task: asyncio.Task[None] | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def start_worker(self) -> None:
        self.stop = asyncio.Event()
        worker = Worker(
            chat=self.chat, redis_url=self.redis_url, destinations=self.running.destinations, backoff_base_s=0.05
        )
        self.task = asyncio.create_task(worker.run(self.stop))

    async def stop_worker(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 15)
            self.task = None


@asynccontextmanager
async def running_bridge(chat: Chat, redis_url: str) -> AsyncIterator[RestartableBridge]:
    rt = Runtime(redis_url, chat.ctx.redis, chat, None)
    running = Running()
    cfg = Config()
    b: RestartableBridge | None = None
    try:
        await start_discord(rt, cfg, running, sandbox=True)
        await start_slack(rt, cfg, running, sandbox=True)
        b = RestartableBridge(chat, running, running.emulators["discord"], running.emulators["slack"], redis_url)
        b.start_worker()
        yield b
    finally:
        if b is not None:
            await b.stop_worker()
        for close in running.closers:
            await close()


def slack_reactions(b: Bridge, channel: str, ts: str) -> list[tuple[str, list[str]]]:
    msg = b.slack.find_message(b.slack.workspace.channel(channel).id, ts)
    return [(r["name"], sorted(r["users"])) for r in (msg.reactions if msg else [])]


def discord_reactions(b: Bridge, message_id: str) -> list[tuple[str, list[str]]]:
    return [(r["emoji"], sorted(r["users"])) for r in b.discord.reactions_of(message_id)]


async def discord_to_slack(b: Bridge, text: str) -> tuple[dict[str, Any], Any]:
    original = await b.discord.say("alice", "general", text)
    copy = await until(lambda: next((m for m in b.slack.history("general") if text in m.text), None))
    return original, copy


async def slack_to_discord(b: Bridge, text: str, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    original = b.slack.user_says(user="bob", channel="general", text=text, **kwargs)
    copy = await until(lambda: next((m for m in b.discord.messages("general") if text in m["content"]), None))
    return original, copy


async def test_discord_reaction_add_and_remove_reach_slack(bridge: Bridge) -> None:
    original, copy = await discord_to_slack(bridge, "react on discord")
    bot = bridge.slack.workspace.bot_user_id
    await bridge.discord.react("bob", "general", original["id"], "👍")
    await until(lambda: slack_reactions(bridge, "general", copy.ts) == [("+1", [bot])])
    await bridge.discord.react("bob", "general", original["id"], "👍", remove=True)
    await until(lambda: slack_reactions(bridge, "general", copy.ts) == [])
    # the bot's own reactions never come back as someone's: the Discord original has only bob's, then none
    assert discord_reactions(bridge, original["id"]) == []


async def test_slack_reaction_with_skin_tone_reaches_discord(bridge: Bridge) -> None:
    original, copy = await slack_to_discord(bridge, "react on slack")
    bot = bridge.discord.bot_user_id
    bridge.slack.user_reacts(user="carol", channel="general", ts=original.ts, name="wave::skin-tone-3")
    await until(lambda: discord_reactions(bridge, copy["id"]) == [("👋🏼", [bot])])
    bridge.slack.user_reacts(user="carol", channel="general", ts=original.ts, name="wave::skin-tone-3", remove=True)
    await until(lambda: discord_reactions(bridge, copy["id"]) == [])
    assert slack_reactions(bridge, "general", original.ts) == []


async def test_two_people_same_emoji_removed_with_the_last(bridge: Bridge) -> None:
    original, copy = await discord_to_slack(bridge, "two people")
    bot = bridge.slack.workspace.bot_user_id
    await bridge.discord.react("alice", "general", original["id"], "🎉")
    await bridge.discord.react("bob", "general", original["id"], "🎉")
    bridge.slack.user_reacts(user="carol", channel="general", ts=copy.ts, name="tada")
    await until(lambda: slack_reactions(bridge, "general", copy.ts) == [("tada", sorted([bot, "U0CAROL001"]))])
    discord_bot = bridge.discord.bot_user_id
    await until(lambda: discord_bot in dict(discord_reactions(bridge, original["id"])).get("🎉", []))
    core_id = await bridge.chat.reactions.core_id_of(bridge.dref("general"), original["id"])
    assert core_id is not None
    reply = await bridge.chat.commands.execute(Invocation("cli"), f"reactions {core_id}")
    [entry] = reply.data["reactions"]
    assert entry["emoji"] == "🎉" and entry["count"] == 3
    assert len(entry["by"]["discord"]) == 2 and len(entry["by"]["slack"]) == 1
    await bridge.discord.react("alice", "general", original["id"], "🎉", remove=True)
    await bridge.discord.react("bob", "general", original["id"], "🎉", remove=True)
    # carol on Slack still reacts: the Discord original keeps the bot's mirror of hers, Slack loses the bot's
    await until(lambda: slack_reactions(bridge, "general", copy.ts) == [("tada", ["U0CAROL001"])])
    assert discord_reactions(bridge, original["id"]) == [("🎉", [discord_bot])]
    bridge.slack.user_reacts(user="carol", channel="general", ts=copy.ts, name="tada", remove=True)
    await until(lambda: discord_reactions(bridge, original["id"]) == [])


async def test_custom_emoji_both_ways(bridge: Bridge, caplog: pytest.LogCaptureFixture) -> None:
    original, copy = await discord_to_slack(bridge, "custom emoji")
    bot = bridge.slack.workspace.bot_user_id
    await bridge.discord.react("bob", "general", original["id"], "blobwave")  # the workspace has one too
    await until(lambda: slack_reactions(bridge, "general", copy.ts) == [("blobwave", [bot])])
    with caplog.at_level(logging.WARNING, logger="bridge.mirror.reaction_sync"):
        await bridge.discord.react("bob", "general", original["id"], "blobdance")  # Slack has none
        await until(lambda: any("blobdance" in r.getMessage() for r in caplog.records))
    assert [name for name, _ in slack_reactions(bridge, "general", copy.ts)] == ["blobwave"]
    # a Slack custom emoji the guild has (blobwave) is used on Discord; partyparrot has no match there
    s_original, d_copy = await slack_to_discord(bridge, "custom from slack")
    bridge.slack.user_reacts(user="carol", channel="general", ts=s_original.ts, name="blobwave")
    bridge.slack.user_reacts(user="carol", channel="general", ts=s_original.ts, name="partyparrot")
    blob = next(e for e in bridge.discord.reactions.emojis.values() if e.name == "blobwave")
    await until(
        lambda: discord_reactions(bridge, d_copy["id"]) == [(f"blobwave:{blob.id}", [bridge.discord.bot_user_id])]
    )


async def test_reaction_inside_a_thread(bridge: Bridge) -> None:
    """A Slack thread reply is mirrored into a Discord thread on the root's copy; reactions both ways
    on the reply follow it there."""
    root, d_root = await slack_to_discord(bridge, "thread root")
    reply = bridge.slack.user_says(user="bob", channel="general", text="in the thread", thread_ts=root.ts)
    thread = await until(lambda: bridge.discord.thread_of(d_root["id"]))
    d_reply = await until(lambda: next((m for m in thread.messages.values() if "in the thread" in m["content"]), None))
    bridge.slack.user_reacts(user="carol", channel="general", ts=reply.ts, name="eyes")
    await until(lambda: discord_reactions(bridge, d_reply["id"]) == [("👀", [bridge.discord.bot_user_id])])
    await bridge.discord.react("alice", thread.id, d_reply["id"], "✅")
    bot = bridge.slack.workspace.bot_user_id
    await until(lambda: ("white_check_mark", [bot]) in slack_reactions(bridge, "general", reply.ts))


async def test_reactions_before_the_link_and_on_unknown_copies_are_ignored(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    inbound = bridge.running.adapters["discord"].inbound  # type: ignore[attr-defined]
    seen = len(inbound.results)
    before = await bridge.discord.say("alice", "random", "before the link")
    await until(lambda: any(r.reason == "channel not linked" for r in inbound.results[seen:]))
    await bridge.chat.channels.link("general", bridge.dref("random"))
    with caplog.at_level(logging.DEBUG, logger="bridge.core.reactions"):
        await bridge.discord.react("bob", "random", before["id"], "👍")
        await until(lambda: any("ignored: unknown message" in r.getMessage() for r in caplog.records))
    assert all(not m.reactions for m in bridge.slack.history("general"))


async def test_removal_after_a_restart(chat: Chat, redis_url: str) -> None:
    """The bridge (adapters, emulators' links, worker) stops after a reaction crossed; a new one over
    the same Redis mirrors its removal: the state lives in Redis, not in the process."""
    async with running_bridge(chat, redis_url) as first:
        original, copy = await discord_to_slack(first, "survives a restart")
        await first.discord.react("bob", "general", original["id"], "🚀")
        bot = first.slack.workspace.bot_user_id
        await until(lambda: slack_reactions(first, "general", copy.ts) == [("rocket", [bot])])
        await first.stop_worker()
        # while no worker runs, the removal is recorded and waits in the mirror log
        await first.discord.react("bob", "general", original["id"], "🚀", remove=True)
        core_id = await chat.reactions.core_id_of(first.dref("general"), original["id"])
        assert core_id is not None
        async with asyncio.timeout(10):
            while await chat.reactions.of(core_id):
                await asyncio.sleep(0.02)
        assert slack_reactions(first, "general", copy.ts) == [("rocket", [bot])]
        first.start_worker()
        await until(lambda: slack_reactions(first, "general", copy.ts) == [])


async def test_bursts_are_paced_under_discords_reaction_limit(bridge: Bridge) -> None:
    """Five reactions at once on Slack: the Discord copy gets all five, and the bot never hits the
    emulator's one-reaction-per-0.25-s-per-channel limit (the adapter paces its calls)."""
    original, copy = await slack_to_discord(bridge, "a burst of reactions")
    names = ["+1", "tada", "eyes", "rocket", "fire"]
    for name in names:
        bridge.slack.user_reacts(user="carol", channel="general", ts=original.ts, name=name)
    await until(lambda: len(discord_reactions(bridge, copy["id"])) == 5, timeout=15)
    assert [e for e, _ in discord_reactions(bridge, copy["id"])] == ["👍", "🎉", "👀", "🚀", "🔥"]
    statuses = [r.status for r in bridge.discord.requests if "/reactions/" in r.path]
    assert statuses.count(204) == 5 and 429 not in statuses
