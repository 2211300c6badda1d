"""Opening the Redis chatbridge uses: a configured URL, the embedded server another chatbridge
process already runs on the same data dir, or a new embedded server."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bridge.config import Config
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.errors import ConfigError, StoreError
from bridge.store import keys
from bridge.store.connection import RedisClient, connect, redacted
from bridge.store.embedded import EmbeddedRedis

log = logging.getLogger("bridge.runtime")
ENDPOINT_FILE = "chatbridge-redis.json"


@dataclass
class Runtime:
    url: str
    redis: RedisClient
    chat: Chat
    embedded: EmbeddedRedis | None


def _running_embedded(data_dir: Path) -> str | None:
    """The URL of an embedded server started by another chatbridge process, if it is alive."""
    path = data_dir / ENDPOINT_FILE
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return str(info["url"])


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
    embedded: EmbeddedRedis | None = None
    endpoint = config.redis.data_dir / ENDPOINT_FILE
    if own_server:
        # `chatbridge run` writes its sandbox and endpoint files there even with an external Redis
        try:
            config.redis.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"redis.data_dir: cannot create {config.redis.data_dir}: {err.strerror}") from None
    if url is None and not own_server:
        url = _running_embedded(config.redis.data_dir)
    if url is None:
        embedded = EmbeddedRedis(
            data_dir=config.redis.data_dir,
            appendonly=config.redis.appendonly,
            appendfsync=config.redis.appendfsync,
            module_path=config.redis.module_path,
            server_binary=config.redis.server_binary,
        )
        url = embedded.start()
        if own_server and embedded.process is not None:
            endpoint.write_text(json.dumps({"url": url, "pid": embedded.process.pid}))
    await _reachable(url)
    redis = connect(url)
    try:
        chat = await Chat.open(redis, config.core_settings())
        await apply_static_config(chat, config)
        yield Runtime(url, redis, chat, embedded)
    finally:
        await redis.aclose()
        if embedded is not None:
            if own_server:
                endpoint.unlink(missing_ok=True)
            embedded.stop()


async def apply_static_config(chat: Chat, config: Config) -> None:
    """Admins and room links from the config file (links made by command are kept as well)."""
    if config.admins:
        await chat.ctx.redis.sadd(keys.ADMINS, *config.admins)
    for room in config.rooms:
        if not await chat.channels.exists(room.channel):
            await chat.channels.create(room.channel)
        for link in room.links:
            ref = ChannelRef.parse(link)
            if await chat.channels.route(ref) in (None, room.channel):
                await chat.channels.link(room.channel, ref)
            else:
                log.warning("config link %s skipped: it is already linked to another channel", link)
