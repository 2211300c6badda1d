"""Message documents without ``ts`` (hashes other tools wrote: the guide's loader, redis-cli): ruled
out by counting, not by searching every match of every query.

A message search sorts by ``ts`` and walks recent time windows, so a document without ``ts`` would
sort nowhere and sit in no window. chatbridge's own writes always have ``ts``; only another tool's
hash can lack it (indexed by RediSearch 2.x by its prefix, by 1.x after that tool's FT.ADDHASH).
The scripts that add or remove a message hash keep ``cb:meta`` ``docs`` = the number of documents
with ``ts`` (``_docs.lua``). While the index's own ``num_docs`` (FT.INFO) equals it, every document
has ``ts`` and a search needs no other check. When they differ (an upgraded database that never
counted, a hash deleted by hand), ``ts_rebase.lua`` recounts if no document lacks ``ts``; if some
do (another tool's hashes), each query fills its own ts-less matches from their stream ids before
searching, once a minute per process (what every search did before the count), until they are all
filled (by searches or ``chatbridge reindex``) and the next check recounts.

The check costs one FT.INFO: 0.3 ms on 2.10, but on 1.2 FT.INFO walks the document table (13 ms at
100,000 messages), so it runs at most once per ``CHECK_MS`` across every process (``cb:meta``
``ts_checked``; one HGET when another process checked lately). A search in the minute after a
foreign hash arrived may miss it; the next check finds it. Before the count, every query's first
search in a process searched ``(<query>) -@ts:[-inf +inf]``: all its matches, 700 ms for 'match' at
1,000,000 messages.
"""

from __future__ import annotations

from typing import Any

from redis.commands.core import AsyncScript

from bridge.store import keys
from bridge.store.connection import RedisClient as Redis
from bridge.store.scripts import load_one
from bridge.store.search import SearchModule, fill_ts, info_pairs

CHECK_MS = 60_000
"""How often (at most, across processes) the count is compared with the index's; also how often one
process looks again for one query's ts-less matches while some document lacks ts."""
MISSING_QUERY = "-@ts:[-inf +inf]"
MISSING_TS_BATCH = 1000
MISSING_TS_ROUNDS = 100
"""A search fills ``ts`` on at most this many batches of other tools' hashes (then ``reindex``)."""
QUERY_MEMO = 10_000


class MissingTs:
    def __init__(self, redis: Redis, module: SearchModule) -> None:
        self.redis = redis
        self.module = module
        self.ok_until = 0
        """This process's memo: every document had ts at the last check; no check before this (ms)."""
        self.dirty_until = 0
        """Some document lacked ts at the last check: queries look for their own until this (ms)."""
        self._queries: dict[str, int] = {}
        """Query -> when (ms) this process last filled its ts-less matches (while dirty)."""
        self._rebase: AsyncScript | None = None

    def forget(self) -> None:
        """The indexes were replaced: check at the next search."""
        self.ok_until = self.dirty_until = 0
        self._queries.clear()

    async def ensure(self, query: str, now_ms: int) -> None:
        """Before a message search for ``query`` (un-windowed): its matches have ``ts``."""
        if await self.clean(now_ms):
            return
        last = self._queries.get(query)
        if last is not None and 0 <= now_ms - last < CHECK_MS:
            return
        if len(self._queries) >= QUERY_MEMO:
            self._queries.clear()
        self._queries[query] = now_ms
        await self.fill_matches(query)

    async def clean(self, now_ms: int) -> bool:
        """True when every indexed message has ``ts`` (as of a check at most CHECK_MS old)."""
        if now_ms < self.ok_until:
            return True
        if now_ms < self.dirty_until:
            return False
        checked = await self.redis.hget(keys.META, keys.META_TS_CHECKED)
        if checked is not None and str(checked).isdigit() and 0 <= now_ms - int(checked) < CHECK_MS:
            self.ok_until = int(checked) + CHECK_MS  # another process (or this one) checked lately
            return True
        async with self.redis.pipeline(transaction=True) as pipe:  # one snapshot: posts move both
            pipe.execute_command("FT.INFO", keys.IDX_MESSAGES)
            pipe.hget(keys.META, keys.META_DOCS)
            info, docs = await pipe.execute()
        num_docs = int(float(info_pairs(info).get("num_docs", -1)))
        if docs is not None and int(docs) == num_docs:
            await self.redis.hset(keys.META, keys.META_TS_CHECKED, str(now_ms))
        elif await self.recount(now_ms) < 0:
            # another tool's hashes without ts: each query fills its own matches (reindex fills all),
            # as every search did before the count; the count is tried again in CHECK_MS
            self.dirty_until = now_ms + CHECK_MS
            return False
        self.ok_until = now_ms + CHECK_MS
        return True

    async def recount(self, now_ms: int) -> int:
        """ts_rebase.lua: the count set to num_docs if no document lacks ``ts``, else -1."""
        if self._rebase is None:
            self._rebase = load_one(self.redis, "ts_rebase")
        return int(await self._rebase(keys=[], args=[str(now_ms)]))

    async def fill_matches(self, query: str) -> None:
        """Give ``query``'s matches that lack ``ts`` the time of their stream id (bounded). Only the
        query's own: filling re-indexes a document (a new internal id), and a client that reads
        unsorted results by position (the guide's loader checks) sees the others unmoved."""
        missing_query = f"({query}) {MISSING_QUERY}"
        for _ in range(MISSING_TS_ROUNDS):
            found: list[Any] = await self.redis.execute_command(
                "FT.SEARCH", keys.IDX_MESSAGES, missing_query, "NOCONTENT", "LIMIT", 0, MISSING_TS_BATCH
            )
            missing = [str(key) for key in found[1:]]
            if not missing:
                return
            await fill_ts(self.redis, self.module, missing)
