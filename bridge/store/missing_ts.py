"""Message documents without ``ts`` (hashes other tools wrote: the guide's loader, redis-cli): found
by counting, not by searching every match of every query.

A message search sorts by ``ts`` and walks recent time windows, so a document without ``ts`` would
sort nowhere and sit in no window. chatbridge's own writes always have ``ts``; only another tool's
hash can lack it (indexed by RediSearch 2.x by its prefix, by 1.x after that tool's FT.ADDHASH).
The scripts that add or remove a message hash keep ``cb:meta`` ``docs`` = the number of documents
with ``ts`` (``_docs.lua``). When the index's own ``num_docs`` (FT.INFO) equals it, every document
has ``ts`` and a search needs no other check; when it does not (another tool's hashes, an upgraded
database that never counted, a hash deleted by hand), one pass fills ``ts`` from the stream id on
every document that lacks it (up to ``MISSING_TS_BATCH`` × ``MISSING_TS_ROUNDS``; ``chatbridge
reindex`` does any number) and ``ts_rebase.lua`` recounts, atomically with the proof that none is
left.

The check costs one FT.INFO: 0.3 ms on 2.10, but on 1.2 FT.INFO walks the document table (13 ms at
100,000 messages), so it runs at most once per ``CHECK_MS`` across every process (``cb:meta``
``ts_checked``, one HMGET when another process checked recently). The search in flight when a
foreign hash arrives may miss it; the next check (within ``CHECK_MS``) fills it. Before this, every
query's first search in a process searched ``(<query>) -@ts:[-inf +inf]``: O(its matches), 700 ms
for 'match' at 1,000,000 messages.
"""

from __future__ import annotations

from typing import Any

from redis.commands.core import AsyncScript

from bridge.store import keys
from bridge.store.connection import RedisClient as Redis
from bridge.store.scripts import load_one
from bridge.store.search import SearchModule, fill_ts, info_pairs

CHECK_MS = 60_000
"""How often (at most, across processes) the count is compared with the index's."""
MISSING_QUERY = "-@ts:[-inf +inf]"
MISSING_TS_BATCH = 1000
MISSING_TS_ROUNDS = 100
"""A check fills ``ts`` on at most this many batches of other tools' hashes (then ``reindex``)."""


class MissingTs:
    def __init__(self, redis: Redis, module: SearchModule) -> None:
        self.redis = redis
        self.module = module
        self.ok_until = 0
        """This process's memo: no check before this time (ms)."""
        self._rebase: AsyncScript | None = None

    def forget(self) -> None:
        """The indexes were replaced: check at the next search."""
        self.ok_until = 0

    async def ensure(self, now_ms: int) -> None:
        """Before a message search: every indexed message has ``ts`` (as of the last check)."""
        if now_ms < self.ok_until:
            return
        docs, checked = await self.redis.hmget(keys.META, keys.META_DOCS, keys.META_TS_CHECKED)
        if checked is not None and str(checked).isdigit() and 0 <= now_ms - int(checked) < CHECK_MS:
            self.ok_until = int(checked) + CHECK_MS  # another process (or this one) checked lately
            return
        async with self.redis.pipeline(transaction=True) as pipe:  # one snapshot: posts move both
            pipe.execute_command("FT.INFO", keys.IDX_MESSAGES)
            pipe.hget(keys.META, keys.META_DOCS)
            info, docs = await pipe.execute()
        num_docs = int(float(info_pairs(info).get("num_docs", -1)))
        if docs is None or int(docs) != num_docs:
            await self.repair(now_ms)
        else:
            await self.redis.hset(keys.META, keys.META_TS_CHECKED, str(now_ms))
        self.ok_until = now_ms + CHECK_MS

    async def repair(self, now_ms: int) -> int:
        """Fill ``ts`` on every document without it (bounded), then recount; returns the count (-1:
        some document still lacks ``ts``, e.g. more than the bound, or written meanwhile)."""
        found: list[Any] = await self.redis.execute_command(
            "FT.SEARCH", keys.IDX_MESSAGES, MISSING_QUERY, "NOCONTENT", "LIMIT", 0, MISSING_TS_BATCH * MISSING_TS_ROUNDS
        )
        missing = [str(key) for key in found[1:]]
        # Filling ts re-indexes a document (a new internal id), and clients that read unsorted results
        # by position (the guide's loader checks its searches so) see equal scores in internal id
        # order: filled oldest document first, they keep their order. 1.x lists equal scores newest
        # document first, 2.x oldest first.
        if self.module.explicit:
            missing.reverse()
        for start in range(0, len(missing), MISSING_TS_BATCH):
            await fill_ts(self.redis, self.module, missing[start : start + MISSING_TS_BATCH])
        if self._rebase is None:
            self._rebase = load_one(self.redis, "ts_rebase")
        return int(await self._rebase(keys=[], args=[str(now_ms)]))
