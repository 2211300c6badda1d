"""Waiting on a condition under a deadline — how every test waits (never a bare sleep-and-hope)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
POLL_S = 0.02


async def until(probe: Callable[[], T], *, timeout: float = 15.0, what: str = "condition") -> T:
    """Wait for ``probe()`` to return something truthy (polling under a deadline); return it."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = probe()
                if value:
                    return value
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}") from None


async def until_async(probe: Callable[[], Awaitable[Any]], *, timeout: float = 15.0, what: str = "condition") -> Any:
    """Like :func:`until` for a coroutine probe."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = await probe()
                if value:
                    return value
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}") from None
