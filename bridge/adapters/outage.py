"""Riding out a Redis outage on the inbound side: a platform event waits until it is recorded.

A platform event is acknowledged only once it is in Redis. While Redis is unreachable (killed,
restarting, loading its AOF, a Sentinel failover in progress), or does not get the write to
``redis.wait.replicas`` replicas in time (``NotReplicated``), the handler of each event is run
again with backoff (capped at 5 s) for as long as the outage lasts, holding the event in memory;
the room's lock keeps its later events behind it, in order. The number of events held is bounded
(``limit``, counted from the moment an event arrives, while it waits for its room's lock too):
past it, :class:`HoldFull` is raised and the adapter decides — Slack leaves the event
un-acked (Slack delivers it again later), Discord, which never redelivers, reports it as dropped
(WARNING + ``chatbridge_inbound_dropped_total{reason="redis_outage"}``) and tells the sender.
``held_for_redis`` / ``redis_away_since`` show on ``/healthz`` through the adapter's health info.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bridge.store.replication import NotReplicated

log = logging.getLogger(__name__)
T = TypeVar("T")

REDIS_AWAY: tuple[type[BaseException], ...] = (
    RedisConnectionError,  # also BusyLoadingError: the server is replaying its AOF
    RedisTimeoutError,
    ReadOnlyError,  # a primary that was demoted by a failover, before the client follows
    NotReplicated,  # recorded, but not on enough replicas yet (redis.wait): not acknowledged
    OSError,
    TimeoutError,
)
"""What "Redis is away" looks like from redis-py; anything else is a bug and is not retried here."""
DEFAULT_LIMIT = 10_000


class HoldFull(Exception):
    """The outage hold is full: this event cannot be held in memory."""


class OutageHold:
    def __init__(self, platform: str, *, limit: int = DEFAULT_LIMIT, max_delay: float = 5.0) -> None:
        self.platform = platform
        self.limit = limit
        self.max_delay = max_delay
        self.pending = 0
        """Events being handled now (waiting for their room's lock, or for Redis)."""
        self.away_since: float | None = None
        """Unix time the current outage was first seen; None while Redis answers."""
        self.held_total = 0
        """Events that had to wait for Redis (since start)."""

    @property
    def held(self) -> int:
        return self.pending if self.away_since is not None else 0

    def info(self) -> dict[str, object]:
        """For the adapter's health ``info``: how many events wait for Redis, and since when."""
        if self.away_since is None:
            return {"held_for_redis": 0}
        return {"held_for_redis": self.pending, "redis_away_since": round(self.away_since, 3)}

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one event for as long as it is being handled; :class:`HoldFull` when Redis is away
        and ``limit`` events are held already. Enter it before taking the room's lock (no await)."""
        if self.away_since is not None and self.pending >= self.limit:
            raise HoldFull(f"{self.pending} {self.platform} events already wait for Redis")
        self.pending += 1
        try:
            yield
        finally:
            self.pending -= 1

    async def ride(self, handle: Callable[[], Awaitable[T]], *, what: str) -> T:
        """``await handle()``, again and again while Redis is away (the handler must be idempotent;
        the ingest is, by event key)."""
        delay, counted = 0.2, False
        while True:
            try:
                result = await handle()
            except REDIS_AWAY as err:
                if self.away_since is None:
                    self.away_since = time.time()
                    log.warning("%s inbound: Redis is unreachable; holding events until it is back", self.platform)
                if not counted:
                    counted = True
                    self.held_total += 1
                log.warning("Redis unreachable while handling %s %s (%s); retrying in %.1fs",
                            self.platform, what, err or type(err).__name__, delay)  # fmt: skip
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_delay)
            else:
                if self.away_since is not None:
                    log.info("%s inbound: Redis is back after %.1fs", self.platform, time.time() - self.away_since)
                    self.away_since = None
                return result
