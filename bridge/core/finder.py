"""Message and user search on RediSearch, plus the aggregate and activity views.

User text never reaches a query unescaped: words pass through :func:`plain_words` (every ASCII
operator becomes a space) and tag values through :func:`escape_tag`. Filters are built here from
validated names only.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from redis.exceptions import ResponseError

from bridge.core import validation
from bridge.core.context import CoreContext
from bridge.core.messages import Messages, check_id
from bridge.core.models import Message
from bridge.errors import InvalidInput
from bridge.store import keys
from bridge.store.missing_ts import MissingTs
from bridge.store.reindex import ensure_search
from bridge.store.search import escape_tag, indexes_intact, plain_words, search

log = logging.getLogger(__name__)
T = TypeVar("T")

_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')
_RELATIVE = re.compile(r"(\d{1,6})([mhdw])")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
PAGE_SIZE = 10
WINDOW_START_MS = 86_400_000
"""The first time window of a message search: the last day."""
WINDOW_GROWTH = 16.0
"""How much a window may widen per round (at most; less when the matches seen say less is enough)."""
WINDOW_ROUNDS = 2
"""Windows tried before the whole history: a wide numeric range costs more than the full sort
(measured at 1M messages: 'match' in 1 day 4-14 ms, in 16 days 67-124 ms, everything 215-340 ms)."""
INDEX_PROBE_S = 10.0
"""How often a search first checks (one FT.EXPLAIN round trip) that the indexes were not replaced."""
TIE_LIMIT = 10_000
"""Most messages of one millisecond a page boundary reads to order them exactly."""
WINDOW_LIMIT_MS = 60 * 86_400_000
"""A window this wide is no better than the whole history: search everything instead."""
HAS_VALUES = ("file", "image")


@dataclass
class MessageQuery:
    words: list[str] = field(default_factory=list)
    phrases: list[list[str]] = field(default_factory=list)
    prefix: bool = False
    channels: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    after_ms: int | None = None
    before_ms: int | None = None
    has: list[str] = field(default_factory=list)
    """``has:file`` / ``has:image``: messages carrying an attachment / an image."""
    thread: str = ""
    """``thread:<message id>``: only the messages of that thread (its root and replies)."""
    page: int = 1

    def to_redisearch(self) -> str:
        """The filters first, then the words: RediSearch 1.2 walks an intersection from its first
        term, so a selective filter first is what makes it cheap (measured at 100,000 messages:
        ``coffee @channel:{chan4} @username:{user4}`` 2.5 ms at best, the filters first 0.4 ms;
        ``match`` in the last day 1.3 ms after the words, 0.8 ms before). 2.10 orders the terms
        itself; the matches are the same either way."""
        parts: list[str] = []
        if self.authors:
            parts.append("@username:{" + "|".join(escape_tag(a) for a in self.authors) + "}")
        if self.channels:
            parts.append("@channel:{" + "|".join(escape_tag(c) for c in self.channels) + "}")
        if self.thread:
            parts.append("@thread:{" + escape_tag(self.thread) + "}")
        for what in self.has:
            parts.append("@has:{" + escape_tag(what) + "}")
        if self.after_ms is not None or self.before_ms is not None:
            low = f"({self.after_ms}" if self.after_ms is not None else "-inf"
            high = f"({self.before_ms}" if self.before_ms is not None else "+inf"
            parts.append(f"@ts:[{low} {high}]")
        words = list(self.words)
        if words and self.prefix and len(words[-1]) >= 2:
            words[-1] += "*"
        parts += words
        parts += ['"' + " ".join(p) + '"' for p in self.phrases if p]
        return " ".join(parts)


def parse_time(value: str, now_ms: int) -> int:
    """``2026-11-28``, ``2026-11-28T14:30`` (UTC) or relative ``30m`` / ``2h`` / ``7d`` / ``1w``."""
    rel = _RELATIVE.fullmatch(value)
    if rel:
        return now_ms - int(rel.group(1)) * _UNITS[rel.group(2)] * 1000
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"`{value[:30]}` is not a time: use `2026-11-28`, `2026-11-28T14:30` or `30m` / `2h` / `7d`."
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def parse_message_query(text: str, now_ms: int) -> MessageQuery:
    q = MessageQuery()
    for match in _TOKEN.finditer(text):
        phrase, token = match.group(1), match.group(2)
        if phrase is not None:
            q.phrases.append(plain_words(phrase))
            continue
        op, sep, value = token.partition(":")
        op = op.lower()
        if sep and value and op in ("in", "from", "before", "after", "page", "has", "thread"):
            if op == "thread":
                q.thread = check_id(value)
            elif op == "has":
                if value.lower() not in HAS_VALUES:
                    raise InvalidInput("`has:` takes `file` or `image`.")
                q.has.append(value.lower())
            elif op == "in":
                q.channels.append(validation.channel(value))
            elif op == "from":
                q.authors.append(validation.username(value))
            elif op == "before":
                q.before_ms = parse_time(value, now_ms)
            elif op == "after":
                q.after_ms = parse_time(value, now_ms)
            elif not value.isdigit() or not 1 <= int(value) <= 1000:
                raise InvalidInput("`page:` takes a number from 1 to 1000.")
            else:
                q.page = int(value)
            continue
        q.prefix = token.endswith("*")
        q.words += plain_words(token)
    filters = (q.channels, q.authors, q.after_ms, q.before_ms, q.has, q.thread)
    if not (q.words or any(q.phrases) or any(filters)):
        raise InvalidInput(
            "Search for some words, or filter with `in:channel`, `from:user`, `has:file`, `before:` or `after:`."
        )
    return q


@dataclass(frozen=True)
class SearchPage:
    total: int
    page: int
    hits: list[Message]
    query: str
    total_exact: bool = True
    """False when the page came from a recent time window: ``total`` counts that window only."""
    since_ms: int | None = None
    """Start (exclusive) of the window the page came from; None for the whole history."""
    archived_before: int | None = None
    """The whole history was searched, but what came before this time (ms) is in the archive."""


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


@dataclass(frozen=True)
class TopPosters:
    rows: list[tuple[str, int]]
    """(username, messages), most first."""
    source: str
    """``counters`` (the maintained ``cb:top`` sorted sets) or ``aggregate`` (FT.AGGREGATE)."""


@dataclass(frozen=True)
class UserQuery:
    names: list[str] = field(default_factory=list)
    city: str = ""
    country: str = ""
    hobby: str = ""
    near: tuple[float, float, float] | None = None

    def to_redisearch(self) -> str:
        parts: list[str] = []
        for name in self.names:
            # each word in either name field: "John Smith" finds firstname John + lastname Smith
            parts += [f"@firstname|lastname:{word}" for word in plain_words(name)]
        for fname, value in (("city", self.city), ("country", self.country), ("hobbies", self.hobby)):
            if value:
                parts.append(f"@{fname}:{{{escape_tag(value)}}}")
        if self.near:
            lat, lon, km = self.near
            parts.append(f"@location:[{lon} {lat} {km} km]")
        return " ".join(parts) or "*"


def parse_user_query(text: str) -> UserQuery:
    names: list[str] = []
    fields: dict[str, str] = {}
    near: tuple[float, float, float] | None = None
    for match in _TOKEN.finditer(text):
        token = match.group(1) if match.group(1) is not None else match.group(2)
        op, sep, value = token.partition(":")
        op = op.lower()
        if sep and value and op in ("city", "country", "hobby", "name"):
            clean = validation.profile_field(op, value.replace("_", " "))
            if op == "name":
                names.append(clean)
            else:
                fields[op] = clean.lower() if op == "hobby" else clean
        elif sep and value and op == "near":
            parts = value.split(",")
            if len(parts) != 3:
                raise InvalidInput("`near:` takes `lat,lon,km`, e.g. `near:51.5,-0.12,25`.")
            lat, lon = validation.location(",".join(parts[:2]))
            try:
                km = float(parts[2])
            except ValueError:
                km = -1.0
            if not 0 < km <= 20000:
                raise InvalidInput("The distance in `near:` must be between 0 and 20000 km.")
            near = (lat, lon, km)
        else:
            names.append(validation.profile_field("name", token))
    return UserQuery(names, fields.get("city", ""), fields.get("country", ""), fields.get("hobby", ""), near)


class Finder:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx
        self._probe_at = 0.0
        """When (monotonic) the next search first checks that the indexes are still chatbridge's."""
        self._missing_ts = MissingTs(ctx.redis, ctx.module)
        """Documents another tool indexed without ts, found by counting (bridge/store/missing_ts.py)."""

    async def _repairing(self, run: Callable[[], Awaitable[T]]) -> T:
        """Run a search; if RediSearch refuses it because the indexes changed under this process
        (another tool flushed the database, or dropped and re-created them with default stopwords
        or without ``ts``, as the guide's loader does while the bridge runs), repair them and retry
        once. An error the repair does not explain is raised as it was."""
        if time.monotonic() >= self._probe_at:
            # 1.x answers a query on a replaced index with 0 hits, not an error: look now and then
            self._probe_at = time.monotonic() + INDEX_PROBE_S
            if not await indexes_intact(self.ctx.redis):
                done = await ensure_search(self.ctx.redis, self.ctx.module, after_error=True)
                log.warning("search: the indexes changed under the bridge; %s", "; ".join(done))
                self._missing_ts.forget()
        try:
            return await run()
        except ResponseError as err:
            done = await ensure_search(self.ctx.redis, self.ctx.module, after_error=True)
            if not done:
                raise
            log.warning("search refused (%s): the indexes changed under the bridge; %s", err, "; ".join(done))
        self._missing_ts.forget()  # new indexes: look for ts-less hashes again
        return await run()

    async def messages(self, text: str, page_size: int = PAGE_SIZE) -> SearchPage:
        """Messages matching ``text``, newest first (see :meth:`_messages`); indexes repaired once
        if another tool replaced them."""
        return await self._repairing(lambda: self._messages(text, page_size))

    async def _messages(self, text: str, page_size: int) -> SearchPage:
        """Newest first, without sorting every match: the query runs on a recent time window first
        (``@ts:[(now-W +inf]``) and widens only while the window holds fewer matches than the page
        needs, then on the whole history. Correct by construction: every match outside the window is
        older than every match inside it (``ts`` <= the window's exclusive start), so when the window
        holds ``offset + page_size`` matches, the page is exactly the page of the full answer. The
        total is then a lower bound (``total_exact`` False, ``since_ms`` the window start).

        The order is (ts, id) newest first, made exact here: RediSearch breaks ``ts`` ties by heap
        position, so the same tie could land on two pages (or none) as the LIMIT changes."""
        now = self.ctx.now_ms()
        q = parse_message_query(text, now)
        if q.thread:  # any message of a thread names it: the tag holds the root's id
            q.thread = await self.ctx.redis.hget(keys.message(q.thread), "thread") or q.thread
        query = q.to_redisearch()
        offset = (q.page - 1) * page_size
        need = offset + page_size
        await self._missing_ts.ensure(query, now)
        anchor = min(now, q.before_ms) if q.before_ms is not None else now
        span = WINDOW_START_MS
        # a query filtered by channel or author matches few messages: its full sort is cheap, while a
        # time window adds a numeric range to walk (measured at 1M: 9-48 ms full vs 7-90 ms windowed)
        rounds = 0 if (q.channels or q.authors) else WINDOW_ROUNDS
        for _ in range(rounds):
            since = anchor - span
            if q.after_ms is not None and q.after_ms >= since:
                break  # the query's own after: is narrower than the window
            windowed = replace(q, after_ms=since).to_redisearch()
            total, ranked = await self._ranked(windowed, need)
            if total >= need:
                hits = await self._page(ranked, offset, page_size)
                return SearchPage(total, q.page, hits, query, total_exact=False, since_ms=since)
            # widen: to where the density seen so far says the page will be full (x2 margin)
            grow = 2 * need / total if total else WINDOW_GROWTH
            span = int(span * min(max(grow, 2.0), WINDOW_GROWTH))
            if span >= WINDOW_LIMIT_MS:
                break
        total, ranked = await self._ranked(query, need)
        hits = await self._page(ranked, offset, page_size)
        return SearchPage(total, q.page, hits, query, archived_before=await self._archived_before(q))

    async def _archived_before(self, q: MessageQuery) -> int | None:
        """When the whole history was searched: the newest retention boundary of the channels asked
        about (every channel without ``in:``), if any history went to the archive."""
        archived: dict[str, str] = await self.ctx.redis.hgetall(keys.ARCHIVED)
        wanted = [int(v) for ch, v in archived.items() if v.isdigit() and (not q.channels or ch in q.channels)]
        if not wanted or (q.after_ms is not None and q.after_ms >= max(wanted)):
            return None
        return max(wanted)

    async def _ranked(self, query: str, need: int) -> tuple[int, list[tuple[int, str]]]:
        """The first ``need`` matches by (ts, id), newest first, as (ts, message id), and the total.
        Asks for one more than needed: when it ties with the last one, the whole tie (same ts) is
        read, so the cut falls where the exact order puts it."""
        redis = self.ctx.redis
        args = ("SORTBY", "ts", "DESC", "RETURN", 1, "ts", "LIMIT", 0, need + 1)
        total, hits = await search(redis, keys.IDX_MESSAGES, query, *args)
        rows = [(_int(f.get("ts")), keys.message_id_of(k)) for k, f in hits]
        if len(rows) > need and rows[need - 1][0] == rows[need][0]:
            tie = rows[need][0]
            _, same = await search(
                redis, keys.IDX_MESSAGES, f"@ts:[{tie} {tie}] {query}", "RETURN", 1, "ts", "LIMIT", 0, TIE_LIMIT
            )
            rows = [r for r in rows if r[0] != tie] + [(tie, keys.message_id_of(k)) for k, _ in same]
        rows.sort(key=lambda r: (r[0], *keys.stream_order(r[1])), reverse=True)
        return total, rows[:need]

    async def _page(self, ranked: list[tuple[int, str]], offset: int, size: int) -> list[Message]:
        return await Messages(self.ctx).by_ids([mid for _, mid in ranked[offset : offset + size]])

    async def users(self, text: str, limit: int = 25) -> tuple[int, list[dict[str, str]]]:
        query = parse_user_query(text).to_redisearch()
        total, hits = await self._repairing(lambda: search(self.ctx.redis, keys.IDX_USERS, query, "LIMIT", 0, limit))
        rows = [
            {k: v for k, v in fields.items() if not k.startswith("channel:") and k != "auto"}
            | {"username": fields.get("username") or key.removeprefix(keys.USER_PREFIX)}
            for key, fields in hits
        ]
        rows.sort(key=lambda r: r["username"])
        return total, rows

    async def top(self, limit: int, channel: str | None = None, *, source: str = "") -> TopPosters:
        """Top posters: from the maintained counters (``cb:top``, one ZREVRANGE whatever the history)
        when they count every message, else the guide's FT.AGGREGATE. ``source`` forces one
        (``counters`` / ``aggregate``; the bench compares them)."""
        if not source:
            flag = await self.ctx.redis.hget(keys.META, keys.META_TOP)
            source = "counters" if flag == "counters" else "aggregate"
        if source == "counters":
            key = keys.top_in(channel) if channel else keys.TOP
            raw = await self.ctx.redis.zrevrange(key, 0, max(0, limit - 1), withscores=True)
            return TopPosters([(str(name), int(score)) for name, score in raw], "counters")
        return TopPosters(await self.aggregate_top(limit, channel), "aggregate")

    async def aggregate_top(self, limit: int, channel: str | None = None) -> list[tuple[str, int]]:
        """Top posters with FT.AGGREGATE (LOAD before GROUPBY so it also works when username is not
        SORTABLE, e.g. an index created by the guide's loader)."""
        query = "@channel:{" + escape_tag(channel) + "}" if channel else "*"
        try:
            raw = await self.ctx.redis.execute_command(
                "FT.AGGREGATE", keys.IDX_MESSAGES, query,
                "LOAD", "1", "@username",
                "GROUPBY", "1", "@username", "REDUCE", "COUNT", "0", "AS", "n",
                "SORTBY", "2", "@n", "DESC", "LIMIT", "0", str(limit),
            )  # fmt: skip
        except ResponseError as err:
            # RediSearch 1.2 answers FT.AGGREGATE on a tag value no document has (a channel without
            # messages) with "Internal error processing QueryParseCtx" instead of zero rows
            if "QueryParseCtx" in str(err):
                return []
            raise
        rows: list[tuple[str, int]] = []
        for row in raw[1:]:
            data = {str(row[i]): str(row[i + 1]) for i in range(0, len(row) - 1, 2)}
            if data.get("username"):
                rows.append((data["username"], int(float(data.get("n", "0")))))
        return rows

    async def active(self, minutes: int, limit: int, channel: str | None = None) -> list[tuple[str, int]]:
        key = keys.active_in(channel) if channel else keys.ACTIVE
        since = self.ctx.now_ms() - minutes * 60_000
        raw = await self.ctx.redis.zrevrangebyscore(key, "+inf", since, start=0, num=limit, withscores=True)
        return [(str(name), int(score)) for name, score in raw]


def fmt_time(ms: int) -> str:
    return (datetime.fromtimestamp(ms / 1000, tz=UTC)).strftime("%Y-%m-%d %H:%M UTC")


def ago(ms: int, now_ms: int) -> str:
    delta = timedelta(milliseconds=max(0, now_ms - ms))
    if delta < timedelta(minutes=1):
        return "just now"
    if delta < timedelta(hours=1):
        return f"{delta.seconds // 60} min ago"
    if delta < timedelta(days=1):
        return f"{delta.seconds // 3600} h ago"
    return f"{delta.days} d ago"
