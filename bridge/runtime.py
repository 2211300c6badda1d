"""Opening the Redis chatbridge uses: a configured URL, the embedded server another chatbridge
process already runs on the same data dir, or a new embedded server."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bridge.config import Config
from bridge.core import backfill_jobs
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, Invocation
from bridge.errors import ConfigError, StoreError
from bridge.store import keys
from bridge.store.connection import RedisClient, connect, redacted
from bridge.store.datadir import DataDirServer, open_server
from bridge.store.embedded import COMPACT_ARGS, EmbeddedRedis

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    url: str
    redis: RedisClient
    chat: Chat
    embedded: DataDirServer | None
    """The data dir's embedded server (None with an external Redis)."""


RUNTIME_CONNECTIONS = 64
"""Connections of the client ``chatbridge run`` and the CLI share (adapters, core, health). Past it a
caller waits for a free one: redis-py's default pool raises ``MaxConnectionsError`` past 100 instead,
a ConnectionError that the outage hold took for Redis being away (a burst of lookups on ten busy
Slack channels hit it). The blocking reads have clients of their own (notify, the mirror router)."""


async def _reachable(url: str) -> None:
    """One PING without retries, so a Redis that is down is one clear line (exit 3), not a series
    of retry warnings and a traceback."""
    probe = connect(url, retries=0)
    try:
        await probe.ping()
    except (RedisConnectionError, RedisTimeoutError) as err:
        raise StoreError(f"Redis is unavailable at {redacted(url)}: {err}") from None
    finally:
        await probe.aclose()


@contextlib.asynccontextmanager
async def open_runtime(config: Config, *, own_server: bool = False) -> AsyncIterator[Runtime]:
    """Yield a connected :class:`Runtime`. ``own_server`` (``chatbridge run``) starts the embedded
    server and publishes its address; other commands reuse it or start a temporary one."""
    url = config.redis_url()
    embedded: DataDirServer | None = None
    if own_server:
        # `chatbridge run` writes its sandbox and endpoint files there even with an external Redis
        try:
            config.redis.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"redis.data_dir: cannot create {config.redis.data_dir}: {err.strerror}") from None
    if url is None:
        embedded = open_server(
            config.redis.data_dir,
            lambda: EmbeddedRedis(
                data_dir=config.redis.data_dir,
                appendonly=config.redis.appendonly,
                appendfsync=config.redis.appendfsync,
                module_path=config.redis.module_path,
                server_binary=config.redis.server_binary,
                extra_args=list(COMPACT_ARGS),
            ),
            role="run" if own_server else "command",
        )
        url = embedded.url
    await _reachable(url)
    redis = connect(url, max_connections=RUNTIME_CONNECTIONS)
    try:
        chat = await Chat.open(redis, config.core_settings())
        await apply_static_config(chat, config)
        yield Runtime(url, redis, chat, embedded)
    finally:
        await redis.aclose()
        if embedded is not None:
            embedded.stop()


async def apply_static_config(chat: Chat, config: Config) -> None:
    """Admins and room links from the config file (links made by command are kept as well)."""
    if config.admins:
        await chat.ctx.redis.sadd(keys.ADMINS, *config.admins)
    for room in config.rooms:
        if not await chat.channels.exists(room.channel):
            await chat.channels.create(room.channel)
        backfill = config.backfill.default if room.backfill is None else room.backfill
        for link in room.links:
            ref = ChannelRef.parse(link)
            if await chat.channels.route(ref) in (None, room.channel):
                if await chat.channels.link(room.channel, ref) and backfill and ref.platform != "cli":
                    # a new link from the config: its history once (a repeat would only find duplicates)
                    await backfill_jobs.request(chat, ref, backfill, Invocation(platform="cli", username="config"))
            else:
                log.warning("config link %s skipped: it is already linked to another channel", link)
