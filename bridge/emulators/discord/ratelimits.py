"""Discord's REST rate limits, as https://discord.com/developers/docs/topics/rate-limits describes them
(discord-api-docs ``docs/topics/rate-limits.md``), and 429s injected on demand or at random.

* Per-route buckets: "Top-level resources are currently limited to channels (``channel_id``), guilds
  (``guild_id``), and webhooks (``webhook_id`` or ``webhook_id + webhook_token``)": a route's limit is
  counted per top-level resource. Every answer carries ``X-RateLimit-Limit``, ``-Remaining``,
  ``-Reset`` (epoch seconds), ``-Reset-After`` (seconds, with decimals) and ``-Bucket`` ("Header
  Format"); ``X-RateLimit-Scope`` and ``X-RateLimit-Global`` are "returned only on HTTP 429
  responses". Discord publishes no per-route numbers ("should not be hard coded"): the emulator's
  are below (``ROUTE_LIMITS``), each shown in the headers so a client can pace itself.
* A 429's JSON body: ``message``, ``retry_after`` (float seconds), ``global`` ("Rate Limit Response
  Structure"), with ``Retry-After`` (whole seconds) and the route's headers.
* The global limit: "All bots can make up to 50 requests per second ... If no authorization header
  is provided, then the limit is applied to the IP address" (webhook executes); "Interaction
  endpoints are not bound to the bot's Global Rate Limit". Its 429 ("Example Exceeded Global Rate
  Limit Response") has ``Retry-After``, ``X-RateLimit-Global: true``, ``X-RateLimit-Scope: global``
  and ``"global": true``, and no bucket headers.
* Cloudflare bans ("Invalid Request Limit"): an IP making 10,000 invalid requests (401, 403, 429;
  not 429s of scope ``shared``) in 10 minutes is "temporarily restricted". That answer comes from
  Cloudflare, not the API: no ``Via`` header (every API answer has ``Via: 1.1 google``; discord.py
  tells the two apart by it), no rate-limit headers, no ``Retry-After``, and the body ``error code:
  1015`` as text (discord-api-docs issue #5385, where it lasted an hour), Cloudflare's HTML error
  page (issue #1808: "instead I am getting a CloudFlare HTML page") or a static JSON message with
  code 0 (issue #5810).

``speed`` runs every window's clock faster (the headers say the shorter times, so a client that
honours them keeps up): for a test or bench that floods and says why.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .recorder import RecordedRequest

VIA = "1.1 google"
GLOBAL_PER_S = 50
INVALID_LIMIT, INVALID_WINDOW_S, BAN_S = 10_000, 600.0, 3600.0
CLOUDFLARE_TEXT = "error code: 1015"
CLOUDFLARE_HTML = (
    "<!DOCTYPE html><html><head><title>Access denied | discord.com used Cloudflare to restrict access</title>"
    "</head><body><h1>Error 1015</h1><h2>You are being rate limited</h2></body></html>"
)
"""Cloudflare's own error page for a rate-limit ban (its error 1015), as browsers are shown it."""
CLOUDFLARE_JSON = {
    "code": 0,
    "message": "You are being blocked from accessing our API temporarily due to exceeding our rate limits "
    "frequently. Please read our docs at https://discord.com/developers/docs/topics/rate-limits to prevent "
    "this moving forward.",
}
KINDS = ("route", "global", "cloudflare")
BAN_BODIES = ("text", "html", "json")


@dataclass(frozen=True)
class RouteLimit:
    limit: int
    per_s: float
    enforced: bool = True
    """False: only the headers (the route enforces its own limit, e.g. reactions)."""


ROUTE_LIMITS: dict[tuple[str, str], RouteLimit] = {
    # the emulator's numbers (Discord's are unpublished); shown in every answer's headers
    ("POST", "/webhooks/{webhook_id}/{webhook_token}"): RouteLimit(5, 2.0),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{id}"): RouteLimit(5, 2.0),
    ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{id}"): RouteLimit(5, 2.0),
    ("POST", "/channels/{channel_id}/messages"): RouteLimit(5, 5.0),
}
DEFAULT_LIMIT = RouteLimit(50, 1.0)
_MAJOR = {"channels": "channel_id", "guilds": "guild_id", "webhooks": "webhook_id"}


@dataclass
class RateLimitRule:
    """Answer the next ``times`` requests matching ``method`` + ``path_regex`` with 429."""

    method: str
    path_regex: str
    retry_after: float
    times: int = 1
    is_global: bool = False
    hits: int = 0


