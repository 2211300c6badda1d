"""The worker's health(): running while its loop runs, down when stopped or when its periodic
backlog refresh has not come back for long (Redis too slow, or the loop stuck)."""

from __future__ import annotations

import asyncio
import time

from bridge.core.chat import Chat
from bridge.mirror.worker import Worker


async def test_worker_health_running_stalled_and_stopped(chat: Chat, redis_url: str) -> None:
    worker = Worker(chat=chat, redis_url=redis_url, destinations={}, metrics_interval_s=0.05)
    assert not worker.health().ok and worker.health().detail == "not started"
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(10):
            while worker.health().info.get("refreshed_at") is None:
                await asyncio.sleep(0.01)  # the worker's first refresh (its own loop, 50 ms)
        health = worker.health()
        assert health.ok and health.detail == "running" and health.info["backlog"] == 0
        # as if the worker had run for two minutes and its refresh had not come back since
        worker._state.since = worker._refreshed_at = time.time() - 120
        stalled = worker.health()
        assert not stalled.ok and stalled.detail.startswith("no backlog refresh for 1")
        async with asyncio.timeout(10):
            while not worker.health().ok:
                await asyncio.sleep(0.01)  # the next refresh heals it
        assert worker.health().detail == "running"
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert not worker.health().ok and worker.health().detail == "stopped"
