"""A community's whole history: load N messages (default 1,000,000) and print the figures of issue 15
beside same-run baselines, at each point of the curve (10k / 100k / 1M, up to ``--messages``).

``python -m bench.scale [--messages N] [--samples S] [--search 1.2|2.10]``. Everything runs on
127.0.0.1: three embedded servers with RediSearch (AOF everysec) in a temp dir, on free ports: one
holds chatbridge's data (with the settings chatbridge's own embedded server runs with,
``COMPACT_ARGS``), the other two the guide's bare write (XADD + HSET + index on ONE stream: the
guide's ``*`` ids collide across parallel channel streams and would overwrite message hashes, so one
stream is the fair baseline), one on Redis's default settings (the guide's own setup) and one on
chatbridge's, so the memory ratio is printed both ways. Baselines, same run: raw XADD from the same
client (50 in flight like the single-post path, and pipelined like the bulk path), ``redis-benchmark``
XADD, and the bare writes' memory.

History is said in time order, as live traffic is: the ``--messages`` span the last 365 days (one
every 31.5 s at 1M, with jitter), so the curve's smaller points are the same busy community's first
days and weeks, and every search runs just after the newest message. (Messages recorded out of time
order — a backfill, an import — cost a backdated entry each, ``keys.backdated``; those are measured
by ``bench.backfill``, not here: loading a year at random times made nearly every message one.)
Loading 1M on a shared 2-core machine takes minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bridge.core.chat import Chat
from bridge.core.finder import Finder
from bridge.core.messages import BulkPost
from bridge.store import keys
from bridge.store.connection import RedisClient, connect
from bridge.store.embedded import COMPACT_ARGS
from bridge.store.missing_ts import MissingTs

from .core import WORDS, bench_server
from .core import timed as timed_us

USERS = 200
CHANNELS = 20
IN_FLIGHT = 50
BATCH = 200
YEAR_MS = 365 * 86400 * 1000
CURVE = (10_000, 100_000, 1_000_000)
ROUNDS = 5
"""Alternating raw XADD / single-post rounds at each point of the curve (the median ratio is printed;
``--rounds`` for more: a round of 1,000 takes ~60 ms, so one hiccup of a shared machine moves it)."""


class History:
    """Deterministic messages (mean ~62 characters; 'match' is in about a quarter of them)."""

    def __init__(self, total: int, end_ms: int) -> None:
        self.rng = random.Random(15)
        self.total = total
        self.start_ms = end_ms - YEAR_MS
        self.step_ms = YEAR_MS / max(1, total)
        self.last_ms = self.start_ms
        """When the newest message so far was said (the searches run right after it)."""
        self.i = 0

    def next(self) -> BulkPost:
        i, self.i = self.i, self.i + 1
        text = " ".join(self.rng.choice(WORDS) for _ in range(self.rng.randint(5, 14)))
        # in time order, each message at a random moment of its own slot: `total` fill the year
        self.last_ms = int(self.start_ms + (i + self.rng.random()) * self.step_ms)
        return BulkPost(f"chan{i % CHANNELS}", f"user{self.rng.randrange(USERS)}", text, self.last_ms)


async def timed(fn: Callable[[], Awaitable[object]], n: int) -> list[float]:
    """Milliseconds of ``n`` sequential calls (bench.core times in µs)."""
    return [us / 1000 for us in await timed_us(fn, n)]


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))]


async def rate(fn: Callable[[int], Awaitable[object]], total: int, in_flight: int) -> float:
    """Operations per second running ``fn(i)`` ``total`` times, ``in_flight`` at a time."""
    t = time.perf_counter()
    for start in range(0, total, in_flight):
        await asyncio.gather(*(fn(i) for i in range(start, min(total, start + in_flight))))
    return total / (time.perf_counter() - t)


async def pipelined_xadd(redis: RedisClient, stream: str, total: int) -> float:
    t = time.perf_counter()
    for start in range(0, total, BATCH):
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(min(BATCH, total - start)):
                pipe.xadd(stream, {"type": "message"})
            await pipe.execute()
    return total / (time.perf_counter() - t)


def redis_benchmark(port: int) -> str:
    tool = shutil.which("redis-benchmark")
    if tool is None:
        return "redis-benchmark not installed (Debian: apt-get install redis-tools)"
    out = subprocess.run(
        [tool, "-h", "127.0.0.1", "-p", str(port), "-n", "100000", "-c", str(IN_FLIGHT), "-q",
         "XADD", "bench:rb", "*", "type", "message"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr.strip()


async def used_memory(redis: RedisClient) -> int:
    info: dict[str, Any] = await redis.info("memory")
    return int(info["used_memory"])


async def bare_load(redis: RedisClient, posts: list[BulkPost], explicit: bool = True) -> None:
    """The guide's write, on one stream: XADD * type message, HSET message:<id>, and on RediSearch
    1.x FT.ADDHASH (2.x indexes the hash by its prefix)."""
    for start in range(0, len(posts), BATCH):
        chunk = posts[start : start + BATCH]
        async with redis.pipeline(transaction=False) as pipe:
            for _ in chunk:
                pipe.xadd("channel:all", {"type": "message"})
            ids = await pipe.execute()
        async with redis.pipeline(transaction=False) as pipe:
            for mid, p in zip(ids, chunk, strict=True):
                pipe.hset(f"message:{mid}", mapping={"channel": p.channel, "username": p.username, "message": p.text})
                if explicit:
                    pipe.execute_command("FT.ADDHASH", "idx:messages", f"message:{mid}", "1.0")
            await pipe.execute()


_FAMILY = re.compile(r"^((?:cb:[a-z-]+:)|(?:[a-z]+:))")


def family(key: str) -> str:
    m = _FAMILY.match(key)
    if not m:
        return key
    return m.group(1) + "*"


async def breakdown(redis: RedisClient, messages: int, sample: int = 300) -> list[str]:
    """Bytes per message by key family (MEMORY USAGE over a sample of each family × its key count),
    then the index's own sizes from FT.INFO."""
    fams: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    async for key in redis.scan_iter(count=5000):
        k = str(key)
        if k.startswith(keys.FORBIDDEN_PREFIXES):
            continue  # RediSearch 1.x's own keys: FT.INFO below
        f = family(k)
        counts[f] = counts.get(f, 0) + 1
        bucket = fams.setdefault(f, [])
        if len(bucket) < sample:
            bucket.append(k)
    rows: list[tuple[float, str]] = []
    for f, sampled in fams.items():
        async with redis.pipeline(transaction=False) as pipe:
            for k in sampled:
                pipe.memory_usage(k, samples=0)
            sizes = [s or 0 for s in await pipe.execute()]
        total = statistics.mean(sizes) * counts[f]
        rows.append((total, f"  {f:<18} {counts[f]:>9} keys  {total / messages:8.1f} B/message"))
    out = [r for _, r in sorted(rows, reverse=True)]
    info_raw = await redis.execute_command("FT.INFO", keys.IDX_MESSAGES)
    info = {str(info_raw[i]): info_raw[i + 1] for i in range(0, len(info_raw) - 1, 2)}
    for name in ("inverted_sz_mb", "offset_vectors_sz_mb", "doc_table_size_mb", "sortable_values_size_mb",
                 "key_table_size_mb"):  # fmt: skip
        if name in info:
            out.append(f"  FT.INFO {name:<24} {float(info[name]) * 1024 * 1024 / messages:8.1f} B/message")
    return out


