"""What the delivery lanes share and report: per-destination counters, platform health, the author
cache, and the backoff schedule."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

from bridge.core.users import Users


class PlatformHealth:
    """When a call to a platform last succeeded (any destination), shared by its lanes."""

    def __init__(self) -> None:
        self.last_ok = float("-inf")

    def ok(self) -> None:
        self.last_ok = time.monotonic()

    def down_since(self, since: float) -> bool:
        return self.last_ok < since


@dataclass
class LaneStats:
    """Per-destination counters (kept after the lane task exits)."""

    delivered: int = 0
    retries: int = 0
    rate_limited: int = 0
    held: int = 0
    """Waits for an admin's fix (``DeliveryError.needs_admin``: a permission, a Slack channel that dropped the app)."""
    dead_lettered: int = 0
    skipped: int = 0
    duplicates: int = 0
    reconciled: int = 0
    """Platform calls made after an earlier attempt may have landed unrecorded (reconciled first)."""
    state: str = "idle"
    head_ms: int = 0
    """Time (ms) encoded in the outbox id of the job in progress (0 when idle): its age is the lag."""
    backlog: int = 0
    """Outbox length at the last metrics refresh."""
    oldest_ms: int = 0
    """Time (ms) in the id of the oldest entry still in the outbox at the last refresh (0 = empty)."""
    last_error: str | None = None
    by_type: dict[str, int] = field(default_factory=dict)

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "held": self.held,
            "dead_lettered": self.dead_lettered,
            "skipped": self.skipped,
            "reconciled": self.reconciled,
            "duplicates": self.duplicates,
            "state": self.state,
            "lag_s": round(max(0, now_ms - self.head_ms) / 1000, 3) if self.head_ms else 0.0,
            "backlog": self.backlog,
            "oldest_s": round(max(0, now_ms - self.oldest_ms) / 1000, 3) if self.oldest_ms else 0.0,
            "last_error": self.last_error,
        }


class Authors:
    """Display name and avatar of core users (``Users.display``), shared by every lane and kept for
    ``ttl`` seconds: a burst of messages by the same people costs one lookup each, and a changed
    name or avatar shows on the next messages within ``ttl``."""

    def __init__(self, users: Users, *, ttl: float, size: int = 10_000) -> None:
        self.users = users
        self.ttl = ttl
        self.size = size
        self._cache: dict[str, tuple[float, asyncio.Future[tuple[str, str | None]]]] = {}

    async def get(self, username: str) -> tuple[str, str | None]:
        """Concurrent lanes asking for the same person share one lookup."""
        now = time.monotonic()
        hit = self._cache.get(username)
        if hit is None or hit[0] <= now or (hit[1].done() and hit[1].exception() is not None):
            if len(self._cache) >= self.size:
                self._cache.clear()
            hit = (now + self.ttl, asyncio.ensure_future(self.users.display(username)))
            self._cache[username] = hit
        return await asyncio.shield(hit[1])


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: a random delay in [d/2, d], d = min(cap, base * 2^(attempt-1))."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return float(delay * random.uniform(0.5, 1.0))


def log_partition_stats(group: dict[str, Any], info: dict[str, Any]) -> dict[str, int]:
    """Lag and pending of a mirror-log partition (``XINFO GROUPS`` / ``XINFO STREAM``), and ``lost``
    when entries were trimmed from it before they were routed (the core caps the log at
    ``mirror_log_maxlen``). Trimming removes the oldest entries, so unread ones can only be gone when
    the stream now starts after the last entry read and fewer entries are left than were added since."""
    lag, length, first = group.get("lag"), int(info.get("length") or 0), info.get("first-entry")
    last_read = _id_tuple(str(group.get("last-delivered-id") or "0-0"))
    head_gone = not first or _id_tuple(str(first[0])) > last_read
    lost = lag is not None and head_gone and int(lag) > length
    return {"lag": int(lag or 0), "pending": int(group.get("pending") or 0), "lost": int(lost)}


def _id_tuple(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return (int(ms), int(seq or 0)) if ms.isdigit() else (0, 0)
