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

Events (bot events the app receives when its own membership changes; the emulator sends them only
while the token has the scope the event needs — channels:read for a public channel, groups:read for
a private one — as "Which events your bot or app will receive depends on the scopes granted" says):

- the app joins (``conversations.join``) or is invited / put back (the control route below):
  ``member_joined_channel`` (https://api.slack.com/events/member_joined_channel: "sent when users
  join any channel type"; a bot receives it for a channel it is a member of, which it is once it
  joined), ``inviter`` only when someone else added it;
- the app is removed: ``channel_left`` (https://api.slack.com/events/channel_left, "You left a
  channel") or, for a private channel, ``group_left`` (https://api.slack.com/events/group_left),
  with ``actor_id`` = who removed it; delivered although the app is no longer a member.

Nothing is sent when nothing changed (a join of a channel the app is in already, a removal from one
it is not in).

Control routes (JSON in and out):

- ``POST /_emulator/membership`` ``{channel, member: bool, private?: bool, by?: user}`` — put the
  app in (or take it out of) a channel, invited / removed by ``by`` (a user id or name; default the
  workspace's primary owner), and optionally flip the channel private / public.
- ``POST /_emulator/scopes`` ``{scopes: [...]}`` or ``{remove: [...]}`` / ``{add: [...]}`` — the
  bot token's scopes from now on (a reinstall with other scopes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bridge.emulators.slack import payloads, scopes
from bridge.emulators.slack.payloads import channel_object
from bridge.emulators.slack.state import SlackChannel
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
    app_joins(emu, channel, inviter=None)
    out["channel"] = channel_object(ws, channel, viewer=ws.bot_user_id)
    return out


METHODS["conversations.join"] = conversations_join


def _may_see(emu: SlackEmulator, channel: SlackChannel) -> bool:
    """The token has the scope the membership events of this channel's type need."""
    return scopes.needed("conversations.info", "private" if channel.is_private else "public") in emu.config.scopes


def app_joins(emu: SlackEmulator, channel: SlackChannel, *, inviter: str | None) -> bool:
    """The app's bot user becomes a member (by itself: ``inviter`` None); True if it was not one."""
    ws = emu.workspace
    if ws.bot_user_id in channel.members:
        return False
    channel.members.add(ws.bot_user_id)
    if _may_see(emu, channel):
        event = payloads.member_joined_channel_event(
            channel, user=ws.bot_user_id, team_id=ws.team_id, event_ts=emu.clock.next(), inviter=inviter
        )
        emu.emit(event, channel=channel)
    emu.notify()
    return True


def app_removed(emu: SlackEmulator, channel: SlackChannel, *, actor: str | None) -> bool:
    """Someone removes the app's bot user from ``channel``; True if it was a member."""
    ws = emu.workspace
    if ws.bot_user_id not in channel.members:
        return False
    channel.members.discard(ws.bot_user_id)
    if _may_see(emu, channel):  # sent to the app itself: no membership check (``channel`` not given)
        emu.emit(payloads.channel_left_event(channel, actor=actor, event_ts=emu.clock.next()))
    emu.notify()
    return True


def _by(emu: SlackEmulator, who: Any) -> str:
    if who:
        return emu._user(str(who)).id
    return next(u.id for u in emu.workspace.users.values() if u.is_owner)


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
                app_joins(emu, channel, inviter=_by(emu, b.get("by")))
            else:
                app_removed(emu, channel, actor=_by(emu, b.get("by")))
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
