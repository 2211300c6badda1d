"""RediSearch on both generations: version detection, the two indexes, escaping and queries.

RediSearch 1.x (Debian's ``redis-redisearch``) indexes nothing by itself: every write is followed
by ``FT.ADDHASH ... REPLACE`` (inside the Lua scripts), deletes use ``FT.DEL ... DD``. RediSearch
2.x+ (Redis Stack, Redis 8) follows hashes by key prefix (``ON HASH PREFIX``) and has no
FT.ADDHASH. :class:`SearchModule` knows which one is loaded and all FT calls go through here.
Both indexes are created with ``STOPWORDS 0`` so that a tag or word such as ``the`` stays
searchable and phrases containing stopwords are not syntax errors (see notes/redisearch-1.2.md).
An index made by another tool (the guide's loader) with default stopwords is rebuilt, keeping its
fields' SORTABLE flags and any fields chatbridge does not know.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from bridge.errors import StoreError
from bridge.store import keys
from bridge.store.connection import RedisClient as Redis

log = logging.getLogger(__name__)

USERS_SCHEMA: tuple[tuple[str, ...], ...] = (
    ("firstname", "TEXT"),
    ("lastname", "TEXT"),
    ("city", "TAG"),
    ("country", "TAG"),
    ("username", "TAG"),
    ("hobbies", "TAG"),
    ("location", "GEO"),
)
# Only ts is SORTABLE (SORTBY ts): a SORTABLE username cost ~27 bytes a message in the index's sorting
# vectors and nothing reads it (the FT.AGGREGATE top LOADs @username; the top counters need no index).
# An index created before keeps its flags (merged_schema), as one made by the guide's loader does.
MESSAGES_SCHEMA: tuple[tuple[str, ...], ...] = (
    ("username", "TAG"),
    ("channel", "TAG"),
    ("message", "TEXT"),
    ("ts", "NUMERIC", "SORTABLE"),
    ("origin", "TAG"),
    ("has", "TAG"),
    ("thread", "TAG"),
)
INDEXES = {
    keys.IDX_USERS: (keys.USER_PREFIX, USERS_SCHEMA),
    keys.IDX_MESSAGES: (keys.MESSAGE_PREFIX, MESSAGES_SCHEMA),
}

STOPWORD_PROBE = '"the match"'
"""A phrase starting with a stopword: a syntax error on both generations while default stopwords are
on (1.2 also fails ``@tag:{the}``, 2.10 does not), an EXACT node with ``STOPWORDS 0``."""
REBUILD_WAIT_S = 30.0
"""On 2.x a rebuilt index scans the existing hashes in the background; start-up waits this long."""
_FLAGS = ("SORTABLE", "NOSTEM", "NOINDEX", "CASESENSITIVE", "UNF")

_TAG_SPECIAL = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]")
_QUERY_SPECIAL = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]")


def escape_tag(value: str) -> str:
    """Escape a value for ``@field:{...}``: a backslash before every ASCII non-alphanumeric."""
    return _TAG_SPECIAL.sub(lambda m: "\\" + m.group(), value.strip(" \t\n\r\x0b\x0c"))


def plain_words(text: str) -> list[str]:
    """Words of user text with every ASCII operator replaced by a space (never backslash-escaped);
    words made only of ``_`` are dropped (``@field:_`` is a syntax error on 1.2)."""
    return [word for word in _QUERY_SPECIAL.sub(" ", text).split() if word.strip("_")]


@dataclass(frozen=True)
class SearchModule:
    version: int
    """``MODULE LIST`` ``ver`` of the ``ft`` / ``search`` module, e.g. 10200 for 1.2.0."""

    @property
    def explicit(self) -> bool:
        """True on RediSearch 1.x: writes must call FT.ADDHASH themselves."""
        return self.version < 20000

    @property
    def label(self) -> str:
        major, rest = divmod(self.version, 10000)
        minor, patch = divmod(rest, 100)
        return f"RediSearch {major}.{minor}.{patch}"


async def detect(redis: Redis) -> SearchModule:
    modules: list[Any] = await redis.execute_command("MODULE", "LIST")
    for entry in modules:
        info = _pairs(entry)
        if str(info.get("name", "")).lower() in ("ft", "search"):
            return SearchModule(version=int(info.get("ver", 0)))
    raise StoreError(
        "The Redis server has no RediSearch module loaded. Debian: apt-get install -y redis-redisearch and "
        "start redis-server with --loadmodule /usr/lib/redis/modules/redisearch.so, or unset the Redis URL "
        "so chatbridge starts its own server."
    )


def info_pairs(entry: Any) -> dict[str, Any]:
    """An FT.INFO / MODULE LIST reply (a flat list or, on RESP3, a map) as a dict."""
    return _pairs(entry)


def _pairs(entry: Any) -> dict[str, Any]:
    if isinstance(entry, dict):
        return {str(k): v for k, v in entry.items()}
    items = list(entry)
    return {str(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)}


async def ensure_indexes(redis: Redis, module: SearchModule) -> list[str]:
    """Create missing indexes and add fields missing from existing ones (e.g. created by the guide's
    loader). Returns what was done, for logs."""
    done: list[str] = []
    for name, (prefix, schema) in INDEXES.items():
        info = await _index_info(redis, name)
        if info is None:
            await _create(redis, module, name, prefix, schema)
            if not module.explicit:
                await wait_indexed(redis, name)  # hashes already there (written by other tools)
            done.append(f"created {name}")
            continue
        existing = field_specs(info)
        retyped = [f[0] for f in schema if f[0] in existing and existing[f[0]][0] != f[1]]
        if retyped or not await _stopwords_off(redis, module, name, info):
            # created elsewhere (the guide's loader) with default stopwords: `{the}`, `from:it` and
            # phrases such as "what a match" would be errors or find nothing; or with one of our
            # fields of another type (a TEXT `username`: `@username:{ada}` finds nothing, silently,
            # and renames find a user's messages with it). Rebuild it; the hashes stay, and so do
            # the other tool's SORTABLE flags and extra fields.
            await redis.execute_command(*(("FT.DROP", name, "KEEPDOCS") if module.explicit else ("FT.DROPINDEX", name)))
            await _create(redis, module, name, prefix, merged_schema(schema, existing))
            if not module.explicit:
                await wait_indexed(redis, name)
            done.append(f"rebuilt {name} " + (f"with {', '.join(retyped)} retyped" if retyped else "without stopwords"))
            continue
        for field in schema:
            if field[0] not in existing:
                await redis.execute_command("FT.ALTER", name, "SCHEMA", "ADD", *field)
                done.append(f"added {field[0]} to {name}")
    return done


async def _create(
    redis: Redis, module: SearchModule, name: str, prefix: str, schema: tuple[tuple[str, ...], ...]
) -> None:
    args: list[str] = ["FT.CREATE", name]
    if not module.explicit:
        args += ["ON", "HASH", "PREFIX", "1", prefix]
    args += ["STOPWORDS", "0", "SCHEMA"]
    for field in schema:
        args += list(field)
    await redis.execute_command(*args)


async def _stopwords_off(redis: Redis, module: SearchModule, name: str, info: dict[str, Any]) -> bool:
    """True when stopwords are ordinary terms in this index (``STOPWORDS 0``). 2.x's FT.INFO lists
    ``stopwords_list`` only for an index created with STOPWORDS (empty for 0); 1.x has no such
    field, so a phrase that starts with a stopword is asked to FT.EXPLAIN instead."""
    if not module.explicit and "stopwords_list" in info:
        return not list(info["stopwords_list"] or [])
    try:
        await redis.execute_command("FT.EXPLAIN", name, STOPWORD_PROBE)
    except ResponseError as err:
        if "syntax error" in str(err).lower():
            return False
        raise
    return module.explicit


async def indexes_intact(redis: Redis) -> bool:
    """One round trip: both indexes exist and a phrase starting with a stopword parses in each
    (False once another tool dropped them or re-created them with default stopwords)."""
    async with redis.pipeline(transaction=False) as pipe:
        for name in INDEXES:
            pipe.execute_command("FT.EXPLAIN", name, STOPWORD_PROBE)
        answers = await pipe.execute(raise_on_error=False)
    return not any(isinstance(answer, Exception) for answer in answers)


async def wait_indexed(redis: Redis, name: str, limit_s: float = REBUILD_WAIT_S) -> bool:
    """Wait (bounded) until a 2.x index has scanned the existing hashes; False if still going."""
    try:
        async with asyncio.timeout(limit_s):
            while True:
                info = await _index_info(redis, name)
                if info is None or str(info.get("indexing", "0")) in ("0", "0.0"):
                    return True
                await asyncio.sleep(0.05)  # the module reports progress only through FT.INFO
    except TimeoutError:
        log.warning("%s is still indexing the existing hashes in the background", name)
        return False


async def _index_info(redis: Redis, name: str) -> dict[str, Any] | None:
    try:
        info = await redis.execute_command("FT.INFO", name)
    except ResponseError as err:
        if "unknown index" in str(err).lower() or "no such index" in str(err).lower():
            return None
        raise
    return _pairs(info)


def field_specs(info: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Field name -> (type, flags…) from FT.INFO: 1.x ``fields`` ([name, "type", T, opts…]) or 2.x
    ``attributes`` ([identifier, x, attribute, name, type, T, opts…])."""
    specs: dict[str, tuple[str, ...]] = {}
    for spec in info.get("fields") or info.get("attributes") or []:
        items = [str(v) for kv in spec.items() for v in kv] if isinstance(spec, dict) else [str(v) for v in spec]
        if items and items[0] in ("identifier", "attribute"):
            pairs = dict(zip(items[::2], items[1::2], strict=False))
            field = pairs.get("attribute") or pairs.get("identifier", "")
        else:
            field = items[0] if items else ""
        kind = items[items.index("type") + 1].upper() if "type" in items[:-1] else "TEXT"
        specs[field] = (kind, *(flag for flag in _FLAGS if flag in items))
    return specs


