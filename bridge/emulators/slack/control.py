"""HTTP control routes under ``/_emulator/`` so another process (the CLI sandbox) can drive the emulator.

All bodies and answers are JSON. Users and channels may be named by id or by name.

- ``GET  /_emulator/state``                       team, users, channels, bot ids
- ``POST /_emulator/messages``   {user, channel, text, thread_ts?, broadcast?, files?: [{name, data_b64}]}
  a person posts (with files: a ``file_share`` message)
- ``POST /_emulator/messages/edit``   {channel, ts, text}                a person edits
- ``POST /_emulator/messages/delete`` {channel, ts}                      a person deletes
- ``GET  /_emulator/messages?channel=general``    messages of a channel as stored; each has
  ``received_files``: name, size, content_type, sha256 of the bytes the emulator holds for the files
  it shares (``files[]``) or shows (``image`` blocks' ``slack_file``)
- ``GET  /_emulator/thread?channel=general&ts=…``  a thread: parent (or tombstone), then replies (a reply's
  ts names its thread, here and in ``POST /_emulator/messages``)
- ``POST /_emulator/commands``   {user, channel, text, command?}         a slash command
- ``GET  /_emulator/commands/{id}``               its ack and responses
- ``GET  /_emulator/log?after=0``                 what became visible (posts, edits, responses...)
- ``GET  /_emulator/requests?method=chat.postMessage&after=0``   recorded requests
- ``POST /_emulator/rate_limits``  {method, limit, window?, retry_after?, per_channel?} (limit null: off)
- ``POST /_emulator/failures``     {method, error, count?, status?, retry_after?}
- ``POST /_emulator/outage``                      drop every Socket Mode connection, refuse reconnects
- ``DELETE /_emulator/outage``                    allow reconnects again
- ``POST /_emulator/socket/disconnect`` {reason: warning|refresh_requested|too_many_websockets|link_disabled|random}
  and ``DELETE /_emulator/socket/link_disabled``: Socket Mode's disconnects (``socket_faults``)
- ``POST /_emulator/membership`` {channel, member, private?}, ``POST /_emulator/scopes``: see ``membership``
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bridge.emulators.blobs import decode_files
from bridge.emulators.slack import reaction_routes
from bridge.emulators.slack.config import RateLimit
from bridge.emulators.slack.limits import Injected
from bridge.emulators.slack.message_ops import EmulatorError
from bridge.emulators.slack.payloads import channel_object, user_object
from bridge.emulators.slack.state import SlackMessage

if TYPE_CHECKING:
    from bridge.emulators.slack.server import SlackEmulator

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guard(fn: Callable[[web.Request], Awaitable[Any]]) -> Route:
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            result = await fn(request)
        except EmulatorError as err:
            return web.json_response({"ok": False, "error": str(err)}, status=404)
        except (KeyError, TypeError, ValueError) as err:
            return web.json_response({"ok": False, "error": f"bad request: {err}"}, status=400)
        return web.json_response({"ok": True, **result})

    return handler


async def _body(request: web.Request) -> dict[str, Any]:
    data = await request.json()
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _root_ts(emu: SlackEmulator, channel: str, ts: Any) -> str | None:
    """The thread a control call means by ``ts``: a reply's ts means its parent's thread (a person
    answering "in the thread of" a reply answers in that thread: Slack has no nested threads)."""
    if not ts:
        return None
    chan = emu.workspace.channel(channel)
    msg = emu.find_message(chan.id, str(ts)) if chan is not None else None
    if msg is not None and msg.thread_ts and msg.thread_ts != msg.ts:
        return msg.thread_ts
    return str(ts)


def _thread_route(emu: SlackEmulator) -> Callable[[web.Request], Awaitable[Any]]:
    async def thread(request: web.Request) -> dict[str, Any]:
        channel = request.query["channel"]
        msgs = emu.thread(channel, _root_ts(emu, channel, request.query["ts"]) or "")
        return {
            "messages": [{**m.to_api(), "channel": m.channel, "received_files": received_files(emu, m)} for m in msgs]
        }

    return thread


def received_files(emu: SlackEmulator, msg: SlackMessage) -> list[dict[str, Any]]:
    """What the emulator holds for the files a message shares or shows (sha256 of the bytes)."""
    ids = list(msg.files)
    for block in msg.blocks or []:
        ref = block.get("slack_file") if isinstance(block, dict) else None
        if isinstance(ref, dict) and ref.get("id") and ref["id"] not in ids:
            ids.append(str(ref["id"]))
    out = []
    for file_id in ids:
        item = emu.files.files.get(file_id)
        if item is None or item.blob is None or item.deleted:
            continue
        out.append(
            {"name": item.name, "size": item.blob.size, "content_type": item.mimetype, "sha256": item.blob.sha256}
        )
    return out


def add_routes(app: web.Application, emu: SlackEmulator) -> None:
    ws = emu.workspace

    async def state(_: web.Request) -> dict[str, Any]:
        return {
            "team_id": ws.team_id,
            "team_domain": ws.team_domain,
            "bot_user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "app_id": ws.app_id,
            "api_url": emu.api_url,
            "users": [user_object(ws, u) for u in ws.users.values()],
            "channels": [channel_object(ws, c, viewer=ws.bot_user_id) for c in ws.channels.values()],
            "socket_connected": emu.socket.connected,
            "socket_refusing": emu.socket.refusing,
            "socket_refused": emu.socket.refused,
        }

    async def say(request: web.Request) -> dict[str, Any]:
        b = await _body(request)
        msg = emu.user_says(
            user=str(b["user"]),
            channel=str(b["channel"]),
            text=str(b.get("text") or ""),
            thread_ts=_root_ts(emu, str(b["channel"]), b.get("thread_ts")),
            broadcast=bool(b.get("broadcast", False)),
            files=decode_files(b.get("files")),
        )
        return {"channel": msg.channel, "ts": msg.ts}

    async def edit(request: web.Request) -> dict[str, Any]:
        b = await _body(request)
        msg = emu.user_edits(channel=str(b["channel"]), ts=str(b["ts"]), text=str(b["text"]))
        return {"channel": msg.channel, "ts": msg.ts}

    async def delete(request: web.Request) -> dict[str, Any]:
        b = await _body(request)
        msg = emu.user_deletes(channel=str(b["channel"]), ts=str(b["ts"]))
        return {"channel": msg.channel, "ts": msg.ts}

    async def messages(request: web.Request) -> dict[str, Any]:
        channel = request.query["channel"]
        deleted = request.query.get("include_deleted") in ("1", "true")
        msgs = emu.history(channel, include_deleted=deleted)
        return {
            "messages": [
                {
                    **m.to_api(),
                    "channel": m.channel,
                    "deleted": m.deleted,
                    "received_files": received_files(emu, m),
                    **({"reacted_by": reaction_routes.named(emu, m)} if m.reactions else {}),
                }
                for m in msgs
            ]
        }

    async def command(request: web.Request) -> dict[str, Any]:
        b = await _body(request)
        run = emu.slash_command(
            user=str(b["user"]),
            channel=str(b["channel"]),
            text=str(b.get("text", "")),
            command=str(b.get("command", "/chat")),
        )
        return {"id": run.id}

    async def command_state(request: web.Request) -> dict[str, Any]:
        run = emu.commands.get(request.match_info["run_id"])
        if run is None:
            raise EmulatorError("no such command run")
        return {"command": run.to_json()}

    async def log(request: web.Request) -> dict[str, Any]:
        after = int(request.query.get("after", "0"))
        return {"entries": [e.to_json() for e in emu.log if e.seq > after]}

    async def requests(request: web.Request) -> dict[str, Any]:
        after = int(request.query.get("after", "0"))
        method = request.query.get("method")
        found = [r for r in emu.requests if r.seq > after and (method is None or r.api_method == method)]
        return {"requests": [r.to_json() for r in found]}

    async def rate_limits(request: web.Request) -> dict[str, Any]:
        b = await _body(request)
        limit = b.get("limit")
        rule = None
        if limit is not None:
            rule = RateLimit(
                limit=int(limit),
                window=float(b.get("window", 1.0)),
                retry_after=int(b.get("retry_after", 1)),
                per_channel=bool(b.get("per_channel", True)),
            )
        emu.limiter.set_limit(str(b["method"]), rule)
        return {}

    async def failures(request: web.Request) -> dict[str, Any]:
        b = await _body(request)
        retry_after = b.get("retry_after")
        emu.limiter.inject(
            str(b["method"]),
            Injected(
                error=str(b["error"]),
                count=int(b.get("count", 1)),
                status=int(b.get("status", 200)),
                retry_after=int(retry_after) if retry_after is not None else None,
            ),
        )
        return {}

    r = app.router
    r.add_get("/_emulator/state", _guard(state))
    r.add_post("/_emulator/messages", _guard(say))
    r.add_post("/_emulator/messages/edit", _guard(edit))
    r.add_post("/_emulator/messages/delete", _guard(delete))
    r.add_get("/_emulator/messages", _guard(messages))
    r.add_get("/_emulator/thread", _guard(_thread_route(emu)))
    r.add_post("/_emulator/commands", _guard(command))
    r.add_get("/_emulator/commands/{run_id}", _guard(command_state))
    r.add_get("/_emulator/log", _guard(log))
    r.add_get("/_emulator/requests", _guard(requests))
    r.add_post("/_emulator/rate_limits", _guard(rate_limits))
    r.add_post("/_emulator/failures", _guard(failures))
    _add_outage_routes(app, emu)


def _add_outage_routes(app: web.Application, emu: SlackEmulator) -> None:
    async def outage_start(_: web.Request) -> dict[str, Any]:
        return {"closed": await emu.socket.outage(True), "refusing": True}

    async def outage_end(_: web.Request) -> dict[str, Any]:
        await emu.socket.outage(False)
        return {"closed": 0, "refusing": False}

    app.router.add_post("/_emulator/outage", _guard(outage_start))
    app.router.add_delete("/_emulator/outage", _guard(outage_end))
