"""Reactions and custom emoji: ``reactions.add`` / ``reactions.remove`` / ``reactions.get``,
``emoji.list``, and the ``reaction_added`` / ``reaction_removed`` events.

Sources (Slack docs, api.slack.com/methods and /events; python-slack-sdk's method signatures):

* ``reactions.add`` (``channel``, ``timestamp``, ``name``; scope ``reactions:write``): errors
  ``already_reacted``, ``invalid_name``, ``message_not_found``, ``no_item_specified``,
  ``channel_not_found``, ``too_many_emoji`` (23 distinct per message), ``too_many_reactions``.
  ``reactions.remove``: ``no_reaction`` when the caller had not reacted with that name.
* A message's ``reactions``: ``[{"name", "users", "count"}]`` in ``conversations.history`` and
  ``reactions.get`` (``{"type": "message", "channel", "message"}``).
* ``reaction_added`` / ``reaction_removed`` (scope ``reactions:read``): ``user``, ``reaction`` (the
  name, skin tone as ``thumbsup::skin-tone-2``), ``item_user``, ``item`` ``{type: message,
  channel, ts}``, ``event_ts``.
* ``emoji.list`` (scope ``emoji:read``): ``{"emoji": {name: image URL or "alias:other"}}`` — only
  the workspace's custom emoji.
* Rate limits: ``reactions.add`` / ``remove`` are Tier 3 (50+ per minute); set
  ``EmulatorConfig.rate_limits`` to enforce them.

Names: a standard emoji name is one the ``emoji`` package knows (aliases, CLDR names with ``-``
for ``_``), a country flag ``flag-xx``, or one of Slack's own names below; anything else must be
one of the workspace's custom emoji.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import emoji as emoji_lib
from aiohttp import web

from bridge.emulators.slack.message_ops import EmulatorError
from bridge.emulators.slack.state import SlackMessage
from bridge.emulators.slack.webapi import METHODS, ApiError, Args, _channel

if TYPE_CHECKING:
    from bridge.emulators.slack.server import SlackEmulator

SLACK_ONLY_NAMES = frozenset({"face_palm", "the_horns", "spock-hand", "ladybug"})
"""Slack names (iamcal/emoji-data ``short_name``) the ``emoji`` package has under other names."""
MAX_DISTINCT = 23
_NAME_RE = re.compile(r"([a-z0-9_+'\-]+)(?:::skin-tone-[2-6](?:-[2-6])?)?")


def is_standard(base: str) -> bool:
    if base in SLACK_ONLY_NAMES or re.fullmatch(r"flag-[a-z]{2}", base):
        return True
    for code, language in ((f":{base}:", "alias"), (f":{base.replace('-', '_')}:", "en")):
        if emoji_lib.emojize(code, language=language) != code:
            return True
    return False


def valid_name(emu: SlackEmulator, name: str) -> bool:
    m = _NAME_RE.fullmatch(name)
    if m is None:
        return False
    return is_standard(m.group(1)) or m.group(1) in emu.workspace.custom_emoji


def _message(emu: SlackEmulator, args: Args) -> SlackMessage:
    if not args.get("timestamp"):
        raise ApiError("no_item_specified")
    channel = _channel(emu, args)
    msg = emu.find_message(channel.id, str(args["timestamp"]))
    if msg is None or msg.deleted:
        raise ApiError("message_not_found")
    return msg


def _entry(msg: SlackMessage, name: str) -> dict[str, Any] | None:
    return next((r for r in msg.reactions if r["name"] == name), None)


def react(emu: SlackEmulator, msg: SlackMessage, user_id: str, name: str, *, remove: bool) -> bool:
    """Add (or remove) ``user_id``'s reaction ``name``; False when there was nothing to change.
    Sends ``reaction_added`` / ``reaction_removed`` on a change."""
    entry = _entry(msg, name)
    if remove:
        if entry is None or user_id not in entry["users"]:
            return False
        entry["users"].remove(user_id)
        entry["count"] = len(entry["users"])
        if not entry["users"]:
            msg.reactions.remove(entry)
    else:
        if entry is not None and user_id in entry["users"]:
            return False
        if entry is None:
            if len(msg.reactions) >= MAX_DISTINCT:
                raise ApiError("too_many_emoji")
            entry = {"name": name, "users": [], "count": 0}
            msg.reactions.append(entry)
        entry["users"].append(user_id)
        entry["count"] = len(entry["users"])
    event = {
        "type": "reaction_removed" if remove else "reaction_added",
        "user": user_id,
        "reaction": name,
        "item": {"type": "message", "channel": msg.channel, "ts": msg.ts},
        "event_ts": emu.clock.next(),
    }
    author = msg.user or (emu.workspace.bot_user_id if msg.bot_id else None)
    if author:
        event["item_user"] = author
    emu.emit(event, channel=emu.workspace.channels.get(msg.channel))
    emu.notify()
    return True


def _bot_reacts(emu: SlackEmulator, args: Args, *, remove: bool) -> dict[str, Any]:
    msg = _message(emu, args)
    name = str(args.get("name") or "").strip(":")
    if not valid_name(emu, name):
        raise ApiError("invalid_name")
    if not react(emu, msg, emu.workspace.bot_user_id, name, remove=remove):
        raise ApiError("no_reaction" if remove else "already_reacted")
    return {}


def reactions_add(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    return _bot_reacts(emu, args, remove=False)


def reactions_remove(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    return _bot_reacts(emu, args, remove=True)


def reactions_get(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    msg = _message(emu, args)
    return {"type": "message", "channel": msg.channel, "message": msg.to_api()}


def emoji_list(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    return {"emoji": dict(emu.workspace.custom_emoji), "cache_ts": "1700000000.000000"}


METHODS.update(
    {
        "reactions.add": reactions_add,
        "reactions.remove": reactions_remove,
        "reactions.get": reactions_get,
        "emoji.list": emoji_list,
    }
)


def user_reacts(emu: SlackEmulator, *, user: str, channel: str, ts: str, name: str, remove: bool = False) -> bool:
    """A person adds (or removes) a reaction in Slack's client (no error when nothing changes)."""
    person = emu.workspace.user(user)
    chan = emu.workspace.channel(channel)
    if person is None or chan is None:
        raise EmulatorError(f"no user {user!r} or channel {channel!r}")
    msg = emu.find_message(chan.id, ts)
    if msg is None or msg.deleted:
        raise EmulatorError(f"no message {ts} in {chan.name}")
    name = name.strip(":")
    if not valid_name(emu, name):
        raise EmulatorError(f"no emoji named {name!r}")
    return react(emu, msg, person.id, name, remove=remove)