def merged_schema(
    schema: tuple[tuple[str, ...], ...], existing: dict[str, tuple[str, ...]]
) -> tuple[tuple[str, ...], ...]:
    """chatbridge's fields with the existing index's flags (the guide's SORTABLE) added, then the
    existing fields chatbridge does not define."""
    ours = {field[0] for field in schema}
    merged = []
    for name, kind, *flags in schema:
        extra = [f for f in existing.get(name, ())[1:] if f == "SORTABLE" and f not in flags]
        merged.append((name, kind, *flags, *extra))
    merged += [(name, *spec) for name, spec in existing.items() if name not in ours and name]
    return tuple(merged)


async def document_count(redis: Redis, index: str) -> int:
    """``num_docs`` of an index (FT.INFO); documents of deleted hashes a 1.x index still holds count."""
    data = _pairs(await redis.execute_command("FT.INFO", index))
    return int(float(data.get("num_docs", 0)))


async def index_hash(redis: Redis, module: SearchModule, index: str, key: str) -> None:
    """(Re)index one hash written outside the scripts (1.x only; 2.x follows hashes by itself)."""
    if module.explicit:
        await redis.execute_command("FT.ADDHASH", index, key, "1.0", "REPLACE")


async def search(
    redis: Redis, index: str, query: str, *args: str | int
) -> tuple[int, list[tuple[str, dict[str, str]]]]:
    """FT.SEARCH returning (total, [(key, fields)]); ghost documents (deleted hashes still in a 1.x
    index) are dropped."""
    raw: list[Any] = await redis.execute_command("FT.SEARCH", index, query, *args)
    return _hits(raw)


