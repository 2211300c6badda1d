"""Redis away for 30 seconds while people talk on both platforms: nothing crashes, every message
sent during the outage is recorded once Redis is back and mirrored exactly once, in order; the
outage shows in the parts' health meanwhile. Real discord.py and slack-bolt against the emulators,
a real redis-server killed (SIGKILL) and restarted from its AOF on the same port."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TypeVar

import pytest
from generations import Generation
from waiting import until

from bridge.app import Running, start_discord, start_slack
from bridge.config import Config
from bridge.core.chat import Chat
from bridge.core.notify import Notification, Notifier
from bridge.mirror.worker import STALLED, Worker
from bridge.runtime import Runtime
from bridge.store.connection import blocking_client, connect

T = TypeVar("T")
OUTAGE_S = 30.0


@pytest.mark.timeout(180)
async def test_a_30_second_redis_outage_both_ways_loses_nothing(tmp_path: Path, generation: Generation) -> None:
    server = generation.server(tmp_path / "redis", appendfsync="always")
    url = await asyncio.to_thread(server.start)
    redis = connect(url)
    running = Running()
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    notes: list[Notification] = []
    blocking = blocking_client(url)

    async def deliver(note: Notification) -> None:
        notes.append(note)

    try:
        chat = await Chat.open(redis)
        rt = Runtime(url, redis, chat, None)
        await start_discord(rt, Config(), running, sandbox=True)
        await start_slack(rt, Config(), running, sandbox=True)
        discord, slack = running.emulators["discord"], running.emulators["slack"]
        worker = Worker(chat=chat, redis_url=url, destinations=running.destinations, backoff_base_s=0.05)
        await chat.users.register("watcher", {})
        await chat.subscriptions.add("watcher", "general")
        notifier = Notifier(redis, blocking, deliver, block_ms=200)
        tasks = [asyncio.create_task(worker.run(stop)), asyncio.create_task(notifier.run(stop))]

        def on_slack() -> list[str]:
            return [m.text for m in slack.history("general") if m.text.startswith("d")]

        def on_discord() -> list[str]:
            return [m["content"] for m in discord.messages("general") if m["content"].startswith("s")]

        await discord.say("alice", "general", "d-before")
        slack.user_says(user="bob", channel="general", text="s-before")
        await until(lambda: on_slack() == ["d-before"] and on_discord() == ["s-before"], timeout=20)

        await asyncio.to_thread(server.kill)
        began = time.monotonic()
        sent_d = [f"d-during-{i}" for i in range(5)]
        sent_s = [f"s-during-{i}" for i in range(5)]
        for d, s in zip(sent_d, sent_s, strict=True):
            await discord.say("alice", "general", d)
            slack.user_says(user="bob", channel="general", text=s)
        dholds, sholds = running.adapters["discord"].inbound.hold, running.adapters["slack"].rooms.hold
        # the outage lasts OUTAGE_S; meanwhile both adapters hold what was said, the parts say so
        await until(
            lambda: time.monotonic() - began >= OUTAGE_S and dholds.held == 5 and sholds.held >= 1,
            timeout=OUTAGE_S + 30,
        )
        # down, saying why: whichever of its two checks saw the outage first (a failed read of the
        # mirror log, or no backlog refresh for 30 s — on a loaded machine the second can come first)
        down = worker.health()
        assert not down.ok and ("mirror log" in down.detail or STALLED in down.detail), down
        dinfo, sinfo = running.adapters["discord"].health().info, running.adapters["slack"].health().info
        assert dinfo["held_for_redis"] == 5 and sinfo["held_for_redis"] >= 1
        assert not any(task.done() for task in tasks), "a long-running loop ended during the outage"

        await asyncio.to_thread(server.start)  # same port, the AOF is replayed
        await until(lambda: on_slack() == ["d-before", *sent_d] and on_discord() == ["s-before", *sent_s], timeout=60)
        await until(lambda: len(notes) == 12, timeout=30)
        assert sorted(n.text for n in notes) == sorted(["d-before", "s-before", *sent_d, *sent_s])
        await until(lambda: worker.health().ok and dholds.held == 0 and sholds.held == 0, timeout=30)
        assert not any(task.done() for task in tasks)
        stored = await redis.xrange("channel:general")
        texts = [(await redis.hget(f"message:{i}", "message")) for i, f in stored if f.get("type") == "message"]
        assert sorted(texts) == sorted(["d-before", "s-before", *sent_d, *sent_s])  # each recorded once
    finally:
        stop.set()
        for task in tasks:
            await asyncio.wait_for(task, 20)
        for close in running.closers:
            await close()
        await blocking.aclose()
        await redis.aclose()
        await asyncio.to_thread(server.stop)
