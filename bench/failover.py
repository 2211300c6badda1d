"""Failover time with Redis Sentinel: SIGKILL the primary while the core writes, time the first
write that succeeds afterwards (on the promoted replica), through the bridge's own client factory.

Baseline, same run: a single redis-server SIGKILLed and restarted at once on its port and AOF (what
a supervisor does without Sentinel), timed the same way. A primary, a replica and three sentinels on
127.0.0.1 (tests/sentinel_cluster.py, ``down-after-milliseconds`` 1000), never the machine's 6379.

``python -m bench.failover [--runs 3] [--generation 1.2|2.10]``; about 15 s per run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from generations import Generation, resolve_generation
from redis.exceptions import RedisError
from sentinel_cluster import DOWN_AFTER_MS, SentinelGroup

from bridge.core.chat import Chat
from bridge.store import replication
from bridge.store.connection import connect


async def _first_write_after(url: str, kill: Callable[[], float]) -> float:
    """Seconds from the SIGKILL (``kill()`` returns its monotonic time) to the first post that
    succeeds after it (posting in a loop)."""
    redis = connect(url, retries=0)
    try:
        chat = await Chat.open(redis)
        await chat.users.register("ada", {})
        await chat.channels.create("general")
        for i in range(20):
            await chat.messages.post("general", "ada", f"warm {i}")
        killed = await asyncio.to_thread(kill)
        while True:
            try:
                await chat.messages.post("general", "ada", "after")
                return time.monotonic() - killed
            except (RedisError, OSError):
                await asyncio.sleep(0.01)  # the next attempt of a writer that keeps trying
    finally:
        await redis.aclose()


async def wait_cost(url: str, calls: int = 300) -> tuple[float, float]:
    """(median µs of the mark + WAIT 1 an acknowledged event costs, median µs of a PING), same client."""
    redis = connect(url)
    try:
        waits, pings = [], []
        for _ in range(calls):
            started = time.perf_counter()
            await replication.replicated(redis, 1, 500)
            waits.append(time.perf_counter() - started)
            started = time.perf_counter()
            await redis.ping()
            pings.append(time.perf_counter() - started)
        return statistics.median(waits) * 1e6, statistics.median(pings) * 1e6
    finally:
        await redis.aclose()


async def sentinel_run(generation: Generation, root: Path) -> tuple[float, float, tuple[float, float]]:
    """(first write after the kill, sentinels naming the new primary after the kill) in seconds,
    and the WAIT cost measured before the kill."""
    group = SentinelGroup(generation, root)
    await asyncio.to_thread(group.start)
    promoted: list[float] = []
    try:
        cost = await wait_cost(group.url)
        old = group.primary_port()
        assert old is not None
        moment: list[float] = []

        def kill() -> float:
            moment.append(time.monotonic())
            group.kill_primary()
            return moment[0]

        async def watch() -> None:
            await asyncio.to_thread(group.wait_promoted, old)
            promoted.append(time.monotonic() - moment[0])

        write = asyncio.create_task(_first_write_after(group.url, kill))
        await asyncio.wait_for(asyncio.shield(_until(lambda: bool(moment))), 30)
        watcher = asyncio.create_task(watch())
        took = await asyncio.wait_for(write, 60)
        await asyncio.wait_for(watcher, 60)
        return took, promoted[0], cost
    finally:
        await asyncio.to_thread(group.stop)


async def restart_run(generation: Generation, root: Path) -> float:
    server = generation.server(root, appendfsync="always")
    await asyncio.to_thread(server.start)

    def kill_and_restart() -> float:
        killed = time.monotonic()
        server.kill()
        server.start()
        return killed

    try:
        return await _first_write_after(server.url, kill_and_restart)
    finally:
        await asyncio.to_thread(server.stop)


async def _until(probe: Callable[[], bool]) -> None:
    while not probe():
        await asyncio.sleep(0.01)  # bench pacing: polling a flag set by a worker thread


async def main(runs: int, generation_name: str) -> None:
    generation = resolve_generation(generation_name)
    failover, promotion, restart, waits, pings = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):  # interleaved, so both see the same machine load
            took, named, (wait_us, ping_us) = await sentinel_run(generation, Path(tmp) / f"group{i}")
            failover.append(took)
            promotion.append(named)
            waits.append(wait_us)
            pings.append(ping_us)
            restart.append(await restart_run(generation, Path(tmp) / f"single{i}"))
    med_f, med_p, med_r = (statistics.median(v) for v in (failover, promotion, restart))
    print(f"failover time, RediSearch {generation.name}, median of {runs} (same run):")
    print(f"  Sentinel (down-after-milliseconds {DOWN_AFTER_MS}): SIGKILL of the primary -> first write on")
    print(f"    the promoted replica  {med_f:6.2f} s   (runs: {', '.join(f'{v:.2f}' for v in failover)})")
    print(f"    sentinels name it     {med_p:6.2f} s   (their own view, polled every 50 ms)")
    print(f"  baseline, one redis-server SIGKILLed and restarted at once (AOF):  {med_r:6.2f} s")
    print(f"  Sentinel / restart: {med_f / med_r:.1f}x (but no process has to come back)")
    med_w, med_ping = statistics.median(waits), statistics.median(pings)
    print(f"redis.wait.replicas 1, per acknowledged event (INCR mark + WAIT, one round trip): {med_w:.0f} µs")
    print(f"  beside a PING on the same client: {med_ping:.0f} µs ({med_w / med_ping:.1f}x; replica on the same host)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--generation", choices=("1.2", "2.10"), default="1.2")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.generation))
