"""Socket Mode connection lifecycle: ``disconnect`` frames, refreshes, the connection limit, a
disabled link — what Slack does to an app's WebSockets besides delivering envelopes.

Source: "Using Socket Mode", api.slack.com/apis/socket-mode (docs.slack.dev/apis/events-api/using-
socket-mode), sections on the ``hello`` message, disconnects and multiple connections:

- ``hello`` carries ``debug_info.approximate_connection_time`` (seconds, 18060 in the docs' example):
  Slack refreshes each connection after about that long.
- Before a refresh Slack sends ``{"type": "disconnect", "reason": "warning", "debug_info": {"host":
  …}}`` — the connection will be refreshed in about 10 seconds — then ``{"type": "disconnect",
  "reason": "refresh_requested", …}``: the app should open a new connection (``apps.connections.
  open``) and stop using this one, which Slack then closes.
- ``link_disabled``: Socket Mode was turned off for the app (app settings → Socket Mode): every
  connection gets it and is closed; the app must not reconnect until an admin turns it on again
  (here a new connection meanwhile gets ``link_disabled`` again and is closed at once).
- An app may hold up to 10 connections at once (the docs: "up to 10 simultaneous WebSocket
  connections"; Slack's SDK maintainers in slackapi/node-slack-sdk issue 1654); one more gets
  ``too_many_websockets`` and is closed.
- Envelopes go to one of the open connections; one sent on a connection that closes before the
  app acked it is redelivered like any un-acked envelope (``retry_attempt`` + 1, ``retry_reason``
  ``timeout``: see ``socket_mode``), on whichever connection is open then.

``SocketTimers`` hold the delays (real ones by default; tests shorten them). ``SocketFaults``
applies them to a :class:`~bridge.emulators.slack.socket_mode.SocketModeHub`; the control route
``POST /_emulator/socket/disconnect`` injects any of them (``reason: "random"`` picks one).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from bridge.emulators.slack.server import SlackEmulator

log = logging.getLogger(__name__)

REASONS = ("warning", "refresh_requested", "too_many_websockets", "link_disabled")
RECOVERABLE = ("warning", "refresh_requested", "too_many_websockets")
"""What ``reason: "random"`` picks from (``link_disabled`` only when asked: it needs an admin)."""


@dataclass
class SocketTimers:
    refresh_after_s: float | None = 18060.0
    """Each connection is refreshed (warning, then refresh_requested) after this long (None: never)."""
    warning_lead_s: float = 10.0
    """From the ``warning`` frame to ``refresh_requested``."""
    close_after_s: float = 10.0
    """From ``refresh_requested`` / ``too_many_websockets`` / ``link_disabled`` to the server closing
    the socket (an app that reconnects at once closes it itself first)."""
    max_connections: int = 10


def frame(reason: str, conn_id: int) -> str:
    return json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": f"applink-emulator-{conn_id}"}})


class SocketFaults:
    def __init__(
        self, timers: SocketTimers, on_change: Callable[[], None], spawn: Callable[[Awaitable[Any]], object]
    ) -> None:
        self.timers = timers
        self._on_change = on_change
        self._spawn = spawn
        """The emulator's task spawner (its ``stop`` cancels what is still pending)."""
        self.link_disabled = False
        self.sent: list[tuple[int, str]] = []
        """(connection id, reason) of every disconnect frame sent, in order."""
        self.server_closed: list[int] = []
        """Connections the emulator closed itself (the app had not closed them first)."""
        self._sockets: dict[int, web.WebSocketResponse] = {}

    # -- the hub's hooks -----------------------------------------------------------------------
    def refusal(self, open_now: int) -> str | None:
        """Why a new connection is refused at once (None: accepted)."""
        if self.link_disabled:
            return "link_disabled"
        if open_now >= self.timers.max_connections:
            return "too_many_websockets"
        return None

    async def refuse(self, ws: web.WebSocketResponse, conn_id: int, reason: str) -> None:
        """Tell a connection that cannot stay why, close it after the delay, read until it is closed."""
        self._sockets[conn_id] = ws
        await self._send(conn_id, reason)
        delay = 0.0 if reason == "link_disabled" else self.timers.close_after_s
        self._later(delay, lambda: self._close(conn_id))
        with contextlib.suppress(Exception):
            async for _ in ws:
                pass
        self._sockets.pop(conn_id, None)

    def opened(self, conn_id: int, ws: web.WebSocketResponse) -> None:
        self._sockets[conn_id] = ws
        if self.timers.refresh_after_s is not None:
            self._later(self.timers.refresh_after_s, lambda: self.disconnect(conn_id, "warning"))

    def closed(self, conn_id: int) -> None:
        self._sockets.pop(conn_id, None)

    # -- faults --------------------------------------------------------------------------------
    async def disconnect(self, conn_id: int | None, reason: str) -> list[int]:
        """Send ``reason`` to one connection (None: the newest; every one for ``link_disabled``) and
        carry it out; returns the connections it went to."""
        if reason not in REASONS:
            raise ValueError(f"reason must be one of {', '.join(REASONS)} or random")
        live = [c for c, ws in self._sockets.items() if not ws.closed]
        if reason == "link_disabled":
            self.link_disabled = True
            targets = live
        elif conn_id is None:
            targets = live[-1:]
        else:
            targets = [conn_id] if conn_id in live else []
        for target in targets:
            await self._send(target, reason)
            if reason == "warning":
                self._later(self.timers.warning_lead_s, functools.partial(self.disconnect, target, "refresh_requested"))
            else:
                delay = 0.0 if reason == "link_disabled" else self.timers.close_after_s
                self._later(delay, functools.partial(self._close, target))
        self._on_change()
        return targets

    def enable_link(self) -> None:
        self.link_disabled = False
        self._on_change()

    @staticmethod
    def pick(include_link_disabled: bool = False) -> str:
        return random.choice(REASONS if include_link_disabled else RECOVERABLE)

    # -- internals -----------------------------------------------------------------------------
    async def _send(self, conn_id: int, reason: str) -> None:
        ws = self._sockets.get(conn_id)
        if ws is None or ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(frame(reason, conn_id))
            self.sent.append((conn_id, reason))
            log.info("socket mode: disconnect (%s) sent to connection %d", reason, conn_id)

    async def _close(self, conn_id: int) -> None:
        ws = self._sockets.get(conn_id)
        if ws is not None and not ws.closed:
            self.server_closed.append(conn_id)
            await ws.close()
            self._on_change()

    def _later(self, delay: float, action: Callable[[], Awaitable[Any]]) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            await action()

        self._spawn(run())


