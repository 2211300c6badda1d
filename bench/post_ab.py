"""Single posts through two versions of the Lua scripts, A/B in one process on one server.

``python -m bench.post_ab --old REV [--search 1.2|2.10] [--rounds N]``: the scripts of git revision
``REV`` (read with ``git show``) against this checkout's, on one embedded server with RediSearch
(chatbridge's ``COMPACT_ARGS``, AOF everysec) after 20,000 messages loaded. Each round runs raw XADD,
then both versions (the order alternating), 1,000 posts 50 in flight each, so the machine's load
hits both alike. Prints each round's post ÷ raw XADD, the medians, the median of after ÷ before,
and the server's time in the post scripts per post (``INFO commandstats``, EVALSHA), which the
machine's noise moves far less than a wall-clock rate.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bridge.core.chat import Chat
from bridge.core.context import CoreContext
from bridge.core.messages import BulkPost
from bridge.store import scripts
from bridge.store.connection import RedisClient, connect
from bridge.store.embedded import COMPACT_ARGS

from .core import bench_server
from .scale import CHANNELS, IN_FLIGHT, USERS, History, rate

POSTS = 1_000
LOADED = 20_000


def lua_at(rev: str, part: str) -> str | None:
    """``bridge/store/lua/<part>.lua`` at ``rev``; None when that revision has no such file."""
    shown = subprocess.run(["git", "show", f"{rev}:bridge/store/lua/{part}.lua"], capture_output=True, text=True)
    return shown.stdout if shown.returncode == 0 else None


def old_source(rev: str, name: str) -> str:
    """A script's text at ``rev``, with the preludes bridge.store.scripts puts in front of it today
    (one that ``rev`` does not have yet is left out: its scripts did not call it)."""
    preludes = [lua_at(rev, p) for p, users in scripts._PRELUDES.items() if name in users]
    return "".join(p for p in preludes if p) + (lua_at(rev, name) or "")


_POST_ARGS = re.compile(r"^local POST_ARGS = (\d+)", re.M)


def post_args(source: str) -> str:
    """How many fields a message has in a post script (its POST_ARGS), "?" if it says none."""
    found = _POST_ARGS.search(source)
    return found.group(1) if found else "?"


async def server_us(redis: RedisClient) -> float:
    stats: dict[str, Any] = await redis.info("commandstats")
    return sum(float(v["usec"]) for k, v in stats.items() if k.startswith("cmdstat_evalsha"))


async def run(redis: RedisClient, rev: str, rounds: int, label: str) -> None:
    new = await Chat.open(redis)
    names = scripts._NAMES + scripts._MIRROR_NAMES
    old_scripts = scripts.Scripts(**{n: redis.register_script(old_source(rev, n)) for n in names})
    old = Chat(CoreContext(redis, new.ctx.module, old_scripts, new.ctx.settings))
    for u in range(USERS):
        await new.users.register(f"user{u}", {})
    for c in range(CHANNELS):
        await new.channels.create(f"chan{c}")
    hist = History(10**7, 1_733_100_000_000)
    await new.messages.post_many([hist.next() for _ in range(LOADED)], batch=200)
    chats = {"before": old, "after": new}
    ratios: dict[str, list[float]] = {"before": [], "after": []}
    per_post: dict[str, list[float]] = {"before": [], "after": []}
    for k in range(rounds):
        raw = await rate(lambda i: redis.xadd("bench:raw", {"type": "message"}), POSTS, IN_FLIGHT)
        await redis.delete("bench:raw")
        for which in ("before", "after") if k % 2 == 0 else ("after", "before"):
            more = [hist.next() for _ in range(POSTS)]

            async def one(i: int, m: list[BulkPost] = more, chat: Chat = chats[which]) -> None:
                await chat.messages.post(m[i].channel, m[i].username, m[i].text)

            await redis.execute_command("CONFIG", "RESETSTAT")
            ratios[which].append(await rate(one, POSTS, IN_FLIGHT) / raw)
            per_post[which].append(await server_us(redis) / POSTS)
    print(f"{label}: {rounds} rounds of {POSTS:,} single posts, {IN_FLIGHT} in flight, after {LOADED:,} loaded")
    for which in ("before", "after"):
        cells = ", ".join(f"{r:.2f}" for r in ratios[which])
        print(f"  post ÷ raw XADD, {which:<6} ({rev if which == 'before' else 'this checkout'}): {cells}"
              f"  median {statistics.median(ratios[which]):.2f}")  # fmt: skip
    after_before = statistics.median(a / b for a, b in zip(ratios["after"], ratios["before"], strict=True))
    print(f"  after ÷ before, median of the rounds: {after_before:.2f}")
    print(f"  server time in the post scripts a post (median): before {statistics.median(per_post['before']):.1f} µs, "
          f"after {statistics.median(per_post['after']):.1f} µs")  # fmt: skip


async def main(rev: str, generation: str, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = bench_server(Path(tmp) / "ab", generation)
        server.extra_args = list(COMPACT_ARGS)
        server.start()
        redis: RedisClient = connect(server.url)
        try:
            await run(redis, rev, rounds, f"RediSearch {generation}")
        finally:
            await redis.aclose()
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", required=True, help="git revision whose scripts are 'before'")
    parser.add_argument("--search", choices=("1.2", "2.10"), default="1.2", help="RediSearch generation")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    if not 1 <= args.rounds <= 50:
        parser.error("--rounds must be between 1 and 50")
    try:
        subprocess.run(["git", "rev-parse", "--verify", f"{args.old}^{{commit}}"], capture_output=True, check=True)
    except subprocess.CalledProcessError:
        parser.error(f"--old {args.old!r} is not a git revision of this checkout")
    # the old scripts run with this checkout's Python, so both must take a message's fields alike
    old_n, new_n = post_args(lua_at(args.old, "_post") or ""), post_args(scripts._read("_post"))
    if old_n != new_n:
        parser.error(
            f"the post scripts of {args.old} take {old_n} fields a message and this checkout's {new_n}: "
            "the Python of this checkout cannot drive them; compare two revisions with the same POST_ARGS"
        )
    asyncio.run(main(args.old, args.search, args.rounds))