@dataclass
class Chaos:
    """Answer a random share of requests with a 429 of a random kind (the soak's faults)."""

    probability: float
    kinds: tuple[str, ...] = KINDS
    retry_after: float = 1.0
    """A route or global 429 asks for a wait drawn between a tenth of this and this."""
    cloudflare_s: float = 5.0
    """How long a random Cloudflare ban lasts."""
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class _Window:
    limit: RouteLimit
    start: float = float("-inf")
    used: int = 0


def route_of(path: str) -> tuple[str, str]:
    """``(template, major)`` of an API path (after the ``/api/v10`` prefix): ids become placeholders;
    the top-level resource's id (and a webhook's token) is the major parameter."""
    parts = [p for p in path.split("/") if p]
    out: list[str] = []
    major: list[str] = []
    for i, part in enumerate(parts):
        prev = parts[i - 1] if i else ""
        if i == 1 and prev in _MAJOR and part.isdigit():
            out.append("{" + _MAJOR[prev] + "}")
            major.append(part)
        elif i == 2 and parts[0] in ("webhooks", "interactions"):
            out.append("{webhook_token}" if parts[0] == "webhooks" else "{interaction_token}")
            major.append(part)
        elif prev == "reactions":
            out.append("{emoji}")
        elif i >= 2 and parts[i - 2] == "reactions" and part != "@me":
            out.append("{user}")
        elif part.isdigit():
            out.append("{id}")
        else:
            out.append(part)
    return "/" + "/".join(out), ":".join(major)


