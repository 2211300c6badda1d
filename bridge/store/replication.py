"""``WAIT``: a write counts as safe once this many replicas have it (``redis.wait.replicas``).

``WAIT n timeout`` blocks the connection it is sent on until ``n`` replicas acknowledged the
replication offset of that connection's last write, and answers how many did. The writes of one
platform event are spread over the pool's connections, so the check is made on one connection
with a write of its own: ``INCR cb:replication:mark`` then ``WAIT``, in one non-transactional
pipeline (one connection, one round trip). The replication stream is ordered and every earlier
write of the event was answered before the mark was sent, so a replica that has the mark has them
all; the same holds for an event that turns out to be a duplicate (its first recording is covered).

Fewer replicas than asked within the timeout raise :class:`NotReplicated`: the event is then not
acknowledged (Slack delivers it again; Discord's is held in memory and tried again), and the
inbound dedupe by platform event key records it once whatever the number of attempts.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError

from bridge.store import keys
from bridge.store.connection import RedisClient


class NotReplicated(RedisError):
    """Fewer replicas than ``redis.wait.replicas`` acknowledged a write within the timeout."""


def queue_wait(pipe: Any, replicas: int, timeout_ms: int) -> None:
    """Append the mark and the ``WAIT`` to a non-transactional pipeline (its last two replies)."""
    pipe.incr(keys.REPLICATION_MARK)
    pipe.execute_command("WAIT", replicas, timeout_ms)


def check(acked: object, replicas: int, timeout_ms: int) -> None:
    """The ``WAIT`` reply: :class:`NotReplicated` when fewer than ``replicas`` acknowledged."""
    count = int(acked) if isinstance(acked, int | str) else 0
    if count < replicas:
        raise NotReplicated(
            f"only {count} of {replicas} replica(s) acknowledged the write within {timeout_ms} ms (redis.wait)"
        )


async def replicated(redis: RedisClient, replicas: int, timeout_ms: int) -> None:
    """Return once ``replicas`` replicas have every write made before this call (none asked: at
    once); :class:`NotReplicated` if they did not within ``timeout_ms``."""
    if replicas <= 0:
        return
    async with redis.pipeline(transaction=False) as pipe:
        queue_wait(pipe, replicas, timeout_ms)
        _, acked = await pipe.execute()
    check(acked, replicas, timeout_ms)
