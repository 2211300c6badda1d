"""Message and user search on RediSearch, plus the aggregate and activity views.

User text never reaches a query unescaped: words pass through :func:`plain_words` (every ASCII
operator becomes a space) and tag values through :func:`escape_tag`. Filters are built here from
validated names only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from redis.exceptions import ResponseError

from bridge.core import validation
from bridge.core.context import CoreContext
from bridge.core.models import Message
from bridge.errors import InvalidInput
from bridge.store import keys
from bridge.store.search import escape_tag, plain_words, search, search_messages_by_time

_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')
_RELATIVE = re.compile(r"(\d{1,6})([mhdw])")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
PAGE_SIZE = 10
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
    page: int = 1

    def to_redisearch(self) -> str:
        parts: list[str] = []
        words = list(self.words)
        if words and self.prefix and len(words[-1]) >= 2:
            words[-1] += "*"
        parts += words
        parts += ['"' + " ".join(p) + '"' for p in self.phrases if p]
        if self.channels:
            parts.append("@channel:{" + "|".join(escape_tag(c) for c in self.channels) + "}")
        if self.authors:
            parts.append("@username:{" + "|".join(escape_tag(a) for a in self.authors) + "}")
        for what in self.has:
            parts.append("@has:{" + escape_tag(what) + "}")
        if self.after_ms is not None or self.before_ms is not None:
            low = f"({self.after_ms}" if self.after_ms is not None else "-inf"
            high = f"({self.before_ms}" if self.before_ms is not None else "+inf"
            parts.append(f"@ts:[{low} {high}]")
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
        if sep and value and op in ("in", "from", "before", "after", "page", "has"):
            if op == "has":
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
    if not (q.words or any(q.phrases) or q.channels or q.authors or q.after_ms or q.before_ms or q.has):
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

    async def messages(self, text: str, page_size: int = PAGE_SIZE) -> SearchPage:
        q = parse_message_query(text, self.ctx.now_ms())
        query = q.to_redisearch()
        offset = (q.page - 1) * page_size
        total, hits = await search_messages_by_time(
            self.ctx.redis, self.ctx.module, query, "SORTBY", "ts", "DESC", "LIMIT", offset, page_size
        )
        found = [
            Message.from_entry(f.get("channel", ""), keys.message_id_of(key), {"type": "message"}, f) for key, f in hits
        ]
        return SearchPage(total=total, page=q.page, hits=found, query=query)

    async def users(self, text: str, limit: int = 25) -> tuple[int, list[dict[str, str]]]:
        query = parse_user_query(text).to_redisearch()
        total, hits = await search(self.ctx.redis, keys.IDX_USERS, query, "LIMIT", 0, limit)
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
