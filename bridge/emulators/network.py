"""A platform that cannot be reached, on demand (both emulators): the whole host, REST and websockets.

(``POST/DELETE /_emulator/outage`` — the ops control route — drops and refuses only the gateway /
Socket Mode sockets while REST keeps answering; this module is for the host being gone.)

Real outages look like one of these to a client, and each takes a different path through discord.py
and slack_sdk, so each is its own mode:

- ``refuse``: nothing listens on the port any more (``ECONNREFUSED``, what a client sees when a
  host is down or a firewall rejects it) and every open connection, websockets included, is cut
  without a close frame (a dropped network: close code 1006 on the client);
- ``error``: every platform request (REST/Web API and websocket upgrades) is answered with an HTTP
  5xx, as Discord's and Slack's edges do during an incident (discord-api-docs
  topics/opcodes-and-status-codes.mdx "HTTP Response Codes": 5XX "The server had an error
  processing your request (these are rare)"; Slack: https://api.slack.com/web#responses, "HTTP 5xx"
  with an HTML or plain body, no JSON ``ok``);
- ``revoked``: the token was revoked (each emulator answers its own way: Discord 401 + close 4004,
  Slack ``invalid_auth``/``token_revoked``).

Routes under ``/_emulator`` keep answering in ``error`` and ``revoked`` mode. In ``refuse`` mode
nothing answers, so :meth:`NetworkFault.refuse` takes ``seconds`` after which it listens again on the
same port (the control route of another process cannot reach a closed port to end it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Middleware

log = logging.getLogger(__name__)
Mode = Literal["none", "refuse", "error", "revoked"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CONTROL_PREFIX = "/_emulator"


@dataclass
class NetworkFault:
    host: str = "127.0.0.1"
    mode: Mode = "none"
    status: int = 503
    runner: web.AppRunner | None = None
    port: int = 0
    refused_connections: int = 0
    errors_answered: int = 0
    _reopen: asyncio.Task[None] | None = field(default=None, repr=False)

    def attach(self, runner: web.AppRunner, port: int) -> None:
        self.runner, self.port = runner, port

    @property
    def active(self) -> bool:
        return self.mode != "none"

    # -- modes ---------------------------------------------------------------------------------
    async def refuse(self, seconds: float | None = None) -> int:
        """Stop listening and cut every open connection; listen again after ``seconds`` (None: until
        :meth:`restore`). Returns how many connections were cut."""
        runner = self._runner()
        self.mode = "refuse"
        for site in list(runner.sites):
            await site.stop()
        server = runner.server
        cut = 0
        for conn in server.connections if server is not None else []:
            conn.force_close()
            cut += 1
        self.refused_connections += cut
        if seconds is not None:
            self.restore_later(seconds)
        log.info("emulator on port %s refuses connections (cut %d)", self.port, cut)
        return cut

    def restore_later(self, seconds: float) -> None:
        self._cancel_reopen()
        self._reopen = asyncio.get_running_loop().create_task(self._restore_after(seconds))

    def fail(self, status: int = 503) -> None:
        """Answer every platform request with HTTP ``status`` (a 5xx)."""
        if not 500 <= status <= 599:
            raise ValueError(f"status must be a 5xx, not {status}")
        self.mode, self.status = "error", status

    def revoke(self) -> None:
        self.mode = "revoked"

    async def restore(self) -> None:
        """Back to normal: listening again (same port), no injected errors."""
        self._cancel_reopen()
        if self.mode == "refuse":
            runner = self._runner()
            if not runner.sites:
                site = web.TCPSite(runner, self.host, self.port)
                await site.start()
        self.mode = "none"
        log.info("emulator on port %s is reachable again", self.port)

    async def _restore_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._reopen = None
        await self.restore()

    def _cancel_reopen(self) -> None:
        if self._reopen is not None and self._reopen is not asyncio.current_task():
            self._reopen.cancel()
        self._reopen = None

    def _runner(self) -> web.AppRunner:
        if self.runner is None:
            raise RuntimeError("the emulator is not started")
        return self.runner

    # -- the HTTP side ---------------------------------------------------------------------------
    def error_response(self, request: web.Request) -> web.Response | None:
        """The 5xx for a platform request in ``error`` mode (None otherwise, and for control routes)."""
        if self.mode != "error" or request.path.startswith(CONTROL_PREFIX):
            return None
        self.errors_answered += 1
        return web.Response(status=self.status, text=f"{self.status} upstream unavailable", content_type="text/html")

    def middleware(self) -> Middleware:
        @web.middleware
        async def network_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            return self.error_response(request) or await handler(request)

        return network_middleware

    def describe(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "status": self.status,
            "refused_connections": self.refused_connections,
            "errors_answered": self.errors_answered,
        }


def control_route(fault: NetworkFault, *, on_revoke: Callable[[], Awaitable[None]] | None = None) -> web.RouteDef:
    """``POST /_emulator/network`` ``{"mode": "refuse"|"error"|"revoked"|"none", "status"?: 5xx,
    "seconds"?: n}``: start or end an outage (``seconds``: end it by itself after that long; required
    for ``refuse`` from another process, since nothing answers on the port until then)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json() if request.body_exists else {}
        except ValueError:
            return web.json_response({"ok": False, "error": "invalid JSON"}, status=400)
        mode = body.get("mode") if isinstance(body, dict) else None
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if mode not in ("refuse", "error", "revoked", "none"):
            return web.json_response({"ok": False, "error": "mode must be refuse, error, revoked or none"}, status=400)
        if seconds is not None and (not isinstance(seconds, int | float) or seconds <= 0):
            return web.json_response({"ok": False, "error": "seconds must be a positive number"}, status=400)
        if mode == "refuse":
            if seconds is None:
                error = "refuse needs seconds (the port goes dark)"
                return web.json_response({"ok": False, "error": error}, status=400)
            response = web.json_response({"ok": True, **fault.describe(), "mode": "refuse"})
            await response.prepare(request)
            await response.write_eof()
            asyncio.get_running_loop().create_task(fault.refuse(float(seconds)))
            return response
        if mode == "error":
            try:
                fault.fail(int(body.get("status", 503)))
            except (TypeError, ValueError) as err:
                return web.json_response({"ok": False, "error": str(err)}, status=400)
        elif mode == "revoked":
            fault.revoke()
            if on_revoke is not None:
                await on_revoke()
        else:
            await fault.restore()
        if seconds is not None and mode != "none":
            fault.restore_later(float(seconds))
        return web.json_response({"ok": True, **fault.describe()})

    return web.post(f"{CONTROL_PREFIX}/network", handle)
