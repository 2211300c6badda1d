"""RediSearch on both generations: version detection, the two indexes, escaping and queries.

RediSearch 1.x (Debian's ``redis-redisearch``) indexes nothing by itself: every write is followed
by ``FT.ADDHASH ... REPLACE`` (inside the Lua scripts), deletes use ``FT.DEL ... DD``. RediSearch
2.x+ (Redis Stack, Redis 8) follows hashes by key prefix (``ON HASH PREFIX``) and has no
FT.ADDHASH. :class:`SearchModule` knows which one is loaded and all FT calls go through here.
Both indexes are created with ``STOPWORDS 0`` so that a tag or word such as ``the`` stays
searchable and phrases containing stopwords are not syntax errors (see notes/redisearch-1.2.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from bridge.errors import StoreError
from bridge.store import keys
from bridge.store.connection import RedisClient as Redis

USERS_SCHEMA: tuple[tuple[str, ...], ...] = (
    ("firstname", "TEXT"),
    ("lastname", "TEXT"),
    ("city", "TAG"),
    ("country", "TAG"),
    ("username", "TAG"),
    ("hobbies", "TAG"),
    ("location", "GEO"),
)
MESSAGES_SCHEMA: tuple[tuple[str, ...], ...] = (
    ("username", "TAG", "SORTABLE"),
    ("channel", "TAG"),
    ("message", "TEXT"),
    ("ts", "NUMERIC", "SORTABLE"),
    ("origin", "TAG"),
    ("has", "TAG"),
)
INDEXES = {
    keys.IDX_USERS: (keys.USER_PREFIX, USERS_SCHEMA),
    keys.IDX_MESSAGES: (keys.MESSAGE_PREFIX, MESSAGES_SCHEMA),
}

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
        existing = await _index_fields(redis, name)
        if existing is None:
            await _create(redis, module, name, prefix, schema)
            done.append(f"created {name}")
            continue
        if not await _stopwords_off(redis, name):
            # created elsewhere (the guide's loader) with default stopwords: `{the}`, `from:it` and
            # phrases such as "what a match" would be syntax errors. Rebuild it; the hashes stay.
            await redis.execute_command(*(("FT.DROP", name, "KEEPDOCS") if module.explicit else ("FT.DROPINDEX", name)))
            await _create(redis, module, name, prefix, schema)
            done.append(f"rebuilt {name} without stopwords")
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


async def _stopwords_off(redis: Redis, name: str) -> bool:
    """True when a stopword is an ordinary term in this index (``STOPWORDS 0``)."""
    try:
        await redis.execute_command("FT.EXPLAIN", name, "@username:{the}")
    except ResponseError as err:
        if "syntax error" in str(err).lower():
            return False
        raise
    return True


async def _index_fields(redis: Redis, name: str) -> set[str] | None:
    try:
        info = await redis.execute_command("FT.INFO", name)
    except ResponseError as err:
        if "unknown index" in str(err).lower() or "no such index" in str(err).lower():
            return None
        raise
    data = _pairs(info)
    fields: set[str] = set()
    for spec in data.get("fields") or data.get("attributes") or []:
        spec_list = list(spec.items()) if isinstance(spec, dict) else list(spec)
        if isinstance(spec, dict):
            fields.add(str(spec.get("identifier") or spec.get("attribute")))
            continue
        first = spec_list[0]
        if first in ("identifier", "attribute"):
            fields.add(str(spec_list[1]))
        else:
            fields.add(str(first))
    return fields


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
    total = int(raw[0])
    hits: list[tuple[str, dict[str, str]]] = []
    for i in range(1, len(raw), 2):
        key = str(raw[i])
        content = raw[i + 1] if i + 1 < len(raw) else []
        fields = {str(content[j]): str(content[j + 1]) for j in range(0, len(content) - 1, 2)}
        if fields:
            hits.append((key, fields))
    return total, hits
