"""Slack's Web API rate limits (on by default, see ``config.SLACK_LIMITS``) and injected failures.

What Slack documents (https://api.slack.com/apis/rate-limits, now docs.slack.dev/apis/web-api/rate-limits):

* limits apply "per API method per app per workspace"; each method has a tier (its reference page,
  docs.slack.dev/reference/methods/<method>, "Rate limits"): Tier 1 1+ per minute, Tier 2 20+,
  Tier 3 50+ ("sporadic bursts are welcome"), Tier 4 100+ ("generous burst behavior");
* ``chat.postMessage`` is special: "generally allows posting one message per second per channel,
  while also maintaining a workspace-wide limit"; "short bursts >1 allowed";
* past a limit: HTTP 429 with a ``Retry-After`` header, "the number of seconds until you can retry",
  and the body ``{"ok": false, "error": "ratelimited"}`` (the string slack_sdk matches, e.g.
  ``slack_sdk/socket_mode/async_client.py``; the 2020 OpenAPI enum's ``rate_limited`` is not it).

Each rule is a token bucket: ``limit`` calls at once, refilled at ``limit`` per ``window`` seconds,
so a steady caller gets the documented rate and a burst up to ``limit`` passes. A call must find a
token in every rule of its method (per channel and workspace-wide for ``chat.postMessage``).
``speed`` runs the buckets' clock faster, for a test or bench that must flood and says so; with a
speed other than 1, ``Retry-After`` keeps its fraction (Slack's is whole seconds).
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field

from aiohttp import web

from bridge.emulators.slack.config import RateLimit


@dataclass
class Injected:
    """A scripted answer for the next ``count`` calls of a method."""

    error: str
    count: int
    status: int = 200
    retry_after: float | None = None


@dataclass
class Chaos:
    """Answer a random share of calls with a 429 (the soak injects them at random)."""

    probability: float
    retry_after: float = 1.0
    methods: frozenset[str] | None = None
    """Only these methods (None: every method)."""
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class _Bucket:
    tokens: float
    at: float


def _rules(value: RateLimit | tuple[RateLimit, ...]) -> tuple[RateLimit, ...]:
    return value if isinstance(value, tuple) else (value,)


class Limiter:
    def __init__(self, limits: dict[str, RateLimit | tuple[RateLimit, ...]], *, speed: float = 1.0) -> None:
        self.limits: dict[str, tuple[RateLimit, ...]] = {m: _rules(r) for m, r in limits.items()}
        self.speed = speed
        self.chaos: Chaos | None = None
        self._buckets: dict[tuple[str, int, str], _Bucket] = {}
        self._injected: dict[str, list[Injected]] = defaultdict(list)

    def set_limit(self, method: str, limit: RateLimit | tuple[RateLimit, ...] | None) -> None:
        """Replace a method's rules (None: unlimited)."""
        if limit is None:
            self.limits.pop(method, None)
        else:
            self.limits[method] = _rules(limit)
        self._buckets.clear()

    def off(self) -> None:
        """No rate limits at all (injected failures and chaos still answer)."""
        self.limits.clear()
        self._buckets.clear()

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
        chaos = self.chaos
        wanted = chaos is not None and (chaos.methods is None or method in chaos.methods)
        if chaos is not None and wanted and chaos.rng.random() < chaos.probability:
            return Injected(error="ratelimited", count=0, status=429, retry_after=chaos.retry_after)
        rules = self.limits.get(method)
        if not rules:
            return None
        now = time.monotonic() * self.speed
        buckets = [self._bucket(method, i, rule, channel, now) for i, rule in enumerate(rules)]
        waits = [(1 - bucket.tokens) * rule.window / rule.limit for rule, bucket in zip(rules, buckets, strict=True)]
        if max(waits) > 0:
            explicit = [r.retry_after for r, w in zip(rules, waits, strict=True) if w > 0 and r.retry_after is not None]
            wait = max(waits) / self.speed
            retry = explicit[0] if explicit else (max(1, math.ceil(wait)) if self.speed == 1 else round(wait, 3))
            return Injected(error="ratelimited", count=0, status=429, retry_after=retry)
        for bucket in buckets:
            bucket.tokens -= 1
        return None

    def _bucket(self, method: str, index: int, rule: RateLimit, channel: str | None, now: float) -> _Bucket:
        key = (method, index, (channel or "") if rule.per_channel else "")
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(rule.limit), now)
        bucket.tokens = min(float(rule.limit), bucket.tokens + (now - bucket.at) * rule.limit / rule.window)
        bucket.at = now
        return bucket


def control_routes(limiter: Limiter) -> list[web.RouteDef]:
    """``POST /_emulator/rate_limits/chaos`` ``{probability, retry_after?, methods?, seed?}`` (random
    429s, the soak's); ``DELETE`` stops them; ``POST /_emulator/rate_limits/settings`` ``{speed?,
    enabled?: false}`` (``enabled: false`` removes every limit)."""

    async def chaos(request: web.Request) -> web.Response:
        try:
            b = await request.json()
            probability = float(b["probability"])
            if not 0 <= probability <= 1:
                raise ValueError("probability must be between 0 and 1")
            methods = b.get("methods")
            limiter.chaos = Chaos(
                probability=probability,
                retry_after=float(b.get("retry_after", 1.0)),
                methods=frozenset(str(m) for m in methods) if methods else None,
                rng=random.Random(b.get("seed")),
            )
        except (KeyError, TypeError, ValueError) as err:
            return web.json_response({"ok": False, "error": f"bad request: {err}"}, status=400)
        return web.json_response({"ok": True})

    async def chaos_off(_: web.Request) -> web.Response:
        limiter.chaos = None
        return web.json_response({"ok": True})

    async def settings(request: web.Request) -> web.Response:
        try:
            b = await request.json()
            speed = float(b.get("speed", limiter.speed))
            if speed <= 0:
                raise ValueError("speed must be > 0")
        except (TypeError, ValueError) as err:
            return web.json_response({"ok": False, "error": f"bad request: {err}"}, status=400)
        limiter.speed = speed
        if b.get("enabled") is False:
            limiter.off()
        return web.json_response({"ok": True, "speed": limiter.speed, "methods": sorted(limiter.limits)})

    return [
        web.post("/_emulator/rate_limits/chaos", chaos),
        web.delete("/_emulator/rate_limits/chaos", chaos_off),
        web.post("/_emulator/rate_limits/settings", settings),
    ]
