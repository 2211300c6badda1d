"""Redis connections: RESP2 (what RediSearch 1.x answers), retries with backoff on lost connections.

:func:`connect` is the one place a client is made: a ``redis://`` / ``rediss://`` / ``unix://`` URL
gives a client of that server, a ``redis+sentinel://`` URL (built from ``redis.sentinel``, see
:mod:`bridge.store.sentinel`) a client of the group's current primary that follows a failover."""

from __future__ import annotations

import logging
from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError

from bridge.store import sentinel

log = logging.getLogger(__name__)

RedisClient: TypeAlias = Any
"""A ``redis.asyncio.Redis`` built by :func:`connect` (``decode_responses=True``). redis-py's type hints
say every reply is ``bytes | str`` whatever the decoding, so the core holds its client as ``Any`` and
checks reply shapes where it reads them; :func:`connect` itself returns the real type."""


class LoggedBackoff(ExponentialWithJitterBackoff):
    """redis-py's jittered exponential backoff, logging each retry so an outage is visible."""

    def compute(self, failures: int) -> float:
        delay: float = super().compute(failures)
        log.warning("redis connection lost; retry %d in %.2fs", failures, delay)
        return delay


def connect(
    url: str, *, retries: int = 8, socket_timeout: float | None = 10.0, max_connections: int | None = None
) -> Redis:
    """A client that retries a command on a lost connection with exponential backoff (jittered,
    10 ms up to 2 s, ``retries`` times) before raising. Long-running loops catch the final error,
    log it and reconnect, so nothing crashes while Redis restarts or fails over. ``max_connections``
    bounds the pool: past it, callers wait for a free connection instead of opening one more."""
    options: dict[str, Any] = {
        "protocol": 2,
        "decode_responses": True,
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": 5.0,
        "retry": Retry(LoggedBackoff(cap=2.0, base=0.01), retries),
        "retry_on_error": [ConnectionError, TimeoutError, ConnectionResetError],
        "health_check_interval": 30,
    }
    if sentinel.is_sentinel(url):
        return sentinel.master_client(url, max_connections=max_connections, **options)
    if max_connections is not None:
        pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=None, **options)
        return Redis.from_pool(pool)
    client: Redis = Redis.from_url(url, **options)
    return client


def redacted(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def blocking_client(url: str) -> Redis:
    """A second client for blocking XREAD / XREADGROUP, as the guide advises: no socket timeout."""
    return connect(url, socket_timeout=None)
