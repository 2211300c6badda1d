"""Notifications: who wants to hear about which channel, and the notifier that waits for new
messages with the guide's blocking ``XREAD BLOCK ... STREAMS channel:a channel:b ...``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.exceptions import RedisError

from bridge.core.context import CoreContext
from bridge.store import keys
from bridge.store.connection import RedisClient as Redis

log = logging.getLogger(__name__)
HISTORY_AGE_MS = 10 * 60_000
"""A message recorded this much later than it was said is history, not news: a backfill or an
import records messages with their original ``ts``, while everything posted live (a gateway
catch-up and a Redis outage held in memory included) is stamped when it is recorded. Nobody is
notified of history: a 10,000-message backfill must not become 10,000 DMs."""


@dataclass(frozen=True)
class Notification:
    username: str
    """Who is notified."""
    channel: str
    message_id: str
    author: str
    text: str


class Subscriptions:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx

    async def add(self, username: str, channel: str) -> bool:
        """Subscribe. When the channel had no subscriber, the notifier's cursor starts at its newest
        entry *now*, so a message posted right after `notify add` is notified, and nothing older."""
        last = await self.ctx.redis.xrevrange(keys.channel(channel), count=1)
        async with self.ctx.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(keys.notify_channels(username), channel)
            pipe.sadd(keys.notify_subscribers(channel), username)
            pipe.sadd(keys.NOTIFY_CHANNELS, channel)
            pipe.hsetnx(keys.NOTIFY_CURSOR, channel, last[0][0] if last else "0-0")
            res = await pipe.execute()
        return bool(res[0])

    async def remove(self, username: str, channel: str) -> bool:
        async with self.ctx.redis.pipeline(transaction=True) as pipe:
            pipe.srem(keys.notify_channels(username), channel)
            pipe.srem(keys.notify_subscribers(channel), username)
            pipe.scard(keys.notify_subscribers(channel))
            res = await pipe.execute()
        if not res[2]:
            async with self.ctx.redis.pipeline(transaction=True) as pipe:
                pipe.srem(keys.NOTIFY_CHANNELS, channel)
                pipe.hdel(keys.NOTIFY_CURSOR, channel)  # a later subscriber starts from then, not from here
                await pipe.execute()
        return bool(res[0])

    async def list(self, username: str) -> list[str]:
        names: set[str] = await self.ctx.redis.smembers(keys.notify_channels(username))
        return sorted(names)


Deliver = Callable[[Notification], Awaitable[None]]


class Notifier:
    """Blocks on XREAD over every channel somebody subscribed to and calls ``deliver`` for each
    subscriber of each new message (never its author). Its position per channel is kept in Redis,
    so a restart neither repeats nor drops notifications."""

    def __init__(self, redis: Redis, blocking: Redis, deliver: Deliver, *, block_ms: int = 2000) -> None:
        self.redis = redis
        self.blocking = blocking
        self.deliver = deliver
        self.block_ms = block_ms

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: a Redis outage of any length is waited out (logged, retried with backoff
        up to 5 s), and the position kept in Redis means nothing is repeated or skipped after it."""
        backoff = 0.1
        self.down_since: float | None = None
        while not stop.is_set():
            try:
                await self.step()
                if self.down_since is not None:
                    log.info("notifier: Redis is back after %.1fs", time.monotonic() - self.down_since)
                    self.down_since = None
                backoff = 0.1
            except (RedisError, OSError, TimeoutError) as err:
                if self.down_since is None:
                    self.down_since = time.monotonic()
                log.warning("notifier lost Redis (%s); retrying in %.1fs", err or type(err).__name__, backoff)
                await _wait(stop, backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:
                log.exception("notifier step failed; retrying in %.1fs", backoff)
                await _wait(stop, backoff)
                backoff = min(backoff * 2, 5.0)

    async def step(self) -> int:
        channels = sorted(await self.redis.smembers(keys.NOTIFY_CHANNELS))
        if not channels:
            await asyncio.sleep(self.block_ms / 1000)  # nothing to block on yet; re-check the set
            return 0
        cursor: dict[str, str] = await self.redis.hgetall(keys.NOTIFY_CURSOR)
        streams: dict[str, str] = {}
        for name in channels:
            if name not in cursor:
                last = await self.redis.xrevrange(keys.channel(name), count=1)
                cursor[name] = last[0][0] if last else "0-0"
                await self.redis.hset(keys.NOTIFY_CURSOR, name, cursor[name])
            streams[keys.channel(name)] = cursor[name]
        raw = await self.blocking.xread(streams, block=self.block_ms, count=100)
        sent = 0
        for stream, entries in raw or []:
            name = keys.channel_name_of(stream)
            for entry_id, entry in entries:
                if entry.get("type", "message") == "message":
                    sent += await self._fan_out(name, entry_id)
                await self.redis.hset(keys.NOTIFY_CURSOR, name, entry_id)
        return sent

    async def _fan_out(self, channel: str, entry_id: str) -> int:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.message(entry_id))
            pipe.smembers(keys.notify_subscribers(channel))
            body, subs = await pipe.execute()
        if not body:
            return 0
        ts = str(body.get("ts") or "")
        if ts.isdigit() and keys.stream_ms(entry_id) - int(ts) > HISTORY_AGE_MS:
            return 0  # history recorded late (see HISTORY_AGE_MS)
        author = body.get("username", "")
        count = 0
        for user in sorted(subs):
            if user == author:
                continue
            note = Notification(user, channel, entry_id, author, body.get("message", ""))
            try:
                await self.deliver(note)
                count += 1
            except Exception:
                log.exception("could not deliver a notification to %s", user)
        return count


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    # builtins' TimeoutError (what asyncio raises), not redis-py's: catching the wrong one made the
    # first backoff after a lost connection end the notifier
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return
