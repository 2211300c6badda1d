"""``chatbridge reindex``: index hashes written outside chatbridge (the guide's loader, redis-cli).

It scans ``user:*`` and ``message:*`` hashes, fills ``ts`` on messages that lack it (from the
stream id, so sorting and time filters work), and on RediSearch 1.x runs ``FT.ADDHASH ... REPLACE``
for each, in pipelines of 500. On 2.x the indexes follow the hashes; only ``ts`` is filled.

It also recounts the top-poster counters (``cb:top``, ``cb:top:<channel>``) from the message hashes
it saw and replaces them in one script, which marks them complete: ``top`` then reads them instead of
running FT.AGGREGATE. The count is of the hashes the scan visited, so run it while the chat is quiet
(as any import): a message posted or deleted while the scan is under way may be counted as it was
before.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

from bridge.store import keys
from bridge.store.connection import RedisClient as Redis
from bridge.store.scripts import load_one, run
from bridge.store.search import SearchModule, ensure_indexes

BATCH = 500


@dataclass
class ReindexSummary:
    users: int = 0
    messages: int = 0
    filled_ts: int = 0
    skipped: list[str] = field(default_factory=list)
    posters: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(channel, username) -> messages, for the top-poster counters."""


async def ensure_search(redis: Redis, module: SearchModule, *, after_error: bool = False) -> list[str]:
    """Make both indexes right (:func:`ensure_indexes`) and, on 1.x, index the hashes an index made
    now does not know: after a rebuild, and after an error (another tool flushed the database or
    replaced the indexes under a running bridge, as the guide's loader does). Returns what was done."""
    done = await ensure_indexes(redis, module)
    if module.explicit and any(
        line.startswith("rebuilt") or (after_error and line.startswith("created")) for line in done
    ):
        await reindex(redis, module, out=None)
        done.append("re-indexed the existing hashes")
    return done


async def reindex(redis: Redis, module: SearchModule, *, out: TextIO | None = sys.stderr) -> ReindexSummary:
    summary = ReindexSummary()
    total = await redis.dbsize()
    seen = 0
    for prefix, index in ((keys.USER_PREFIX, keys.IDX_USERS), (keys.MESSAGE_PREFIX, keys.IDX_MESSAGES)):
        batch: list[str] = []
        async for key in redis.scan_iter(match=f"{prefix}*", count=1000, _type="HASH"):
            batch.append(str(key))
            if len(batch) >= BATCH:
                seen += await _flush(redis, module, index, batch, summary)
                _progress(out, seen, total)
                batch = []
        if batch:
            seen += await _flush(redis, module, index, batch, summary)
            _progress(out, seen, total)
    triples = [str(x) for (ch, user), n in sorted(summary.posters.items()) for x in (ch, user, n)]
    await run(load_one(redis, "top_rebuild"), *triples)
    if out is not None:
        out.write(
            f"\nreindexed {summary.users} users and {summary.messages} messages "
            f"({summary.filled_ts} timestamps filled, {len(summary.skipped)} skipped)\n"
        )
    return summary


async def _flush(redis: Redis, module: SearchModule, index: str, batch: list[str], summary: ReindexSummary) -> int:
    if index == keys.IDX_MESSAGES:
        async with redis.pipeline(transaction=False) as pipe:
            for key in batch:
                pipe.hmget(key, "ts", "channel", "username")
            rows = await pipe.execute()
        # (a hash deleted since the scan saw it reads as all None: nothing to fill)
        missing = [k for k, (ts, ch, user) in zip(batch, rows, strict=True) if ts is None and (ch or user)]
        summary.posters.update((ch, user) for _, ch, user in rows if ch and user)
        if missing:
            async with redis.pipeline(transaction=False) as pipe:
                for key in missing:
                    pipe.hset(key, "ts", keys.stream_ms(keys.message_id_of(key)))
                await pipe.execute()
            summary.filled_ts += len(missing)
    if module.explicit:
        async with redis.pipeline(transaction=False) as pipe:
            for key in batch:
                pipe.execute_command("FT.ADDHASH", index, key, "1.0", "REPLACE")
            results = await pipe.execute(raise_on_error=False)
        failed = [f"{key}: {res}" for key, res in zip(batch, results, strict=True) if isinstance(res, Exception)]
        summary.skipped += failed
    else:
        failed = []
    ok = len(batch) - len(failed)
    if index == keys.IDX_USERS:
        summary.users += ok
    else:
        summary.messages += ok
    return len(batch)


def _progress(out: TextIO | None, done: int, total: int) -> None:
    if out is None:
        return
    width = 30
    frac = min(1.0, done / total) if total else 1.0
    bar = "#" * int(frac * width)
    out.write(f"\r[{bar:<{width}}] {done} hashes")
    out.flush()
