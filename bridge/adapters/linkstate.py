"""Connection state and the reconnect schedule both adapters share.

A platform that cannot be reached (DNS failure, connection refused, TLS error, 5xx, a token revoked
while running) never stops the bridge: the adapter's supervisor keeps trying in the background while
the other platform, the CLI and the mirroring worker carry on (the worker holds the backlog for the
unreachable side and delivers it when the platform is back, see ``bridge.mirror.delivery``).

- :class:`LinkState` is what an adapter reports about its connection (a ``bridge.health.StateClock``:
  ``name``, ``ok``, ``since``, ``detail``; the adapter's ``health()`` snapshots it); each change is
  logged once, not on every retry.
- :class:`Reconnect` is the schedule: exponential backoff with full jitter for network trouble, and a
  slow fixed delay (also jittered) for credentials the platform refused, so a wrong token neither
  crash-loops nor hammers the platform (Discord resets the token of a bot that identifies too often:
  discord-api-docs topics/gateway.mdx, "Session Start Limit"; Slack answers ``invalid_auth`` to every
  call until the token is fixed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from typing import Protocol

from bridge.health import PartHealth, StateClock

log = logging.getLogger(__name__)


class LinkState(StateClock):
    """An adapter's connection state (``bridge.health.StateClock``, so ``health()`` snapshots it),
    plus one log line per change and the events start-up waits on."""

    def __init__(self, name: str, *, detail: str = "starting") -> None:
        super().__init__(name, ok=False, detail=detail)
        self.settled = asyncio.Event()
        """Set by the first report (connected, or the first failure)."""
        self.was_up = asyncio.Event()
        """Set once connected (and kept)."""

    def set(self, ok: bool, detail: str = "") -> None:
        changed = ok != self.ok
        super().set(ok, detail)
        self.settled.set()
        if ok:
            self.was_up.set()
        if changed:
            if ok:
                log.info("%s: connected (%s)", self.name, detail)
            else:
                log.warning("%s: down: %s", self.name, detail)

    def up(self, detail: str) -> None:
        self.set(True, detail)

    def down(self, detail: str) -> None:
        self.set(False, detail)

    async def wait_up(self, timeout: float) -> bool:  # noqa: ASYNC109 (a plain bound for the caller)
        """True once connected (within ``timeout`` seconds)."""
        try:
            await asyncio.wait_for(self.was_up.wait(), timeout)
        except TimeoutError:
            return False
        return True


class Supervised(Protocol):
    """An adapter that keeps its own connection up (``launch``) and reports it."""

    link: LinkState

    def health(self) -> PartHealth: ...


@dataclass
class Reconnect:
    """Delays between connection attempts (seconds)."""

    base_s: float = 1.0
    cap_s: float = 300.0
    bad_credentials_s: float = 600.0
    attempt: int = 0

    def next_delay(self, *, bad_credentials: bool = False) -> float:
        self.attempt += 1
        if bad_credentials:
            return self.bad_credentials_s * random.uniform(0.9, 1.1)
        return random.uniform(self.base_s, max(self.base_s, min(self.cap_s, self.base_s * 2**self.attempt)))

    def reset(self) -> None:
        self.attempt = 0


async def pause(stop: asyncio.Event, delay: float) -> bool:
    """Wait ``delay`` seconds or until ``stop`` is set; True when stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)
    return stop.is_set()


def describe(err: BaseException) -> str:
    """One line for a connection failure (no traceback: the cause is in the text)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
