"""``chatbridge reindex``: index hashes written outside chatbridge (the guide's loader, redis-cli).

It scans ``user:*`` and ``message:*`` hashes, fills ``ts`` on messages that lack it (from the
stream id, so sorting and time filters work), and on RediSearch 1.x runs ``FT.ADDHASH ... REPLACE``
for each, in pipelines of 500. On 2.x the indexes follow the hashes; only ``ts`` is filled.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from bridge.store import keys
from bridge.store.connection import RedisClient as Redis
from bridge.store.search import SearchModule

BATCH = 500


@dataclass
class ReindexSummary:
    users: int = 0
    messages: int = 0
    filled_ts: int = 0
    skipped: list[str] = field(default_factory=list)


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
                pipe.hexists(key, "ts")
            has_ts = await pipe.execute()
        missing = [k for k, ok in zip(batch, has_ts, strict=True) if not ok]
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
