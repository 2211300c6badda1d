"""The Discord gateway: HELLO, IDENTIFY/READY/GUILD_CREATE, heartbeats, dispatches, RESUME replay.

Every dispatch gets the session's next sequence number and is kept in the session's buffer, so a
client that reconnects with RESUME (op 6) receives exactly the dispatches after the ``seq`` it
sends. While no socket is attached (or delivery is held), dispatches are buffered only.

Connection faults, on demand (:meth:`Gateway.fault`; ``gateway_chaos`` injects them at random), from
discord-api-docs events/gateway.mdx (https://discord.com/developers/docs/topics/gateway) and
topics/opcodes-and-status-codes.mdx (https://discord.com/developers/docs/topics/opcodes-and-status-codes):

- ``reconnect``: op 7 Reconnect, "dispatched when a client should reconnect to the gateway (and resume
  their existing session)" (events/gateway-events.mdx "Reconnect"); the session stays resumable and
  what happens meanwhile is buffered for the RESUME;
- ``invalid_resumable``: op 9 Invalid Session with ``d: true`` ("the session may be resumable"): the
  client reconnects and resumes, the session replays;
- ``invalid_session``: op 9 with ``d: false`` — "the gateway has invalidated an active session"; the
  client must IDENTIFY anew ("Resuming": "If the ``d`` field is set to ``false`` ... send an Identify").
  The session is gone: its buffered and later dispatches are never delivered, and the new session
  starts with READY, not with the events missed in between;
- ``close_4009``: close code 4009 Session timed out, "Reconnect and start a new one": the session is
  gone (a RESUME of it is answered with op 9 ``d: false``, like any unknown session); 4007 Invalid
  ``seq`` ("start a new session") likewise;
- ``close_4000``: 4000 Unknown error, "Try reconnecting?": the session stays resumable;
- ``zombie``: the connection stops carrying anything — no Heartbeat ACK (op 11), no dispatches (they
  are buffered for a RESUME) — while the socket stays open. "If a client does not receive a
  heartbeat ACK between its attempts at sending heartbeats, this may be due to a failed or
  'zombied' connection. The client should immediately terminate the connection with any close code
  besides 1000 or 1001, then reconnect and attempt to Resume" (events/gateway.mdx "Heartbeat
  Interval").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from . import payloads, permissions
from .intents import INTENT_DIRECT_MESSAGES, INTENT_GUILD_MESSAGES, INTENT_MESSAGE_CONTENT
from .state import World

_log = logging.getLogger(__name__)

OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME, OP_RECONNECT = 0, 1, 2, 6, 7
OP_REQUEST_MEMBERS, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 8, 9, 10, 11

SESSION_ENDING_CLOSES = (4007, 4009)
"""Close codes after which the client must "start a new session" (topics/opcodes-and-status-codes.mdx)."""
FAULTS = ("reconnect", "invalid_resumable", "invalid_session", "close_4000", "close_4009", "zombie")
"""What :meth:`Gateway.fault` can do to the live connections (see the module docstring)."""


Filter = Callable[["Session", dict[str, Any]], dict[str, Any] | None]


class Connection:
    """One websocket; sends TEXT frames, or zlib-stream BINARY frames when the client asked."""

    def __init__(self, ws: web.WebSocketResponse, *, zlib_stream: bool) -> None:
        self.ws = ws
        self._zctx = zlib.compressobj() if zlib_stream else None
        self.zombie = False
        """A zombied connection: heartbeats go unanswered and nothing is sent on it any more."""

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)
        if self._zctx is None:
            await self.ws.send_str(text)
        else:
            await self.ws.send_bytes(self._zctx.compress(text.encode()) + self._zctx.flush(zlib.Z_SYNC_FLUSH))


@dataclass
class Session:
    id: str
    intents: int
    shard: tuple[int, int] = (0, 1)
    """``[shard_id, num_shards]`` from IDENTIFY; a guild lives on shard ``(guild_id >> 22) % num_shards``."""
    seq: int = 0
    buffer: list[dict[str, Any]] = field(default_factory=list)
    conn: Connection | None = None
    held: bool = False
    rewind: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def receives(self, guild_id: str | None) -> bool:
        """Guild events go to the shard owning the guild; DMs to shard 0 (as on Discord)."""
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (int(guild_id) >> 22) % count == shard_id

    async def dispatch(self, event: str, data: Any) -> None:
        async with self.lock:
            self.seq += 1
            payload = {"op": OP_DISPATCH, "s": self.seq, "t": event, "d": data}
            self.buffer.append(payload)
            if self.conn is not None and not self.held:
                try:
                    await self.conn.send(payload)
                except ConnectionError:
                    self.conn = None


class Gateway:
    """All gateway sessions of the emulator, plus what clients sent (``received``)."""

    def __init__(self, world: World, *, on_change: Callable[[], None]) -> None:
        self.world = world
        self.sessions: dict[str, Session] = {}
        self.received: list[dict[str, Any]] = []
        self.resumes = 0
        self.identifies = 0
        self.url = ""
        self.refusing = False
        """An emulated outage: new gateway connections are refused (see :meth:`outage`)."""
        self.refused = 0
        self.faults: dict[str, int] = dict.fromkeys(FAULTS, 0)
        """How many sessions each fault hit so far."""
        self.unanswered_heartbeats = 0
        """Heartbeats that arrived on a zombied connection (and got no ACK)."""
        self._on_change = on_change
        self.token_ok: Callable[[object], bool] = self.token_matches
        """Replaced by the server to revoke the token (``DiscordEmulator.revoke_token``)."""

    # -- dispatching -------------------------------------------------------------------------
    async def dispatch(self, event: str, data: dict[str, Any], *, shape: Filter | None = None) -> None:
        """Send ``event`` to every session; ``shape`` may adapt or drop it per session (intents)."""
        guild_id = data.get("guild_id")
        for session in list(self.sessions.values()):
            if not session.receives(None if guild_id is None else str(guild_id)):
                continue
            shaped = shape(session, data) if shape is not None else data
            if shaped is not None:
                await session.dispatch(event, shaped)
        self._on_change()

    def token_matches(self, token: object) -> bool:
        """Whether IDENTIFY/RESUME carry the bot token (``token_ok`` by default)."""
        return token == self.world.config.token

    def rewind(self, count: int) -> None:
        """On the next RESUME, also replay the last ``count`` dispatches the client already had
        (Discord's delivery is at-least-once: clients must tolerate duplicates)."""
        for session in self.sessions.values():
            session.rewind = count

    def hold(self) -> None:
        """Buffer dispatches without sending them, until the client resumes (test helper)."""
        for session in self.sessions.values():
            session.held = True

    async def close_connections(self, code: int = 4000) -> int:
        """Close every live socket with ``code`` (4000 → discord.py resumes). Returns how many."""
        closed = 0
        for session in list(self.sessions.values()):
            conn, session.conn = session.conn, None
            if code in SESSION_ENDING_CLOSES:  # "Reconnect and start a new one": the session is gone
                self.sessions.pop(session.id, None)
            if conn is not None:
                await conn.ws.close(code=code, message=b"emulator closed the connection")
                closed += 1
        self._on_change()
        return closed

    async def fault(self, kind: str) -> int:
        """Inflict ``kind`` (one of :data:`FAULTS`) on every live connection; returns how many
        sessions it hit. ``invalid_session`` also ends the sessions that have no socket right now."""
        if kind not in FAULTS:
            raise ValueError(f"unknown gateway fault {kind!r}; one of {', '.join(FAULTS)}")
        if kind.startswith("close_"):
            hit = await self.close_connections(int(kind.removeprefix("close_")))
        else:
            hit = 0
            for session in list(self.sessions.values()):
                hit += await self._fault_session(kind, session)
        self.faults[kind] += hit
        self._on_change()
        return hit

    async def _fault_session(self, kind: str, session: Session) -> int:
        async with session.lock:  # no dispatch goes out half-way through
            conn, session.conn = session.conn, None  # later dispatches are buffered (or lost, below)
            if kind == "invalid_session":
                self.sessions.pop(session.id, None)
            if conn is None:
                return 1 if kind == "invalid_session" else 0
            if kind == "zombie":
                conn.zombie = True
                return 1
            op = OP_RECONNECT if kind == "reconnect" else OP_INVALID_SESSION
            d = None if kind == "reconnect" else kind == "invalid_resumable"
            # a socket already going away: the client reconnects all the same
            with contextlib.suppress(ConnectionError):
                await conn.send({"op": op, "s": None, "t": None, "d": d})
            return 1

    async def outage(self, refuse: bool) -> int:
        """Start (``refuse=True``) or end an outage: every live socket is closed with 4000 ("Unknown
        error ... Try reconnecting?", discord-api-docs topics/Opcodes_and_Status_Codes.md: the client
        reconnects and resumes) and, while it lasts, the websocket upgrade answers 503 (the gateway
        host is unreachable: discord.py sees an ``aiohttp.ClientError`` and retries with backoff).
        Sessions stay resumable, and dispatches meanwhile are buffered for the RESUME."""
        self.refusing = refuse
        closed = await self.close_connections(4000) if refuse else 0
        self._on_change()
        return closed

    def connected(self) -> int:
        return sum(1 for s in self.sessions.values() if s.conn is not None)

    # -- the websocket handler ---------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.refusing:
            self.refused += 1
            self._on_change()
            return web.Response(status=503, text="gateway unavailable (emulated outage)")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Connection(ws, zlib_stream=request.query.get("compress") == "zlib-stream")
        hello = {"heartbeat_interval": self.world.config.heartbeat_interval_ms}
        await conn.send({"op": OP_HELLO, "s": None, "t": None, "d": hello})
        session: Session | None = None
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                self.received.append(data)
                session = await self._on_op(conn, data, session)
                self._on_change()
        finally:
            if session is not None and session.conn is conn:
                session.conn = None
            self._on_change()
        return ws

    async def _on_op(self, conn: Connection, data: dict[str, Any], session: Session | None) -> Session | None:
        op = data.get("op")
        if conn.zombie:  # nothing gets through any more, in either direction
            self.unanswered_heartbeats += op == OP_HEARTBEAT
            return session
        if op == OP_HEARTBEAT:
            await conn.send({"op": OP_HEARTBEAT_ACK, "s": None, "t": None, "d": None})
        elif op == OP_IDENTIFY:
            session = await self._identify(conn, data["d"])
        elif op == OP_RESUME:
            session = await self._resume(conn, data["d"])
        elif op == OP_REQUEST_MEMBERS and session is not None:
            members = [payloads.member(self.world, m) for m in self.world.members.values()]
            chunk = {"guild_id": self.world.guild_id, "members": members, "chunk_index": 0, "chunk_count": 1}
            if data["d"].get("nonce"):
                chunk["nonce"] = data["d"]["nonce"]
            await session.dispatch("GUILD_MEMBERS_CHUNK", chunk)
        return session

    async def _identify(self, conn: Connection, d: dict[str, Any]) -> Session | None:
        if not self.token_ok(d.get("token")):
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return None
        if int(d.get("intents", 0)) & INTENT_MESSAGE_CONTENT and not self.world.config.message_content_enabled:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        shard = d.get("shard") or [0, 1]
        if len(shard) != 2 or not 0 <= int(shard[0]) < int(shard[1]):
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return None
        self.identifies += 1
        session = Session(secrets.token_hex(16), int(d.get("intents", 0)), (int(shard[0]), int(shard[1])))
        self.sessions[session.id] = session
        async with session.lock:
            session.conn = conn
        mine = session.receives(self.world.guild_id)
        ready = {
            "v": 10,
            "user": payloads.me(self.world),
            "guilds": [{"id": self.world.guild_id, "unavailable": True}] if mine else [],
            "session_id": session.id,
            "resume_gateway_url": self.url,
            "application": {"id": self.world.application_id, "flags": 0},
            "private_channels": [],
            "relationships": [],
            "shard": list(session.shard),
        }
        await session.dispatch("READY", ready)
        if mine:
            await session.dispatch("GUILD_CREATE", payloads.guild_create(self.world, session.intents))
        return session

    async def _resume(self, conn: Connection, d: dict[str, Any]) -> Session | None:
        session = self.sessions.get(str(d.get("session_id")))
        if session is None or not self.token_ok(d.get("token")):
            await conn.send({"op": OP_INVALID_SESSION, "s": None, "t": None, "d": False})
            return None
        self.resumes += 1
        last = max(0, int(d.get("seq") or 0) - session.rewind)
        session.rewind = 0
        async with session.lock:
            for payload in session.buffer:
                if payload["s"] > last:
                    await conn.send(payload)
            session.conn = conn
            session.held = False
        await session.dispatch("RESUMED", {})
        return session


def message_shape(world: World) -> Filter:
    """Apply intents to a message dispatch: drop without (DIRECT|GUILD)_MESSAGES, blank content
    without MESSAGE_CONTENT (except the bot's own messages, DMs and messages mentioning the bot)."""

    def shape(session: Session, data: dict[str, Any]) -> dict[str, Any] | None:
        is_dm = "guild_id" not in data
        needed = INTENT_DIRECT_MESSAGES if is_dm else INTENT_GUILD_MESSAGES
        if not session.intents & needed:
            return None
        channel = world.channels.get(str(data.get("channel_id")))
        if channel is not None and not permissions.views(world, world.bot.id, channel):
            return None  # topics/permissions.mdx "Channel Visibility": a channel the bot cannot view sends it nothing
        if session.intents & INTENT_MESSAGE_CONTENT or is_dm or "content" not in data:
            return data
        author = data.get("author", {}).get("id")
        mentioned = any(u["id"] == world.bot.id for u in data.get("mentions", []))
        if author == world.bot.id or mentioned:
            return data
        return {**data, "content": "", "embeds": [], "attachments": []}

    return shape