async def fill_ts(redis: Redis, module: SearchModule, message_keys: list[str]) -> None:
    """Give message hashes that lack ``ts`` the time of their stream id (HSETNX: a ``ts`` written
    meanwhile wins) and, on 1.x, re-index them; a 1.x document whose hash is gone (deleted by another
    tool without FT.DEL) leaves the index instead of coming back as a hash of ``ts`` alone."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in message_keys:
            pipe.exists(key)
        there = await pipe.execute()
    async with redis.pipeline(transaction=False) as pipe:
        for key, exists in zip(message_keys, there, strict=True):
            if exists:
                pipe.hsetnx(key, "ts", keys.stream_ms(keys.message_id_of(key)))
                if module.explicit:
                    pipe.execute_command("FT.ADDHASH", keys.IDX_MESSAGES, key, "1.0", "REPLACE")
            elif module.explicit:
                pipe.execute_command("FT.DEL", keys.IDX_MESSAGES, key)
        await pipe.execute(raise_on_error=False)


def _hits(raw: list[Any]) -> tuple[int, list[tuple[str, dict[str, str]]]]:
    total = int(raw[0])
    hits: list[tuple[str, dict[str, str]]] = []
    for i in range(1, len(raw), 2):
        key = str(raw[i])
        content = raw[i + 1] if i + 1 < len(raw) else []
        fields = {str(content[j]): str(content[j + 1]) for j in range(0, len(content) - 1, 2)}
        if fields:
            hits.append((key, fields))
    return total, hits
