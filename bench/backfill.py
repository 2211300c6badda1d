"""``link --backfill``: posts/s of a backfill beside the bulk path, and end to end through each
platform's history API (the emulators on 127.0.0.1, the real slack_sdk / discord.py clients).

``python -m bench.backfill [--messages 5000] [--runs 3]``. One embedded redis-server + RediSearch
(AOF everysec) in a temp dir on a free port. Same run, same server, fresh channel each time:

- bulk path: ``Messages.post_many`` of N prepared posts (the baseline);
- core backfill: :func:`bridge.core.backfill.backfill` of the same N as platform history (authors
  resolved through the identity map, threads of a root + 9 replies, deduplicated by platform id);
- repeat: the same backfill again (every message known: the no-op path);
- Slack / Discord end to end: N messages in an emulator channel, read back by the adapter's history
  source (``conversations.history`` pages of 200 + ``conversations.replies``; Get Channel Messages
  pages of 100), converted as live events are, then recorded.

Medians of ``--runs``; the machine is shared, so read the ratios. The Slack emulator enforces
Slack's Tier 3 (50 calls a minute) on both methods, as Slack does: with a thread every 10 messages
the Slack figure is that limit (one ``conversations.replies`` call per thread), not the bridge.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bridge.app import Running, start_discord, start_slack
from bridge.config import Config
from bridge.core.backfill import backfill
from bridge.core.chat import Chat
from bridge.core.messages import BulkPost, PostOptions
from bridge.core.ports import ChannelRef, HistoryMessage, InboundEvent, PlatformUser
from bridge.runtime import Runtime
from bridge.store.connection import RedisClient, connect
from bridge.store.embedded import EmbeddedRedis

from .core import WORDS

AUTHORS = 20
T0 = 1_700_000_000_000


def history(ref: ChannelRef, n: int) -> list[HistoryMessage]:
    out = []
    for i in range(n):
        who = PlatformUser(ref.platform, ref.workspace, f"U{i % AUTHORS}", f"Person {i % AUTHORS}")
        text = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(8)) + f" #{i}"
        root = f"m{i - i % 10}" if i % 10 else None
        event = InboundEvent("message", ref, f"m{i}", f"k{i}", who, text, thread=root)
        out.append(HistoryMessage(event, T0 + i * 1000))
    return out


async def core_rates(chat: Chat, n: int, run: int) -> tuple[float, float, float]:
    bulk_channel, bf_channel = f"bulk{run}", f"backfill{run}"
    for name in (bulk_channel, bf_channel):
        await chat.channels.create(name)
    ref = ChannelRef("discord", "g1", f"c{run}")
    await chat.channels.link(bf_channel, ref)
    items = history(ref, n)
    names = [await chat.users.resolve(h.event.author) for h in items[:AUTHORS] if h.event.author]
    posts = [
        BulkPost(bulk_channel, names[i % AUTHORS], h.event.text, h.ts_ms, PostOptions(origin="cli"), mirror=False)
        for i, h in enumerate(items)
    ]
    t = time.perf_counter()
    await chat.messages.post_many(posts)
    bulk = n / (time.perf_counter() - t)
    t = time.perf_counter()
    result = await backfill(chat, ref, items)
    first = n / (time.perf_counter() - t)
    assert result.recorded == n, result.refused[:3]
    t = time.perf_counter()
    again = await backfill(chat, ref, items)
    repeat = n / (time.perf_counter() - t)
    assert again.duplicates == n
    return bulk, first, repeat


async def platform_rates(chat: Chat, url: str, n: int) -> dict[str, tuple[float, float, int]]:
    """platform -> (fetch messages/s, fetch + record messages/s, recorded)."""
    rt = Runtime(url, chat.ctx.redis, chat, None)
    running = Running()
    out: dict[str, tuple[float, float, int]] = {}
    try:
        await start_discord(rt, Config(), running, sandbox=True)
        await start_slack(rt, Config(), running, sandbox=True)
        slack, discord = running.emulators["slack"], running.emulators["discord"]
        ws = slack.workspace
        # the history is there before the bot joined the channel: no events for it (Slack sends
        # events only for channels the app is in), then the bot joins and reads it back
        cricket = ws.channel("cricket")
        cricket.members.discard(ws.bot_user_id)
        root: Any = None
        for i in range(n):  # 1 in 10 a thread parent, the nine after it its replies
            thread_ts = root.ts if i % 10 and root is not None else None
            msg = slack.user_says(user=("bob", "carol")[i % 2], channel="cricket", text=f"slack history {i}",
                                  thread_ts=thread_ts)  # fmt: skip
            root = msg if i % 10 == 0 else root
        cricket.members.add(ws.bot_user_id)
        for i in range(n):
            await discord.say(("bob", "carol")[i % 2], "random", f"discord history {i}")
        refs = {
            "slack": ChannelRef("slack", ws.team_id, ws.channel("cricket").id),
            "discord": ChannelRef("discord", discord.guild_id, discord.channel("random").id),
        }
        await _settle(running, n)
        for platform, ref in refs.items():
            name = f"{platform}-history"
            await chat.channels.create(name)
            await chat.channels.link(name, ref)
            source: Any = running.history[platform]
            count = n if platform == "discord" else n // 10  # Slack: N counts channel messages, replies on top
            t = time.perf_counter()
            got = (await source.latest(ref, count)).messages
            fetched = time.perf_counter() - t
            result = await backfill(chat, ref, got)
            total = time.perf_counter() - t
            out[platform] = (len(got) / fetched, len(got) / total, result.recorded)
    finally:
        for close in running.closers:
            await close()
    return out


async def _settle(running: Running, n: int) -> None:
    """Let the Discord adapter see (and ignore: the channel is not linked) the gateway events."""
    inbound = running.adapters["discord"].inbound  # type: ignore[attr-defined]
    async with asyncio.timeout(600):
        while inbound.handled < n:
            await asyncio.sleep(0.1)


async def main(n: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp) / "core", appendonly=True, appendfsync="everysec")
        server.start()
        redis: RedisClient = connect(server.url)
        try:
            chat = await Chat.open(redis)
            print(f"chatbridge backfill bench: {n:,} messages, {AUTHORS} authors, threads of 10 (a root + 9 replies), "
                  f"{chat.ctx.module.label}, AOF everysec, 127.0.0.1, median of {runs}")  # fmt: skip
            rows = [await core_rates(chat, n, run) for run in range(runs)]
            bulk, first, repeat = (statistics.median(r[k] for r in rows) for k in range(3))
            print(flush=True)
            print(f"bulk path (post_many.lua, 200 per call):     {bulk:9,.0f} posts/s")
            print(f"core backfill (identity map, threads, dedupe): {first:9,.0f} posts/s = {first / bulk:.2f} × bulk")
            print(f"core backfill repeated (all known, no-op):  {repeat:9,.0f} msgs/s = {repeat / bulk:.2f} × bulk")
            e2e = await platform_rates(chat, server.url, n)
            for platform, (fetch, total, recorded) in e2e.items():
                print(f"{platform} end to end via its emulator: fetch {fetch:8,.0f} msgs/s, fetch + record "
                      f"{total:8,.0f} msgs/s ({recorded:,} recorded) = {total / bulk:.2f} × bulk")  # fmt: skip
        finally:
            await redis.aclose()
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.runs))
