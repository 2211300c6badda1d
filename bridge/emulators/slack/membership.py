"""The app's membership of channels and its scopes: ``conversations.join`` and the control routes
that change either at run time (an admin removing the app from a channel, making a channel
private, reinstalling the app with other scopes).

``conversations.join`` (api.slack.com/methods/conversations.join; bot scope ``channels:join``):
joins a public channel and answers ``{"ok": true, "channel": {...}}``; a channel the app is in
already answers the same with ``warning: already_in_channel`` (and ``response_metadata.warnings``).
Errors used here: ``method_not_supported_for_channel_type`` ("This type of conversation cannot be
used with this method": a private channel or a DM), ``channel_not_found``, ``is_archived``. A
private channel the app is not in does not exist for it (``channel_not_found``, see
``webapi._channel``).

Control routes (JSON in and out):

- ``POST /_emulator/membership`` ``{channel, member: bool, private?: bool}`` — put the app in (or
  take it out of) a channel, and optionally flip the channel private / public.
- ``POST /_emulator/scopes`` ``{scopes: [...]}`` or ``{remove: [...]}`` / ``{add: [...]}`` — the
  bot token's scopes from now on (a reinstall with other scopes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bridge.emulators.slack.payloads import channel_object
from bridge.emulators.slack.webapi import METHODS, ApiError, Args

if TYPE_CHECKING:
    from bridge.emulators.slack.server import SlackEmulator

Guard = Callable[[Callable[[web.Request], Awaitable[Any]]], Callable[[web.Request], Awaitable[web.StreamResponse]]]
Body = Callable[[web.Request], Awaitable[dict[str, Any]]]


def conversations_join(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    ws = emu.workspace
    channel = ws.channel(str(args.get("channel") or ""))
    if channel is None or (channel.is_private and ws.bot_user_id not in channel.members):
        raise ApiError("channel_not_found")
    if channel.is_private or channel.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    if channel.archived:
        raise ApiError("is_archived")
    out: dict[str, Any] = {}
    if ws.bot_user_id in channel.members:
        out["_warnings"] = ["already_in_channel"]
    channel.members.add(ws.bot_user_id)
    emu.notify()
    out["channel"] = channel_object(ws, channel, viewer=ws.bot_user_id)
    return out


METHODS["conversations.join"] = conversations_join


def add_control_routes(app: web.Application, emu: SlackEmulator, *, guard: Guard, body: Body) -> None:
    async def membership(request: web.Request) -> dict[str, Any]:
        b = await body(request)
        channel = emu.workspace.channel(str(b["channel"]))
        if channel is None or channel.is_im:
            raise KeyError(f"no such channel {b['channel']!r}")
        if "private" in b:
            channel.is_private = bool(b["private"])
        if "archived" in b:
            channel.archived = bool(b["archived"])
        if "member" in b:
            if b["member"]:
                channel.members.add(emu.workspace.bot_user_id)
            else:
                channel.members.discard(emu.workspace.bot_user_id)
        emu.notify()
        return {"channel": channel_object(emu.workspace, channel, viewer=emu.workspace.bot_user_id)}

    async def scopes(request: web.Request) -> dict[str, Any]:
        b = await body(request)
        granted = list(emu.config.scopes)
        if "scopes" in b:
            granted = [str(s) for s in b["scopes"]]
        granted += [str(s) for s in b.get("add", []) if str(s) not in granted]
        removed = {str(s) for s in b.get("remove", [])}
        emu.config.scopes = tuple(s for s in granted if s not in removed)
        return {"scopes": list(emu.config.scopes)}

    app.router.add_post("/_emulator/membership", guard(membership))
    app.router.add_post("/_emulator/scopes", guard(scopes))