def add_control_routes(app: web.Application, emu: SlackEmulator, *, guard: Any, body: Any) -> None:
    """``POST /_emulator/socket/disconnect`` ``{reason, connection?, include_link_disabled?}``
    (``reason``: one of :data:`REASONS` or ``random``); ``DELETE /_emulator/socket/link_disabled``
    turns Socket Mode on again; ``GET /_emulator/socket`` lists connections and frames sent."""
    faults = emu.socket.faults

    async def disconnect(request: web.Request) -> dict[str, Any]:
        b = await body(request)
        reason = str(b.get("reason") or "random")
        if reason == "random":
            reason = faults.pick(bool(b.get("include_link_disabled", False)))
        conn = b.get("connection")
        sent_to = await faults.disconnect(int(conn) if conn is not None else None, reason)
        return {"reason": reason, "connections": sent_to}

    async def enable(_: web.Request) -> dict[str, Any]:
        faults.enable_link()
        return {"link_disabled": False}

    async def state(_: web.Request) -> dict[str, Any]:
        return {
            "connected": emu.socket.connected,
            "connections": emu.socket.connection_count,
            "link_disabled": faults.link_disabled,
            "frames": [{"connection": c, "reason": r} for c, r in faults.sent],
            "server_closed": list(faults.server_closed),
        }

    app.router.add_post("/_emulator/socket/disconnect", guard(disconnect))
    app.router.add_delete("/_emulator/socket/link_disabled", guard(enable))
    app.router.add_get("/_emulator/socket", guard(state))
