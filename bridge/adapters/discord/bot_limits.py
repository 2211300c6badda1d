"""Discord's 429s on the bot's own routes when the worker delivers: raised, never slept inside a call.

discord.py's ``HTTPClient.request`` (``discord/http.py``) sleeps a bot route's 429 and retries, up to
5 times, unless its ``retry_after`` exceeds ``max_ratelimit_timeout`` — 30 s at the least — and a
global 429 makes every later bot request wait it out before it is even sent. On the delivery path
(the DMs, the senders' notices, reactions, thread creation, webhook creation and reply lookups the
destination makes; ``DiscordDestination``) that held a lane inside the call for up to 30 s a try.

So the bot's HTTP session gets the same middleware as the webhooks' (``webhook_limits.RateGate``),
active only while a delivery runs (:meth:`BotLimits.delivering`, a context variable: it follows
the delivery's awaits and nothing else): a 429 asking for more than ``discord.webhook_max_wait_s``
raises :class:`~.webhook_limits.Throttled` before discord.py can sleep it — the worker gets
``DeliveryError(retry_after)`` and holds that lane exactly that long, in order; shorter ones are
left to discord.py. Everything else the bot asks (the catch-up's history reads, command sync,
member look-ups) keeps discord.py's behaviour, sleeping included; a global 429 they meet is noted
so that a delivery started meanwhile does not queue behind discord.py's global lock either.

discord.py offers no hook for a middleware: its session is made in ``HTTPClient.static_login``, so
:meth:`BotLimits.install` adds it to that session after login (``setup_hook``). What stays as it
was: discord.py's pre-emptive wait for a bucket its headers say is exhausted (``X-RateLimit-Remaining:
0``: at most that bucket's ``Reset-After``, a few seconds).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import aiohttp
import discord

from .webhook_limits import RateGate, Throttled, rate_limit_of

log = logging.getLogger(__name__)

_DELIVERING: ContextVar[bool] = ContextVar("chatbridge_discord_delivering", default=False)


class BotLimits:
    def __init__(self, gate: RateGate) -> None:
        self.gate = gate
        self.installed = False

    def install(self, http: discord.http.HTTPClient) -> bool:
        """Add the middleware to discord.py's session (made at login); False if it cannot be found."""
        session = getattr(http, "_HTTPClient__session", None)
        current = getattr(session, "_middlewares", None)
        if not isinstance(session, aiohttp.ClientSession) or not isinstance(current, tuple):
            log.warning("cannot reach discord.py's HTTP session: bot-route 429s are slept inside deliveries")
            self.installed = False
            return False
        if self.middleware not in current:
            session._middlewares = (*current, self.middleware)
        self.installed = True
        return True

    @contextlib.contextmanager
    def delivering(self) -> Iterator[None]:
        """Bot calls in here raise a long 429 instead of sleeping it; raises :class:`Throttled` at once
        while a global limit (or a Cloudflare ban) longer than the allowed wait lasts."""
        wait = self.gate.wait_s()
        if wait > self.gate.max_wait_s:
            self.gate.counts["held"] += 1
            raise Throttled(wait, self.gate.hold_kind)
        token = _DELIVERING.set(True)
        try:
            yield
        finally:
            _DELIVERING.reset(token)

    async def middleware(
        self, request: aiohttp.ClientRequest, handler: Callable[[aiohttp.ClientRequest], Any]
    ) -> aiohttp.ClientResponse:
        if _DELIVERING.get():
            return await self.gate.middleware(request, handler)
        response: aiohttp.ClientResponse = await handler(request)
        if response.status == 429 and response.headers.get("Via"):
            retry_after, is_global = await rate_limit_of(response)
            if is_global:  # discord.py sleeps it and holds every bot request meanwhile: deliveries too
                self.gate.global_limit(retry_after)
        return response