class RateLimits:
    """The emulator's rate limiter; :meth:`check` before a request, :meth:`stamp` on its answer."""

    def __init__(
        self, *, application_id: str = "", reaction_interval_s: float = 0.25, enforce: bool = True, speed: float = 1.0
    ) -> None:
        self.application_id = application_id
        self.enforce = enforce
        """False: headers only, nothing refused (except injected rules, chaos and bans)."""
        self.speed = speed
        self.send_headers = True
        """False: answers carry no bucket headers, so no client can pace itself (a bench's baseline)."""
        self.routes = dict(ROUTE_LIMITS)
        if reaction_interval_s > 0:
            for method in ("PUT", "DELETE"):
                for tail in ("{emoji}/@me", "{emoji}/{user}", "{emoji}", ""):
                    template = "/channels/{channel_id}/messages/{id}/reactions" + (f"/{tail}" if tail else "")
                    self.routes[(method, template)] = RouteLimit(1, reaction_interval_s, enforced=False)
        self.rules: list[RateLimitRule] = []
        self.chaos: Chaos | None = None
        self.banned_until = 0.0
        self.ban_body = "text"
        self.invalid_limit = INVALID_LIMIT
        """Invalid requests (401, 403, 429) in 10 minutes that get this IP banned for ``BAN_S``."""
        self.counts: Counter[str] = Counter()
        """429s answered, by kind: route, global, cloudflare, injected."""
        self._windows: dict[tuple[str, str, str], _Window] = {}
        self._global: dict[str, _Window] = {}
        self._invalid: deque[float] = deque()

    # -- settings ----------------------------------------------------------------------------------
    def add_rule(self, rule: RateLimitRule) -> RateLimitRule:
        self.rules.append(rule)
        return rule

    def ban(self, seconds: float, *, body: str = "text") -> None:
        """A Cloudflare ban of this IP for ``seconds`` (``body``: ``text``, ``html`` or ``json``)."""
        if body not in BAN_BODIES:
            raise ValueError(f"body must be one of {BAN_BODIES}")
        self.banned_until = max(self.banned_until, time.monotonic() + max(0.0, seconds))
        self.ban_body = body

    def set_chaos(self, chaos: Chaos | None) -> None:
        if chaos is not None:
            unknown = set(chaos.kinds) - set(KINDS)
            if unknown or not chaos.kinds or not 0 <= chaos.probability <= 1:
                raise ValueError(f"chaos needs 0 <= probability <= 1 and kinds among {KINDS}")
        self.chaos = chaos

    # -- the check -----------------------------------------------------------------------------------
    def _now(self) -> float:
        return time.monotonic() * self.speed

    def check(self, record: RecordedRequest) -> web.Response | None:
        """A 429 for this request, or None (then it is counted in its bucket and the global one)."""
        injected = self._injected(record)
        if injected is not None:
            return injected
        if time.monotonic() < self.banned_until:
            return self._cloudflare()
        chaos = self.chaos
        if chaos is not None and chaos.rng.random() < chaos.probability:
            return self._chaos(chaos, record)
        template, major = route_of(record.path)
        identity = self._identity(record, template, major)
        if identity is not None:
            window = self._global.setdefault(identity, _Window(RouteLimit(GLOBAL_PER_S, 1.0)))
            wait = self._take(window)
            if wait is not None and self.enforce:
                self.counts["global"] += 1
                return self.global_429(wait)
        window = self._window(record.method, template, major)
        if window.limit.enforced:
            wait = self._take(window)
            if wait is not None and self.enforce:
                self.counts["route"] += 1
                return self.route_429(record.method, template, major, wait)
        return None

    def stamp(self, record: RecordedRequest, response: web.StreamResponse) -> None:
        """The route's headers (and ``Via``) on an answer, and invalid requests counted toward a ban."""
        status = response.status
        if status in (401, 403) or (status == 429 and response.headers.get("X-RateLimit-Scope") != "shared"):
            self._count_invalid()
        if response.prepared or (response.headers.get("Via") is None and status == 429):
            return  # a streamed answer, or Cloudflare's (no Via, no API headers)
        response.headers.setdefault("Via", VIA)
        if not self.send_headers:
            for name in [n for n in response.headers if n.startswith("X-RateLimit-") and "Global" not in n]:
                del response.headers[name]
            return
        if status == 429 or "X-RateLimit-Bucket" in response.headers:
            return
        template, major = route_of(record.path)
        window = self._window(record.method, template, major)
        if not window.limit.enforced and status < 300:  # counted by the route itself: one call used
            window.start, window.used = self._now(), 1
        response.headers.update(self._headers(record.method, template, window))

    # -- answers --------------------------------------------------------------------------------------
    def route_429(self, method: str, template: str, major: str, wait: float, *, scope: str = "user") -> web.Response:
        window = self._window(method, template, major)
        headers = {"Via": VIA, "Retry-After": str(max(1, math.ceil(wait))), "X-RateLimit-Scope": scope}
        headers.update(self._headers(method, template, window, wait=wait))
        body = {"message": "You are being rate limited.", "retry_after": round(wait, 3), "global": False}
        return _json_429(body, headers)

    @staticmethod
    def global_429(wait: float) -> web.Response:
        headers = {
            "Via": VIA,
            "Retry-After": str(max(1, math.ceil(wait))),
            "X-RateLimit-Global": "true",
            "X-RateLimit-Scope": "global",
        }
        body = {"message": "You are being rate limited.", "retry_after": round(wait, 3), "global": True}
        return _json_429(body, headers)

    def _cloudflare(self) -> web.Response:
        self.counts["cloudflare"] += 1
        if self.ban_body == "json":
            return web.Response(body=json.dumps(CLOUDFLARE_JSON).encode(), status=429, content_type="application/json")
        if self.ban_body == "html":
            return web.Response(text=CLOUDFLARE_HTML, status=429, content_type="text/html")
        return web.Response(text=CLOUDFLARE_TEXT, status=429, content_type="text/plain")

    def _injected(self, record: RecordedRequest) -> web.Response | None:
        for rule in self.rules:
            if rule.hits >= rule.times or rule.method != record.method:
                continue
            if not re.fullmatch(rule.path_regex, record.path):
                continue
            rule.hits += 1
            self.counts["injected"] += 1
            if rule.is_global:
                return self.global_429(rule.retry_after)
            template, major = route_of(record.path)
            return self.route_429(record.method, template, major, rule.retry_after)
        return None

    def _chaos(self, chaos: Chaos, record: RecordedRequest) -> web.Response:
        kind = chaos.rng.choice(chaos.kinds)
        wait = chaos.rng.uniform(chaos.retry_after / 10, chaos.retry_after)
        self.counts[f"chaos_{kind}"] += 1
        if kind == "cloudflare":
            self.ban(chaos.cloudflare_s, body=chaos.rng.choice(BAN_BODIES))
            return self._cloudflare()
        if kind == "global":
            return self.global_429(wait)
        template, major = route_of(record.path)
        return self.route_429(record.method, template, major, wait)

    # -- buckets --------------------------------------------------------------------------------------
    def _identity(self, record: RecordedRequest, template: str, major: str) -> str | None:
        """Whose global limit a request counts toward (None: interaction endpoints, not bound by it)."""
        if template.startswith("/interactions/"):
            return None
        if template.startswith("/webhooks/{webhook_id}/{webhook_token}") and major.split(":")[0] == self.application_id:
            return None  # an interaction's followup (the application's id and the interaction token)
        auth = record.headers.get("Authorization")
        return f"token:{auth}" if auth else "ip"

    def _window(self, method: str, template: str, major: str) -> _Window:
        key = (method, template, major)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(self.routes.get((method, template), DEFAULT_LIMIT))
        return window

    def _take(self, window: _Window) -> float | None:
        """Use one request of the window; the seconds until it resets if it is used up."""
        now = self._now()
        if now >= window.start + window.limit.per_s:
            window.start, window.used = now, 0
        if window.used >= window.limit.limit:
            return (window.start + window.limit.per_s - now) / self.speed
        window.used += 1
        return None

    def _headers(self, method: str, template: str, window: _Window, *, wait: float | None = None) -> dict[str, str]:
        now = self._now()
        fresh = now >= window.start + window.limit.per_s
        reset_after = (
            window.limit.per_s / self.speed if fresh else (window.start + window.limit.per_s - now) / self.speed
        )
        if wait is not None:  # a 429: its wait is when this caller may try again
            reset_after = wait
        remaining = window.limit.limit if fresh else max(0, window.limit.limit - window.used)
        return {
            "X-RateLimit-Limit": str(window.limit.limit),
            "X-RateLimit-Remaining": str(0 if wait is not None else remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": _bucket_hash(method, template),
        }

    def _count_invalid(self) -> None:
        now = time.monotonic()
        self._invalid.append(now)
        while self._invalid and now - self._invalid[0] > INVALID_WINDOW_S:
            self._invalid.popleft()
        if len(self._invalid) >= self.invalid_limit:
            self._invalid.clear()
            self.ban(BAN_S)

    def stats(self) -> dict[str, Any]:
        return {
            "429": dict(self.counts),
            "invalid_10min": len(self._invalid),
            "banned": time.monotonic() < self.banned_until,
        }


def _bucket_hash(method: str, template: str) -> str:
    return f"{abs(hash((method, template))) % 16**10:010x}"


def _json_429(body: dict[str, Any], headers: dict[str, str]) -> web.Response:
    return web.Response(body=json.dumps(body).encode(), status=429, content_type="application/json", headers=headers)


def control_routes(limits: RateLimits) -> list[web.RouteDef]:
    """``/_emulator/rate_limits/...``: random 429s (the soak), Cloudflare bans, settings, counts.

    - ``POST   /_emulator/rate_limits/chaos``   ``{probability, kinds?: [route, global, cloudflare],
      retry_after?, cloudflare_s?, seed?}``; ``DELETE`` stops it
    - ``POST   /_emulator/rate_limits/cloudflare``  ``{seconds, body?: "text" | "html" | "json"}``
    - ``POST   /_emulator/rate_limits/settings``    ``{enforce?: bool, speed?: float}``
    - ``GET    /_emulator/rate_limits/stats``       429s by kind, invalid requests, banned
    """

    async def chaos(request: web.Request) -> web.Response:
        try:
            b = await request.json()
            seed = b.get("seed")
            limits.set_chaos(
                Chaos(
                    probability=float(b["probability"]),
                    kinds=tuple(b.get("kinds") or KINDS),
                    retry_after=float(b.get("retry_after", 1.0)),
                    cloudflare_s=float(b.get("cloudflare_s", 5.0)),
                    rng=random.Random(seed),
                )
            )
        except (KeyError, TypeError, ValueError) as err:
            return web.json_response({"error": f"bad request: {err}"}, status=400)
        return web.json_response({"ok": True})

    async def chaos_off(_: web.Request) -> web.Response:
        limits.set_chaos(None)
        return web.json_response({"ok": True})

    async def cloudflare(request: web.Request) -> web.Response:
        try:
            b = await request.json()
            limits.ban(float(b["seconds"]), body=str(b.get("body", "text")))
        except (KeyError, TypeError, ValueError) as err:
            return web.json_response({"error": f"bad request: {err}"}, status=400)
        return web.json_response({"ok": True})

    async def settings(request: web.Request) -> web.Response:
        try:
            b = await request.json()
            speed = float(b.get("speed", limits.speed))
            if speed <= 0:
                raise ValueError("speed must be > 0")
            limits.enforce = bool(b.get("enforce", limits.enforce))
            limits.speed = speed
        except (TypeError, ValueError) as err:
            return web.json_response({"error": f"bad request: {err}"}, status=400)
        return web.json_response({"ok": True, "enforce": limits.enforce, "speed": limits.speed})

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(limits.stats())

    p = "/_emulator/rate_limits"
    return [
        web.post(f"{p}/chaos", chaos),
        web.delete(f"{p}/chaos", chaos_off),
        web.post(f"{p}/cloudflare", cloudflare),
        web.post(f"{p}/settings", settings),
        web.get(f"{p}/stats", stats),
    ]