async def figures(chat: Chat, samples: int) -> dict[str, tuple[float, float]]:
    f = chat.finder
    out: dict[str, tuple[float, float]] = {}
    for name, query in (
        ("search 'match' newest first", "match"),
        ("search 'match' page 5", "match page:5"),
        ("search two common words", "match game"),
        ("search in: + from:", "coffee in:chan4 from:user4"),
    ):

        async def search(q: str = query) -> object:
            return await f.messages(q)

        s = await timed(search, samples)
        out[name] = (statistics.median(s), pct(s, 0.99))
    # a new process's first search (a fresh Finder: nothing memoised; the check's stamp is shared)
    s = await timed(lambda: Finder(chat.ctx).messages("match"), max(5, samples // 4))
    out["search 'match', new process"] = (statistics.median(s), pct(s, 0.99))

    # the ts-less check when it is due (once a minute across processes): FT.INFO num_docs vs the count
    async def check_due() -> None:
        await chat.ctx.redis.hdel(keys.META, keys.META_TS_CHECKED)
        await MissingTs(chat.ctx.redis, chat.ctx.module).clean(chat.ctx.now_ms())

    s = await timed(check_due, max(5, samples // 4))
    out["ts-less check when due (count vs FT.INFO)"] = (statistics.median(s), pct(s, 0.99))
    s = await timed(lambda: f.top(10, source="counters"), samples)
    out["top 10 (counters)"] = (statistics.median(s), pct(s, 0.99))
    s = await timed(lambda: f.top(10, "chan3", source="counters"), samples)
    out["top 10 in:chan3 (counters)"] = (statistics.median(s), pct(s, 0.99))
    s = await timed(lambda: f.top(10, source="aggregate"), max(3, samples // 40))
    out["top 10 (FT.AGGREGATE)"] = (statistics.median(s), pct(s, 0.99))
    return out


ROUND_POSTS = 1_000


async def post_rounds(
    redis: RedisClient,
    chat: Chat,
    hist: History,
    load_bares: Callable[[list[BulkPost]], Awaitable[None]],
    now: dict[str, int],
    rounds: int,
) -> list[tuple[float, float]]:
    """(raw XADD/s, single post/s) of each of ``rounds`` back-to-back pairs, ROUND_POSTS each, 50 in flight.

    Each post is stamped with its own time (``now``, the chat's clock), next in the history: with the
    clock left where the searches ran, these 5,000 posts per point of the curve all had the same
    ``ts``, a tie no community has, which every newest-first search then read whole to order it (at
    1M on 1.2: 'match' p50 20 ms with the 15,000-message tie, 2.7 ms without)."""
    pairs: list[tuple[float, float]] = []
    for _ in range(rounds):
        raw_now = await rate(lambda i: redis.xadd("bench:raw", {"type": "message"}), ROUND_POSTS, IN_FLIGHT)
        await redis.delete("bench:raw")
        more = [hist.next() for _ in range(ROUND_POSTS)]

        async def post_more(i: int, m: list[BulkPost] = more) -> None:
            now["ms"] = m[i].ts or now["ms"]
            await chat.messages.post(m[i].channel, m[i].username, m[i].text)

        single_now = await rate(post_more, ROUND_POSTS, IN_FLIGHT)
        await load_bares(more)
        pairs.append((raw_now, single_now))
    return pairs


async def main(messages: int, samples: int, generation: str, rounds: int = ROUNDS) -> None:
    curve = [n for n in CURVE if n < messages] + [messages]
    with tempfile.TemporaryDirectory() as tmp:
        core_srv = bench_server(Path(tmp) / "core", generation)
        core_srv.extra_args = list(COMPACT_ARGS)
        bare_default = bench_server(Path(tmp) / "bare", generation)
        bare_same = bench_server(Path(tmp) / "bare-compact", generation)
        bare_same.extra_args = list(COMPACT_ARGS)
        servers = (core_srv, bare_default, bare_same)
        for srv in servers:
            srv.start()
        redis: RedisClient = connect(core_srv.url)
        bares = [("Redis defaults", connect(bare_default.url)), ("same settings", connect(bare_same.url))]
        try:
            await run(redis, bares, core_srv.port, messages, samples, curve, rounds)
        finally:
            await redis.aclose()
            for _, client in bares:
                await client.aclose()
            for srv in servers:
                srv.stop()


async def run(
    redis: RedisClient,
    bares: list[tuple[str, RedisClient]],
    port: int,
    messages: int,
    samples: int,
    curve: list[int],
    rounds: int,
) -> None:
    now = {"ms": int(time.time() * 1000)}
    chat = await Chat.open(redis)
    chat.ctx.clock = lambda: now["ms"] / 1000
    explicit = chat.ctx.module.explicit
    for u in range(USERS):
        await chat.users.register(f"user{u}", {"firstname": f"First{u}", "city": "Lahore"})
    for c in range(CHANNELS):
        await chat.channels.create(f"chan{c}")
    on_hash = () if explicit else ("ON", "HASH", "PREFIX", "1", keys.MESSAGE_PREFIX)
    for _, bare in bares:
        await bare.execute_command("FT.CREATE", "idx:messages", *on_hash, "SCHEMA", "username", "TAG", "channel", "TAG",
                                   "message", "TEXT")  # fmt: skip
    print(f"chatbridge scale bench: {messages:,} messages, {USERS} users, {CHANNELS} channels, "
          "embedded server + RediSearch, AOF everysec, 127.0.0.1")  # fmt: skip
    print(f"search module: {chat.ctx.module.label}; chatbridge's server: {' '.join(COMPACT_ARGS)}")

    async def load_bares(posts: list[BulkPost]) -> None:
        for _, bare in bares:
            await bare_load(bare, posts, explicit)

    # --- throughput: raw XADD from this client beside the single-post and bulk paths ---------------
    n_rate = min(2_000, messages // 5)
    await rate(lambda i: redis.xadd("bench:raw", {"type": "message"}), 4 * IN_FLIGHT, IN_FLIGHT)  # opens the pool
    raw_inflight = await rate(lambda i: redis.xadd("bench:raw", {"type": "message"}), n_rate, IN_FLIGHT)
    raw_piped = await pipelined_xadd(redis, "bench:raw", n_rate)
    await redis.delete("bench:raw")
    print(f"redis-benchmark XADD -c {IN_FLIGHT}: {redis_benchmark(port)}")
    await redis.delete("bench:rb")
    base_mem = await used_memory(redis)
    bare_base = [await used_memory(bare) for _, bare in bares]

    hist = History(messages, now["ms"])
    single_posts = [hist.next() for _ in range(n_rate)]

    async def single(i: int) -> None:
        p = single_posts[i]
        now["ms"] = p.ts or now["ms"]
        await chat.messages.post(p.channel, p.username, p.text)

    single_rate = await rate(single, n_rate, IN_FLIGHT)
    await load_bares(single_posts)
    loaded = n_rate
    print(f"raw XADD, {IN_FLIGHT} in flight:          {raw_inflight:9,.0f}/s")
    print(f"raw XADD, pipelined by {BATCH}:       {raw_piped:9,.0f}/s")
    print(
        f"post ({IN_FLIGHT} in flight):             {single_rate:9,.0f}/s  "
        f"= {single_rate / raw_inflight:.2f} × raw XADD in flight"
    )

    rows: list[tuple[int, float, list[float], float, dict[str, tuple[float, float]]]] = []
    rates: list[tuple[float, float, float]] = []
    for point in curve:
        todo = point - loaded
        bulk_s = 0.0
        done = 0
        while done < todo:
            chunk = [hist.next() for _ in range(min(10_000, todo - done))]
            t = time.perf_counter()
            results = await chat.messages.post_many(chunk, batch=BATCH)
            bulk_s += time.perf_counter() - t
            bad = [r.error for r in results if not r.id]
            if bad:
                raise SystemExit(f"bulk post failed: {bad[:3]}")
            await load_bares(chunk)
            done += len(chunk)
        loaded = max(loaded, point)
        # memory: chatbridge's bytes per message vs the bare write's, same messages
        mem = (await used_memory(redis) - base_mem) / loaded
        bare_mem = [(await used_memory(bare) - b0) / loaded for (_, bare), b0 in zip(bares, bare_base, strict=True)]
        now["ms"] = hist.last_ms + 1000  # searches run "now", a second after the newest message
        figs = await figures(chat, samples)
        # throughput at this size: raw XADD in flight, then single posts, same client, back to back,
        # `rounds` times alternating (the machine is shared: the ratio of each pair, then the median)
        pairs = await post_rounds(redis, chat, hist, load_bares, now, rounds)
        loaded += ROUND_POSTS * len(pairs)
        raw_now, single_now = sorted(pairs, key=lambda p: p[1] / p[0])[len(pairs) // 2]  # the median pair
        print(f"   post ÷ raw XADD, {rounds} rounds: " + ", ".join(f"{s / r:.2f}" for r, s in pairs))
        rates.append((raw_now, single_now, todo / bulk_s if bulk_s else 0.0))
        rows.append((point, mem, bare_mem, bulk_s, figs))
        vs = ", ".join(f"{name} {b:,.0f}" for (name, _), b in zip(bares, bare_mem, strict=True))
        print(f"-- {point:,} messages loaded (memory {mem:,.0f} B/message; bare write: {vs})", flush=True)

    # bulk throughput measured on its own, beside raw XADD pipelined the same way
    extra = [hist.next() for _ in range(n_rate)]
    t = time.perf_counter()
    await chat.messages.post_many(extra, batch=BATCH)
    bulk_rate = n_rate / (time.perf_counter() - t)
    raw_piped_end = await pipelined_xadd(redis, "bench:raw", n_rate)
    await redis.delete("bench:raw")
    loaded += n_rate
    print(
        f"bulk post (post_many.lua, {BATCH} per call):  {bulk_rate:9,.0f}/s  "
        f"= {bulk_rate / raw_inflight:.2f} × raw XADD in flight, {bulk_rate / raw_piped_end:.2f} × raw XADD pipelined"
    )

    print()
    print("| figure | " + " | ".join(f"{p:,}" for p, *_ in rows) + " |")
    print("|---|" + "---|" * len(rows))
    single_cells = " | ".join(f"{s / r:.2f} ({s:,.0f}/s vs {r:,.0f}/s)" for r, s, _ in rates)
    print(f"| post throughput ÷ raw XADD, {IN_FLIGHT} in flight, same client (median of {rounds}) | {single_cells} |")
    bulk_cells = " | ".join(f"{b:,.0f}/s = {b / r:.2f} × raw XADD in flight" for r, _, b in rates)
    print(f"| bulk post (post_many.lua) while loading this step | {bulk_cells} |")
    for i, (name, _) in enumerate(bares):
        mems = " | ".join(f"{m / b[i]:.2f} ({m:,.0f} B vs {b[i]:,.0f} B)" for _, m, b, _, _ in rows)
        print(f"| memory per message ÷ bare write ({name}) | {mems} |")
    for name in rows[0][4]:
        cells = [f"p50 {f[name][0]:.1f} / p99 {f[name][1]:.1f} ms" for *_, f in rows]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    print(f"where each byte goes at {loaded:,} messages (MEMORY USAGE by key family, sampled):")
    for line in await breakdown(redis, loaded):
        print(line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--search", choices=("1.2", "2.10"), default="1.2", help="RediSearch generation")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="raw XADD / post rounds of 1,000 at each point")
    args = parser.parse_args()
    if not 1_000 <= args.messages <= 5_000_000:
        parser.error("--messages must be between 1,000 and 5,000,000")
    if not 5 <= args.samples <= 5_000:
        parser.error("--samples must be between 5 and 5,000")
    if not 1 <= args.rounds <= 101:
        parser.error("--rounds must be between 1 and 101")
    asyncio.run(main(args.messages, args.samples, args.search, args.rounds))
