"""Discord's 429s on the bridge's webhook calls, capped so a long wait never holds a lane inside a call.

What discord.py 2.x does on its own (read in ``discord/webhook/async_.py``, ``AsyncWebhookAdapter.request``,
and ``discord/http.py``, ``HTTPClient.request``):

* webhooks: a 429 with ``Via`` is slept for its ``retry_after``, however long, and retried, up to 5
  times, inside the call and holding the webhook's lock (a 60 s limit held a room for 5 minutes, then
  the worker's ``call_timeout_s`` counted it as a failure); a 429 without ``Via`` (Cloudflare) raises
  at once; ``X-RateLimit-Remaining: 0`` on a success sleeps ``Reset-After`` before the call returns
  (the bucket's own reset, a few seconds for webhooks);
* bot routes: waits longer than ``max_ratelimit_timeout`` (30 s at least, discord.py's minimum) raise
  ``RateLimited``, shorter ones are slept; a global 429 stops every bot request until it is over.

Discord (https://discord.com/developers/docs/topics/rate-limits): the global limit of requests
without an Authorization header (webhook executes) "is applied to the IP address"; 401/403/429
answers count toward an IP's Cloudflare ban (10,000 per 10 minutes), which carries no ``Retry-After``.

So the bridge's webhooks use their own aiohttp session with :meth:`RateGate.middleware`:

* a 429 asking for more than ``max_wait_s`` raises :class:`Throttled` before discord.py can sleep:
  the worker reschedules the job (``DeliveryError(retry_after=...)``, the lane pauses exactly that
  long, in order), other lanes go on; shorter ones are left to discord.py's retry;
* a global 429 holds every webhook call of this process until it is over, so the other rooms do not
  each spend a refused request on it;
* a Cloudflare 429 (no ``Via``) holds every webhook call for a probe interval (``ban_first_s``,
  doubling up to ``ban_max_s`` while the ban lasts, reset by the first success): one request probes,
  the others wait without asking, since each refused one prolongs the ban.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

log = logging.getLogger(__name__)


class Throttled(Exception):
    """A webhook call was not made (or its 429 not slept) because it must wait ``retry_after`` s."""

    def __init__(self, retry_after: float, kind: str) -> None:
        super().__init__(f"Discord {kind} rate limit: retry in {retry_after:.2f}s")
        self.retry_after = retry_after
        self.kind = kind


class RateGate:
    def __init__(
        self,
        *,
        max_wait_s: float = 2.0,
        ban_first_s: float = 5.0,
        ban_max_s: float = 600.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.max_wait_s = max_wait_s
        self.ban_first_s = ban_first_s
        self.ban_max_s = ban_max_s
        self.clock = clock or time.monotonic
        self.hold_until = 0.0
        """No webhook call before this (a global limit, or a Cloudflare ban's probe interval)."""
        self.hold_kind = "global"
        self.ban_s = 0.0
        """The current probe interval of a Cloudflare ban (0: not banned)."""
        self.counts: dict[str, int] = {"route": 0, "global": 0, "cloudflare": 0, "held": 0}
        """429s seen by kind, and calls held back without a request."""

    def wait_s(self) -> float:
        return max(0.0, self.hold_until - self.clock())

    def cloudflare(self) -> float:
        """A Cloudflare 429: the next probe waits longer each time; returns the wait."""
        self.counts["cloudflare"] += 1
        self.ban_s = min(self.ban_max_s, self.ban_s * 2 if self.ban_s else self.ban_first_s)
        self.hold_until = max(self.hold_until, self.clock() + self.ban_s)
        self.hold_kind = "cloudflare"
        log.error("Discord answered a Cloudflare 429 (IP ban): every webhook call waits %.0fs", self.ban_s)
        return self.ban_s

    def global_limit(self, retry_after: float) -> None:
        self.counts["global"] += 1
        if self.clock() + retry_after > self.hold_until:
            self.hold_until = self.clock() + retry_after
            self.hold_kind = "global"

    async def middleware(
        self, request: aiohttp.ClientRequest, handler: Callable[[aiohttp.ClientRequest], Any]
    ) -> aiohttp.ClientResponse:
        """aiohttp client middleware (``ClientSession(middlewares=...)``) for the webhook session."""
        wait = self.wait_s()
        if wait > self.max_wait_s:
            self.counts["held"] += 1
            raise Throttled(wait, self.hold_kind)
        if wait > 0:
            await asyncio.sleep(wait)
        if self.ban_s:  # this call probes the ban; the others wait the interval meanwhile
            self.hold_until = max(self.hold_until, self.clock() + self.ban_s)
        response: aiohttp.ClientResponse = await handler(request)
        if response.status != 429:
            if self.ban_s:
                log.warning("Discord answers again after a Cloudflare ban")
                self.ban_s, self.hold_until = 0.0, 0.0
            return response
        if not response.headers.get("Via"):
            wait = self.cloudflare()
            response.release()
            raise Throttled(wait, "cloudflare")
        retry_after, is_global = await rate_limit_of(response)
        if is_global:
            self.global_limit(retry_after)
        else:
            self.counts["route"] += 1
        if retry_after > self.max_wait_s:
            response.release()
            raise Throttled(retry_after, "global" if is_global else "route")
        return response  # discord.py sleeps this short wait and retries


async def rate_limit_of(response: aiohttp.ClientResponse) -> tuple[float, bool]:
    """``(retry_after, global)`` of an API 429: the body's float, else the header's seconds."""
    is_global = response.headers.get("X-RateLimit-Global", "").lower() == "true"
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        body = None
    if isinstance(body, dict):
        is_global = is_global or bool(body.get("global"))
        try:
            return max(0.0, float(body["retry_after"])), is_global
        except (KeyError, TypeError, ValueError):
            pass
    try:
        return max(0.0, float(response.headers.get("Retry-After") or 1)), is_global
    except ValueError:
        return 1.0, is_global
