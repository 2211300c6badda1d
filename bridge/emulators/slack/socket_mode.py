"""Socket Mode: the WebSocket an app opens with ``apps.connections.open``.

Slack sends ``hello``, then envelopes (``events_api``, ``slash_commands``...). The app acks each
envelope with ``{"envelope_id": ...}`` (optionally a ``payload``). An ``events_api`` envelope that is
not acked within ``ack_timeout`` is sent again with ``retry_attempt`` incremented and
``retry_reason: "timeout"``, up to ``max_retries`` times. Envelopes sent while no app is connected
wait for the next connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bridge.emulators.slack.socket_faults import SocketFaults, SocketTimers

log = logging.getLogger(__name__)


@dataclass
class Envelope:
    envelope_id: str
    type: str
    payload: dict[str, Any]
    retry_attempt: int = 0
    retry_reason: str = ""
    accepts_response_payload: bool = False
    acked: bool = False
    ack_payload: dict[str, Any] | None = None
    sent_on: int | None = None
    """Id of the connection it was written to (None while waiting for a connection)."""
    event_id: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def to_wire(self) -> dict[str, Any]:
        return {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
            "retry_attempt": self.retry_attempt,
            "retry_reason": self.retry_reason,
        }


class SocketModeHub:
    def __init__(
        self,
        *,
        app_id: str,
        ack_timeout: float,
        max_retries: int,
        on_change: Callable[[], None],
        timers: SocketTimers | None = None,
        spawn: Callable[[Any], object] = asyncio.ensure_future,
    ) -> None:
        self.app_id = app_id
        self.faults = SocketFaults(timers or SocketTimers(), on_change, spawn)
        """Disconnect frames, refreshes, the connection limit, link_disabled (``socket_faults``)."""
        self.ack_timeout = ack_timeout
        self.max_retries = max_retries
        self._on_change = on_change
        self._tickets: set[str] = set()
        self._connections: dict[int, web.WebSocketResponse] = {}
        self._next_conn = 0
        self._connected = asyncio.Event()
        self.envelopes: list[Envelope] = []
        """Every envelope sent or queued, retries included, in order."""
        self.acks: list[dict[str, Any]] = []
        self.connection_count = 0
        self.refusing = False
        """An emulated outage: new Socket Mode connections are refused (see :meth:`outage`)."""
        self.refused = 0

    # -- connection ----------------------------------------------------------------------------
    def issue_url(self, base_ws_url: str) -> str:
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        return f"{base_ws_url}/link/?ticket={ticket}&app_id={self.app_id}"

    @property
    def connected(self) -> bool:
        return any(not ws.closed for ws in self._connections.values())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.refusing:
            self.refused += 1
            self._on_change()
            return web.Response(status=503, text="socket mode unavailable (emulated outage)")
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn_id = self._next_conn
        self._next_conn += 1
        refused = self.faults.refusal(sum(not w.closed for w in self._connections.values()))
        if refused is not None:  # told why and closed; never given an envelope
            await self.faults.refuse(ws, conn_id, refused)
            return ws
        self._connections[conn_id] = ws
        self.faults.opened(conn_id, ws)
        self.connection_count += 1
        hello = {
            "type": "hello",
            "num_connections": len(self._connections),
            "debug_info": {
                "host": f"applink-emulator-{conn_id}",
                "approximate_connection_time": int(self.faults.timers.refresh_after_s or 18060),
            },
            "connection_info": {"app_id": self.app_id},
        }
        await ws.send_str(json.dumps(hello))
        self._connected.set()
        self._on_change()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._on_text(msg.data)
        finally:
            self._connections.pop(conn_id, None)
            self.faults.closed(conn_id)
            if not self.connected:
                self._connected.clear()
            self._on_change()
        return ws

    def _on_text(self, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            log.warning("socket mode: non-JSON frame %r", data[:200])
            return
        self.acks.append(message)
        envelope_id = message.get("envelope_id")
        for env in self.envelopes:
            if env.envelope_id == envelope_id and not env.acked:
                env.acked = True
                env.ack_payload = message.get("payload")
                env.done.set()
        self._on_change()

    async def disconnect_all(self, *, reason: str = "refresh_requested") -> None:
        """Ask every connected app to reconnect (Slack's ``disconnect`` message)."""
        for conn_id in list(self._connections):
            await self.faults.disconnect(conn_id, reason)

    async def outage(self, refuse: bool) -> int:
        """Start (``refuse=True``) or end an outage. Slack may close a Socket Mode connection at any
        time and the app is expected to open a new one ("Using Socket Mode", api.slack.com/apis/
        socket-mode: "Disconnects"); here every socket is closed and, while the outage lasts, the
        upgrade of the ``wss`` URL answers 503, so slack_sdk keeps retrying (every ``ping_interval``).
        Envelopes meanwhile wait for the next connection. Returns how many sockets were closed."""
        self.refusing = refuse
        closed = 0
        if refuse:
            for ws in list(self._connections.values()):
                if not ws.closed:
                    await ws.close()
                    closed += 1
        self._on_change()
        return closed

    async def close(self) -> None:
        for ws in list(self._connections.values()):
            await ws.close()

    # -- delivery ------------------------------------------------------------------------------
    async def _send_once(self, env: Envelope, ack_within: float) -> bool:
        self.envelopes.append(env)
        self._on_change()
        while True:
            await self._connected.wait()
            live = [(cid, ws) for cid, ws in self._connections.items() if not ws.closed]
            if not live:
                self._connected.clear()  # the last connection is closing: wait for the next one
                continue
            cid, ws = live[-1]
            try:
                await ws.send_str(json.dumps(env.to_wire()))
            except ConnectionError:
                # the app's end died without a close frame (a SIGKILLed process): aiohttp raises at
                # once, so forget that socket here, or this loop spins without ever yielding
                self._connections.pop(cid, None)
                if not self.connected:
                    self._connected.clear()
                await asyncio.sleep(0)
                continue
            env.sent_on = cid
            self._on_change()
            break
        try:
            await asyncio.wait_for(env.done.wait(), ack_within)
        except TimeoutError:
            return False
        return True

    async def deliver_event(self, payload: dict[str, Any]) -> Envelope:
        """Send an ``events_api`` envelope, redelivering until acked or out of retries."""
        env = Envelope(envelope_id=str(uuid.uuid4()), type="events_api", payload=payload)
        env.event_id = payload.get("event_id")
        for attempt in range(self.max_retries + 1):
            if attempt:
                env = Envelope(
                    envelope_id=str(uuid.uuid4()),
                    type="events_api",
                    payload=payload,
                    retry_attempt=attempt,
                    retry_reason="timeout",
                    event_id=payload.get("event_id"),
                )
            if await self._send_once(env, self.ack_timeout):
                return env
        log.info("socket mode: event %s never acked", payload.get("event_id"))
        return env

    async def deliver_command(self, payload: dict[str, str], *, ack_within: float) -> Envelope:
        """Send a ``slash_commands`` envelope once (Slack does not retry commands)."""
        env = Envelope(
            envelope_id=str(uuid.uuid4()),
            type="slash_commands",
            payload=dict(payload),
            accepts_response_payload=True,
        )
        await self._send_once(env, ack_within)
        return env
