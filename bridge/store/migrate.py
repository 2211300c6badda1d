"""Schema upgrades of chatbridge's own keys, run once by ``Chat.open`` (``cb:meta`` ``schema``).

Schema 2: ``cb:posts:<user>`` (the messages a user posted, for renames and merges) was a sorted set
of message ids scored by time, ~120 bytes a message once it is large; it is now a stream whose entry
ids are the message ids (a few bytes a message). Each user's set is converted in one transaction.
"""

from __future__ import annotations

import logging

from bridge.store import keys
from bridge.store.connection import RedisClient as Redis

log = logging.getLogger(__name__)

SCHEMA = 2


def _id_order(message_id: str) -> tuple[int, int]:
    ms, _, seq = message_id.partition("-")
    return (int(ms) if ms.isdigit() else 0, int(seq) if seq.isdigit() else 0)


async def upgrade(redis: Redis) -> list[str]:
    """Bring chatbridge's keys to :data:`SCHEMA`; returns what was done, for logs."""
    current = int(await redis.hget(keys.META, "schema") or SCHEMA)
    done: list[str] = []
    if current < 2:
        converted = 0
        async for key in redis.scan_iter(match=keys.posts_of("*"), count=1000, _type="ZSET"):
            ids = sorted((str(m) for m in await redis.zrange(key, 0, -1)), key=_id_order)
            async with redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                for mid in ids:
                    pipe.xadd(key, {"m": ""}, id=mid)
                await pipe.execute()
            converted += 1
        done.append(f"schema 2: {converted} post records converted to streams")
    await redis.hset(keys.META, "schema", str(SCHEMA))
    return done
