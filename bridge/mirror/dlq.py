"""The dead-letter stream (``cb:dlq``): jobs that kept failing, and what an operator does with them.

The worker moves a job there (with the destination, the job's fields, the last error and the number
of attempts) and acknowledges it in the outbox in one script, so one bad message never blocks a
destination. ``chatbridge dlq list|retry|drop`` calls the three functions at the bottom; a retried
job goes to the end of its destination's outbox and the worker that owns it is woken through the
mirror log (``mirror_retry.lua``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from bridge.store import keys
from bridge.store.connection import RedisClient
from bridge.store.scripts import Scripts

JOB_FIELDS = ("core", "channel", "type", "entry", "user")
RETRY_CHUNK = 500


async def dead_letter(
    redis: RedisClient,
    scripts: Scripts,
    *,
    destination: str,
    partition: int,
    outbox_id: str,
    job: Mapping[str, str],
    error: str,
    attempts: int,
) -> str:
    """Append a job to the dead-letter stream and XACK it in its outbox (atomically)."""
    fields: list[str] = ["destination", destination, "partition", str(partition), "outbox_id", outbox_id]
    for name in JOB_FIELDS:
        if job.get(name):
            fields += [name, job[name]]
    fields += ["error", error[:500], "attempts", str(attempts), "ts", str(int(time.time() * 1000))]
    entry: str = await scripts.mirror_dead(
        keys=[],
        args=[keys.outbox(destination), keys.MIRROR_GROUP, outbox_id, keys.DEAD_LETTERS, *fields],
        client=redis,
    )
    return entry


async def list_dead(redis: RedisClient, limit: int = 100) -> list[dict[str, str]]:
    """The oldest ``limit`` dead letters, each with its entry ``id`` and fields."""
    rows = await redis.xrange(keys.DEAD_LETTERS, "-", "+", count=max(1, limit))
    return [{"id": entry_id, **fields} for entry_id, fields in rows]


async def retry_dead(redis: RedisClient, entry_id: str = "all") -> int:
    """Re-enqueue one dead letter (by id) or ``"all"`` at the end of its destination's outbox and
    remove it from the dead-letter stream; returns how many were re-queued."""
    scripts = Scripts.load(redis)
    target = entry_id.strip() or "all"
    base = [keys.DEAD_LETTERS, keys.MIRROR_GROUP, keys.OUTBOX_PREFIX, keys.OUTBOXES, keys.MIRROR_LOG_PREFIX]
    if target != "all":
        count, _ = await scripts.mirror_retry(keys=[], args=[*base, target], client=redis)
        return int(count)
    total = 0
    while True:  # in chunks, so a large dead-letter stream never blocks Redis for long
        count, examined = await scripts.mirror_retry(keys=[], args=[*base, "all", RETRY_CHUNK], client=redis)
        total += int(count)
        if int(examined) < RETRY_CHUNK:
            return total


async def drop_dead(redis: RedisClient, entry_id: str = "all") -> int:
    """Delete one dead letter (by id) or all of them; returns how many were deleted."""
    if entry_id.strip() in ("", "all"):
        async with redis.pipeline(transaction=True) as pipe:
            pipe.xlen(keys.DEAD_LETTERS)
            pipe.delete(keys.DEAD_LETTERS)
            count, _ = await pipe.execute()
        return int(count)
    return int(await redis.xdel(keys.DEAD_LETTERS, entry_id.strip()))
