"""Mirroring worker figures: cost per message vs. linked rooms, backlog drain, sustained rate, latency.

Runs its own redis-server + RediSearch (AOF everysec, never the machine's 6379) and an in-process
recording destination (no platform, no emulator: this measures the worker and Redis). Producers
that need a steady rate run in a separate process (``--producer``) so they do not share the
worker's event loop. Prints medians and ratios to a same-run baseline (``redis-benchmark`` XADD
and raw XADD round trips from redis-py).

``python -m bench.mirror [--quick]``; a full run takes about two minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, OutboundMessage, Platform, PlatformUser
from bridge.errors import DeliveryError
from bridge.mirror.worker import Worker
from bridge.store import keys
from bridge.store.connection import RedisClient, connect
from bridge.store.embedded import EmbeddedRedis


class CountingDestination:
    """Counts sends and, for texts ``t=<unix time>``, the latency from the post to this call."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.sends = 0
        self.latencies: list[float] = []
        self._n = 0

    async def send(self, channel: ChannelRef, message: OutboundMessage) -> list[str]:
        now = time.time()
        self.sends += 1
        if message.text.startswith("t="):
            self.latencies.append(now - float(message.text[2:].split()[0]))
        self._n += 1
        return [str(self._n)]

    async def edit(self, channel: ChannelRef, ids: list[str], message: OutboundMessage) -> list[str]:
        return ids

    async def delete(self, channel: ChannelRef, ids: list[str]) -> None:
        return None

    async def direct_message(self, user: PlatformUser, text: str) -> None:
        raise DeliveryError("no DMs in the bench", permanent=True)


def destinations() -> tuple[dict[str, Any], list[CountingDestination]]:
    d, s = CountingDestination("discord"), CountingDestination("slack")
    return {"discord": d, "slack": s}, [d, s]


async def commandstats(redis: RedisClient) -> int:
    info: dict[str, Any] = await redis.info("commandstats")
    return sum(int(v["calls"]) for v in info.values() if isinstance(v, dict))


