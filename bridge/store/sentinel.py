"""Redis Sentinel: where the primary of a Sentinel-managed group is, found by redis-py.

A Sentinel target is written as ``redis+sentinel://host:port,host:port/<master name>`` (the
sentinels' addresses and the master name the sentinels monitor). chatbridge builds that string
itself from ``redis.sentinel`` (or ``REDIS_SENTINELS`` + ``REDIS_SENTINEL_MASTER``), so every place
that opens Redis from "the URL" (:func:`bridge.store.connection.connect`) gets a client of the
current primary without knowing about Sentinel.

The client is redis-py's ``Sentinel.master_for``: each new connection asks the sentinels for the
primary's address; a connection to a server that was demoted answers ``READONLY``, which redis-py
turns into a ``ConnectionError`` after dropping the connection, so the next attempt (the client's
retries, then the loops' own outage riding) reaches the new primary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

SCHEME = "redis+sentinel"
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\]")
_MASTER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SENTINEL_SOCKET_TIMEOUT_S = 2.0
"""A sentinel that does not answer within this is skipped for the next one (they are asked in turn)."""


def parse_address(text: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) → (host, port); ValueError says what is wrong."""
    value = text.strip()
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r} is not host:port (e.g. 10.0.0.5:26379)")
    if not _HOST.fullmatch(host):
        raise ValueError(f"{text!r}: {host!r} is not a host name or address")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return host.strip("[]"), int(port)


def check_master(name: str) -> str:
    value = name.strip()
    if not _MASTER.fullmatch(value):
        raise ValueError(
            f"{name!r} is not a master name (letters, digits, '.', '_', '-'; as in `sentinel monitor <name>`)"
        )
    return value


@dataclass(frozen=True)
class SentinelTarget:
    master: str
    addresses: tuple[tuple[str, int], ...]

    def url(self) -> str:
        hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in self.addresses)
        return f"{SCHEME}://{hosts}/{self.master}"

    @classmethod
    def build(cls, master: str, addresses: list[str] | tuple[str, ...]) -> SentinelTarget:
        """Validated: a master name and at least one ``host:port``, no address twice."""
        if not addresses:
            raise ValueError("give at least one sentinel address (host:port)")
        parsed = tuple(parse_address(a) for a in addresses)
        if len(set(parsed)) != len(parsed):
            raise ValueError("a sentinel address is listed twice")
        return cls(check_master(master), parsed)


def is_sentinel(url: str) -> bool:
    return url.startswith(f"{SCHEME}://")


def parse_url(url: str) -> SentinelTarget:
    """The target of a ``redis+sentinel://`` URL (as :meth:`SentinelTarget.url` writes it)."""
    rest = url.removeprefix(f"{SCHEME}://")
    hosts, _, master = rest.partition("/")
    try:
        return SentinelTarget.build(master, [h for h in hosts.split(",") if h])
    except ValueError as err:
        raise ValueError(f"bad Sentinel URL {url!r}: {err}") from None


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """A Sentinel-managed pool with a bound: past ``max_connections`` a caller waits for a free
    connection (``timeout`` seconds, None: as long as it takes) instead of opening one more."""


class SentinelRedis(Redis):
    """The primary's client; closing it closes its connections to the sentinels too."""

    sentinels: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        sentinels, self.sentinels = self.sentinels, None
        if sentinels is not None:
            await sentinels.aclose()


def master_client(url: str, *, max_connections: int | None = None, **connection_kwargs: Any) -> SentinelRedis:
    """A client of the current primary of the group a ``redis+sentinel://`` URL names.
    ``max_connections`` bounds the pool (callers then wait for a free connection)."""
    target = parse_url(url)
    sentinels = Sentinel(  # type: ignore[no-untyped-call]
        list(target.addresses),
        sentinel_kwargs={
            "socket_timeout": SENTINEL_SOCKET_TIMEOUT_S,
            "socket_connect_timeout": SENTINEL_SOCKET_TIMEOUT_S,
            "decode_responses": True,
            "protocol": 2,
        },
    )
    pool_kwargs: dict[str, Any] = dict(connection_kwargs)
    pool_class: type[SentinelConnectionPool] = SentinelConnectionPool
    if max_connections is not None:
        pool_class = BlockingSentinelPool
        pool_kwargs |= {"max_connections": max_connections, "timeout": None}
    client = sentinels.master_for(
        target.master, redis_class=SentinelRedis, connection_pool_class=pool_class, **pool_kwargs
    )
    assert isinstance(client, SentinelRedis)
    client.sentinels = sentinels
    return client
