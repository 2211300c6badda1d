"""A notifier whose deliveries the test collects, on a blocking client of its own."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from bridge.core.chat import Chat
from bridge.core.notify import Notification, Notifier
from bridge.store.connection import blocking_client


@contextlib.asynccontextmanager
async def collecting_notifier(chat: Chat, redis_url: str) -> AsyncIterator[tuple[Notifier, list[Notification]]]:
    """(the notifier, the notifications it delivered so far); step it with ``notifier.step()``."""
    got: list[Notification] = []

    async def deliver(n: Notification) -> None:
        got.append(n)

    blocking = blocking_client(redis_url)
    try:
        yield Notifier(chat.ctx.redis, blocking, deliver, block_ms=50), got
    finally:
        await blocking.aclose()
