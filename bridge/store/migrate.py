"""Schema upgrades of chatbridge's own keys, run once by ``Chat.open`` (``cb:meta`` ``schema``).

Schema 3: the per-user post records ``cb:posts:<user>`` (schema 1: a sorted set of message ids,
~120 bytes a message; schema 2: a stream of them, ~27 bytes a message and one XADD a post) are gone:
a rename or merge finds the user's messages in ``idx:messages`` (``move_user.lua``). The upgrade
deletes every such key, whichever type it has; it only deletes, so a run interrupted half way is
finished by the next start (the schema is written last), and running it again finds nothing.
"""

from __future__ import annotations

import logging

from bridge.store import keys
from bridge.store.connection import RedisClient as Redis

log = logging.getLogger(__name__)

SCHEMA = 3
_UNLINK_BATCH = 500


async def upgrade(redis: Redis) -> list[str]:
    """Bring chatbridge's keys to :data:`SCHEMA`; returns what was done, for logs.

    A database without a ``schema`` field (a new one, or one written before the field existed) is
    scanned once too: on an empty database that costs nothing, and an old one may hold records."""
    current = int(await redis.hget(keys.META, "schema") or 0)
    done: list[str] = []
    if current < 3:
        dropped = 0
        batch: list[str] = []
        async for key in redis.scan_iter(match=keys.LEGACY_POSTS, count=1000):
            batch.append(str(key))
            if len(batch) >= _UNLINK_BATCH:
                dropped += int(await redis.unlink(*batch))
                batch = []
        if batch:
            dropped += int(await redis.unlink(*batch))
        if dropped:
            done.append(f"schema 3: {dropped} per-user post records dropped (renames and merges use the index)")
    if current < SCHEMA:
        await redis.hset(keys.META, "schema", str(SCHEMA))
    return done