async def make_rooms(redis: RedisClient, chat: Chat, rooms: int) -> list[str]:
    """``rooms`` core channels, each linked to one Discord and one Slack channel (written in
    pipelines with the same keys ``Channels.link`` writes, so 10,000 rooms take a second)."""
    names = [f"room{i}" for i in range(rooms)]
    for start in range(0, rooms, 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for name in names[start : start + 1000]:
                pipe.sadd(keys.CHANNELS, name)
                for ref in (ChannelRef("discord", "g", name), ChannelRef("slack", "T", name)):
                    pipe.set(keys.route(ref.key()), name)
                    pipe.sadd(keys.room_links(name), ref.key())
                pipe.sadd(keys.LINKED_CHANNELS, name)
            await pipe.execute()
    return names


async def fresh(url: str, rooms: int) -> tuple[RedisClient, Chat, list[str]]:
    redis = connect(url)
    await redis.flushall()
    chat = await Chat.open(redis)
    await chat.users.register("ada", {"firstname": "Ada"})
    return redis, chat, await make_rooms(redis, chat, rooms)


async def post_spread(chat: Chat, rooms: list[str], count: int, concurrency: int = 16) -> None:
    async def one(i: int) -> None:
        await chat.messages.post(rooms[(i * 7919) % len(rooms)], "ada", f"message {i} about the match")

    for start in range(0, count, concurrency):
        await asyncio.gather(*(one(i) for i in range(start, min(count, start + concurrency))))


# --- figures ------------------------------------------------------------------------------------
async def redis_cpu(redis: RedisClient) -> float:
    info: dict[str, Any] = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def cost_per_message(url: str, rooms: int, messages: int, active: int | None) -> dict[str, float]:
    """Drain ``messages`` messages posted to ``active`` rooms (None = spread over every room) with
    ``rooms`` rooms linked; returns wall, worker CPU and Redis CPU µs, and Redis commands, per message."""
    redis, chat, names = await fresh(url, rooms)
    await post_spread(chat, names[:active] if active else names, messages)
    dests, _ = destinations()
    worker = Worker(chat=chat, redis_url=url, destinations=dests)
    cmds0, rcpu0 = await commandstats(redis), await redis_cpu(redis)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    await worker.drain(120)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    rcpu = await redis_cpu(redis) - rcpu0
    cmds = await commandstats(redis) - cmds0 - 2  # the two INFO calls
    assert worker.metrics()["delivered"] == 2 * messages, worker.metrics()
    await redis.aclose()
    per = 1e6 / messages
    return {"wall": wall * per, "cpu": cpu * per, "redis": rcpu * per, "cmds": cmds / messages}


async def cost_table(url: str, messages: int, reps: int) -> None:
    cases = [(10, 10), (1000, 10), (10_000, 10), (1000, None), (10_000, None)]
    runs: dict[tuple[int, int | None], list[dict[str, float]]] = {case: [] for case in cases}
    for _ in range(reps):  # interleaved, so load from other processes hits every case alike
        for rooms, active in cases:
            runs[(rooms, active)].append(await cost_per_message(url, rooms, messages, active))
    print(f"\nworker cost per message ({messages:,} messages, each to 2 destinations; median of {reps}):")
    print(
        f"{'linked rooms':>13} {'traffic':>22} {'wall µs':>8} {'worker CPU µs':>14} {'redis CPU µs':>13}"
        f" {'cmds':>6} {'wall × XADD':>12}"
    )
    base = None
    for rooms, active in cases:
        med = {k: statistics.median(r[k] for r in runs[(rooms, active)]) for k in runs[(rooms, active)][0]}
        base = base or med
        traffic = f"{active} active rooms" if active else "spread over all rooms"
        print(
            f"{rooms:>13,} {traffic:>22} {med['wall']:>8.0f} {med['cpu']:>14.0f} {med['redis']:>13.0f}"
            f" {med['cmds']:>6.1f} {med['wall'] / RAW_US[0]:>12.1f}"
        )
    print(
        "  'active rooms': the same traffic with more rooms linked (what the number of rooms alone costs);\n"
        "  'spread': every message to another room, so each one starts its destinations' lanes (worst case)."
    )


RAW_US = [1.0]


async def drain_backlog(url: str, messages: int) -> float:
    redis, chat, names = await fresh(url, 10)
    await post_spread(chat, names, messages)
    dests, counters = destinations()
    started = time.perf_counter()
    await Worker(chat=chat, redis_url=url, destinations=dests).drain(300)
    elapsed = time.perf_counter() - started
    assert sum(c.sends for c in counters) == 2 * messages
    await redis.aclose()
    return messages / elapsed


def producer_cmd(url: str, rate: float, seconds: float, rooms: int) -> list[str]:
    return [sys.executable, "-m", "bench.mirror", "--producer", url, str(rate), str(seconds), str(rooms)]


async def steady(url: str, rate: float, seconds: float, rooms: int = 10) -> dict[str, float]:
    """A producer process posts ``t=<time>`` messages at ``rate``/s while the worker runs; returns
    the achieved post rate, delivered messages/s, the backlog left at the end, and latencies."""
    redis, chat, _ = await fresh(url, rooms)
    dests, counters = destinations()
    worker = Worker(chat=chat, redis_url=url, destinations=dests, block_ms=100, metrics_interval_s=3600)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    proc = await asyncio.create_subprocess_exec(*producer_cmd(url, rate, seconds, rooms), stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    posted = int(out.decode().split()[0])
    at_end = sum(c.sends for c in counters) / 2
    stop.set()
    await task
    await redis.aclose()
    lat = sorted(x for c in counters for x in c.latencies)
    return {
        "posted_per_s": posted / seconds,
        "delivered_per_s": at_end / seconds,
        "behind": posted - at_end,
        "p50_ms": lat[len(lat) // 2] * 1000 if lat else float("nan"),
        "p99_ms": lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan"),
    }


async def produce(url: str, rate: float, seconds: float, rooms: int) -> int:
    redis = connect(url)
    chat = await Chat.open(redis)
    names = [f"room{i}" for i in range(rooms)]
    loop = asyncio.get_running_loop()
    start, sent = loop.time(), 0
    while loop.time() - start < seconds:
        due = int((loop.time() - start) * rate) + 1
        while sent < due:
            await chat.messages.post(names[sent % rooms], "ada", f"t={time.time():.6f}")
            sent += 1
        await asyncio.sleep(max(0.0, start + sent / rate - loop.time()))  # pacing the producer
    await redis.aclose()
    return sent


async def read_strategies(url: str) -> None:
    """Why a partitioned log: one non-blocking read over every room stream (what a worker reading the
    room streams themselves would do per wake-up) against one XREADGROUP over the 8 log partitions."""
    redis = connect(url)
    await redis.flushall()
    rows = []
    for n in (10, 1000, 10_000):
        names = [f"bench:{n}:room:{i}" for i in range(n)]
        async with redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.xadd(name, {"f": "v"}, id="1-1")
            await pipe.execute()
        streams = dict.fromkeys(names, "1-1")  # nothing newer: the read answers at once, empty
        samples = []
        for _ in range(15):
            started = time.perf_counter()
            await redis.xread(streams, count=1)
            samples.append(time.perf_counter() - started)
        rows.append((n, statistics.median(samples) * 1e6))
    logs = {keys.mirror_log(p): ">" for p in range(8)}
    for log_key in logs:
        await redis.xgroup_create(log_key, keys.MIRROR_GROUP, id="0", mkstream=True)
    samples = []
    for _ in range(15):
        started = time.perf_counter()
        await redis.xreadgroup(keys.MIRROR_GROUP, "bench", logs, count=1)
        samples.append(time.perf_counter() - started)
    part = statistics.median(samples) * 1e6
    await redis.flushall()
    await redis.aclose()
    cells = ", ".join(f"{n:,} rooms {us:,.0f} µs" for n, us in rows)
    print(f"one read over every room stream: {cells}; over the 8 log partitions: {part:,.0f} µs")


async def emulator_latency(url: str, rate: float, count: int) -> dict[str, tuple[float, float]]:
    """Emulator in -> emulator out, both ways, in one process: a person speaks on the Discord (Slack)
    emulator; discord.py (slack-bolt) ingests it into the core; the worker posts it through the
    Slack (Discord) adapter to the other emulator. Arrival is seen by polling the emulator every ms."""
    from bridge.app import Running, start_discord, start_slack
    from bridge.config import Config
    from bridge.runtime import Runtime

    redis = connect(url)
    await redis.flushall()
    chat = await Chat.open(redis)
    running = Running()
    await start_discord(Runtime(url, redis, chat, None), Config(), running, sandbox=True)
    await start_slack(Runtime(url, redis, chat, None), Config(), running, sandbox=True)
    discord, slack = running.emulators["discord"], running.emulators["slack"]
    stop = asyncio.Event()
    task = asyncio.create_task(Worker(chat=chat, redis_url=url, destinations=running.destinations).run(stop))
    out: dict[str, tuple[float, float]] = {}
    try:
        for direction in ("discord -> slack", "slack -> discord"):
            if direction.startswith("discord"):

                async def say(text: str) -> None:
                    await discord.say("alice", "general", text)

                def seen() -> list[str]:
                    return [m.text for m in slack.history("general")]
            else:

                async def say(text: str) -> None:
                    slack.user_says(user="bob", channel="general", text=text)

                def seen() -> list[str]:
                    return [m["content"] for m in discord.messages("general")]

            tag = direction.split()[0]
            sent, arrived = await _timed_messages(say, seen, tag, rate, count)
            lat = sorted((arrived[k] - sent[k]) * 1000 for k in sent)
            out[direction] = (lat[len(lat) // 2], lat[int(len(lat) * 0.99)])
    finally:
        stop.set()
        await task
        for close in running.closers:
            await close()
        await redis.aclose()
    return out


async def _timed_messages(
    say: Any, seen: Any, tag: str, rate: float, count: int
) -> tuple[dict[str, float], dict[str, float]]:
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}

    async def watch() -> None:
        while len(arrived) < count:
            now = time.perf_counter()
            for text in seen():
                if text.startswith(tag) and text not in arrived:
                    arrived[text] = now
            await asyncio.sleep(0.001)  # polling the emulator's state: the arrival-time resolution

    watcher = asyncio.create_task(watch())
    start = time.perf_counter()
    for i in range(count):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))  # pacing the sender
        sent[f"{tag} {i}"] = time.perf_counter()
        await say(f"{tag} {i}")
    await asyncio.wait_for(watcher, 60)
    return sent, arrived


# --- baseline -----------------------------------------------------------------------------------
def redis_benchmark_xadd(port: int) -> float:
    tool = shutil.which("redis-benchmark")
    if tool is None:
        return float("nan")
    out = subprocess.run(
        [tool, "-p", str(port), "-n", "100000", "-c", "1", "-q", "XADD", "bench:x", "*", "f", "v"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out.split(":")[-1].split("requests")[0].strip())


async def raw_xadd_us(url: str, n: int = 5000) -> float:
    redis = connect(url)
    started = time.perf_counter()
    for i in range(n):
        await redis.xadd("bench:raw", {"n": str(i)})
    elapsed = time.perf_counter() - started
    await redis.delete("bench:raw", "bench:x")
    await redis.aclose()
    return elapsed / n * 1e6


async def main(quick: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="cb-bench-mirror-") as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp), appendonly=True, appendfsync="everysec")
        url = server.start()
        try:
            await report(url, server.port, quick)
        finally:
            server.stop()


async def report(url: str, port: int, quick: bool) -> None:
    msgs, reps = (500, 1) if quick else (1000, 3)
    bench_rps = redis_benchmark_xadd(port)
    raw_us = await raw_xadd_us(url)
    print(f"baseline: redis-benchmark XADD -c 1: {bench_rps:,.0f} req/s; redis-py XADD round trip: {raw_us:.0f} µs")
    RAW_US[0] = raw_us
    await read_strategies(url)
    await cost_table(url, msgs, reps)

    backlog = 2000 if quick else 10_000
    rate = await drain_backlog(url, backlog)
    print(f"\ndrain a {backlog:,}-message backlog (10 rooms, 2 destinations each): {rate:,.0f} messages/s")
    print(f"  ({2 * rate:,.0f} deliveries/s; redis-benchmark XADD is {bench_rps / rate:.0f}× that message rate)")

    seconds = 3.0 if quick else 5.0
    print(f"\nsustained (producer process at a fixed rate for {seconds:.0f} s, 10 rooms × 2 destinations):")
    print(f"{'target/s':>10} {'posted/s':>10} {'delivered/s':>12} {'behind':>8} {'p50 ms':>8} {'p99 ms':>8}")
    best, producer_bound = 0.0, False
    for target in (250, 500, 1000, 2000, 3000) if not quick else (250, 1000):
        s = await steady(url, target, seconds)
        kept_up = s["behind"] <= max(20, s["posted_per_s"] * 0.05) and s["p99_ms"] < 1000
        best = max(best, s["delivered_per_s"]) if kept_up else best
        note = "" if kept_up else "  (fell behind)"
        if kept_up and s["posted_per_s"] < 0.95 * target:
            note, producer_bound = "  (producer-bound)", True
        print(
            f"{target:>10} {s['posted_per_s']:>10.0f} {s['delivered_per_s']:>12.0f} {s['behind']:>8.0f}"
            f" {s['p50_ms']:>8.1f} {s['p99_ms']:>8.1f}{note}"
        )
    print(f"  most messages/s sustained with p99 < 1 s and no growing backlog: {best:,.0f}")
    if producer_bound:
        print("  (the producer process could post no faster on this machine: the worker kept up with all of it)")

    n = 60 if quick else 200
    emu = await emulator_latency(url, 20, n)
    print(f"\nemulator in -> emulator out at 20 msg/s, {n} messages each way (real discord.py and slack-bolt):")
    for direction, (p50, p99) in emu.items():
        print(f"  {direction}: p50 {p50:.1f} ms, p99 {p99:.1f} ms")

    lat = await steady(url, 100, 10.0 if not quick else 4.0)
    print(
        f"\nlatency core post -> destination call at 100 msg/s: p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms"
        f" (raw XADD round trip {raw_us / 1000:.2f} ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer messages and rounds")
    parser.add_argument("--producer", nargs=4, metavar=("URL", "RATE", "SECONDS", "ROOMS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.producer:
        url, rate, secs, rooms = args.producer
        print(asyncio.run(produce(url, float(rate), float(secs), int(rooms))))
    else:
        asyncio.run(main(args.quick))
