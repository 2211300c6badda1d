"""Per-method (and per-channel) rate limits and injected failures for the Slack emulator."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass

from bridge.emulators.slack.config import RateLimit


@dataclass
class Injected:
    """A scripted answer for the next ``count`` calls of a method."""

    error: str
    count: int
    status: int = 200
    retry_after: int | None = None


class Limiter:
    def __init__(self, limits: dict[str, RateLimit]) -> None:
        self.limits = dict(limits)
        self._calls: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._injected: dict[str, list[Injected]] = defaultdict(list)

    def set_limit(self, method: str, limit: RateLimit | None) -> None:
        if limit is None:
            self.limits.pop(method, None)
        else:
            self.limits[method] = limit
        self._calls.clear()

    def inject(self, method: str, failure: Injected) -> None:
        if failure.count > 0:
            self._injected[method].append(failure)

    def check(self, method: str, channel: str | None) -> Injected | None:
        """Count this call; return the failure to answer with, or None to serve it."""
        queue = self._injected.get(method)
        if queue:
            failure = queue[0]
            failure.count -= 1
            if failure.count <= 0:
                queue.pop(0)
            return failure
        rule = self.limits.get(method)
        if rule is None:
            return None
        key = (method, (channel or "") if rule.per_channel else "")
        now = time.monotonic()
        calls = self._calls[key]
        while calls and now - calls[0] >= rule.window:
            calls.popleft()
        if len(calls) >= rule.limit:
            return Injected(error="ratelimited", count=0, status=429, retry_after=rule.retry_after)
        calls.append(now)
        return None