def named(emu: SlackEmulator, msg: SlackMessage) -> list[dict[str, Any]]:
    """``[{emoji, count, users}]`` of a message, users by name (the sandbox's view)."""
    out = []
    for entry in msg.reactions:
        users = [emu.workspace.users[u].name if u in emu.workspace.users else u for u in entry["users"]]
        out.append({"emoji": entry["name"], "count": entry["count"], "users": users})
    return out


def add_control_routes(
    app: web.Application,
    emu: SlackEmulator,
    *,
    guard: Callable[[Callable[[web.Request], Awaitable[Any]]], Any],
    body: Callable[[web.Request], Awaitable[dict[str, Any]]],
) -> None:
    """``POST /_emulator/reactions`` ``{user, channel, ts, name, remove?}``: a person reacts →
    ``{changed, reactions}``; ``GET /_emulator/reactions?channel=`` → ``{reactions: {ts: [...]}}``.
    ``guard`` / ``body`` are the control module's error wrapper and JSON body reader."""

    async def post(request: web.Request) -> dict[str, Any]:
        b = await body(request)
        channel, ts = str(b["channel"]), str(b["ts"])
        changed = user_reacts(
            emu, user=str(b["user"]), channel=channel, ts=ts, name=str(b["name"]), remove=bool(b.get("remove"))
        )
        msg = emu.find_message(emu._channel(channel).id, ts)
        return {"changed": changed, "reactions": named(emu, msg) if msg else []}

    async def listing(request: web.Request) -> dict[str, Any]:
        msgs = emu.history(request.query["channel"])
        return {"reactions": {m.ts: named(emu, m) for m in msgs if m.reactions}}

    app.router.add_post("/_emulator/reactions", guard(post))
    app.router.add_get("/_emulator/reactions", guard(listing))
