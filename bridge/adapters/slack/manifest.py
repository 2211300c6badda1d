"""The Slack app manifest for chatbridge (paste it at https://api.slack.com/apps → Create New App →
From an app manifest). ``chatbridge slack-manifest`` prints it.

Bot scopes, and why each is needed:

- ``commands``: the ``/chat`` slash command.
- ``chat:write``: post mirrored messages, edits, deletes, and notification DMs.
- ``chat:write.customize``: post a mirrored message under its author's name and avatar.
- ``channels:history`` / ``groups:history``: receive ``message`` events from public / private channels
  the bot is in (``message.channels`` / ``message.groups``).
- ``channels:join``: ``conversations.join`` when a linked public channel answers ``not_in_channel``
  (someone removed the app): the bridge joins again by itself instead of holding the room.
- ``channels:read`` / ``groups:read``: ``conversations.info`` on those channels.
- ``users:read``: ``users.info`` for names, avatars and the admin flag.
- ``im:write``: ``conversations.open`` for notification DMs.
- ``files:read``: download the files people share (``url_private`` needs the bot token and this
  scope) to mirror them to Discord.
- ``files:write``: upload files mirrored from Discord (``files.getUploadURLExternal`` /
  ``files.completeUploadExternal``) and delete them with their message.
- ``reactions:read``: ``reaction_added`` / ``reaction_removed`` events (mirrored to the other side).
- ``channels:read`` / ``groups:read`` also bring the app's own membership events:
  ``member_joined_channel`` (the app is back in a linked channel: what was said there meanwhile is
  read at once) and ``channel_left`` / ``group_left`` (someone removed it: the admins are told).
- ``reactions:write``: ``reactions.add`` / ``reactions.remove``: the bot mirrors other people's reactions.
- ``emoji:read``: ``emoji.list``, to know which custom emoji the workspace has (Discord custom emoji
  of the same name are shown and mirrored as them).

Threads need nothing beyond these: thread replies and ``thread_broadcast`` arrive as ``message``
events (``message.channels`` / ``message.groups``) carrying ``thread_ts``, a deleted parent's
tombstone as ``message_changed``; ``chat:write`` posts into a thread (``thread_ts``) and also to the
channel (``reply_broadcast``); ``channels:history`` / ``groups:history`` read a thread
(``conversations.replies``). ``doctor`` checks every scope above.

Socket Mode also needs an app-level token with ``connections:write`` (Basic Information → App-Level
Tokens); manifests cannot create it.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml

BOT_SCOPES = (
    "channels:history",
    "channels:join",
    "channels:read",
    "chat:write",
    "chat:write.customize",
    "commands",
    "emoji:read",
    "files:read",
    "files:write",
    "groups:history",
    "groups:read",
    "im:write",
    "reactions:read",
    "reactions:write",
    "users:read",
)
BOT_EVENTS = (
    "message.channels",
    "message.groups",
    "reaction_added",
    "reaction_removed",
    "member_joined_channel",
    "channel_left",
    "group_left",
)


def slack_manifest(
    *,
    app_name: str = "chatbridge",
    command: str = "/chat",
    mode: Literal["socket", "http"] = "socket",
    request_url: str | None = None,
) -> dict[str, Any]:
    """The manifest as a dict. HTTP mode needs the public ``request_url`` (events and commands)."""
    if mode == "http" and not request_url:
        raise ValueError("HTTP mode needs the public request URL, e.g. https://bridge.example.com/slack/events")
    slash: dict[str, Any] = {
        "command": command,
        "description": "chatbridge: channels, history, search, notifications (try /chat help)",
        "usage_hint": "help | search <words> | history [channel] [n] | unread | notify add <channel>",
        "should_escape": True,
    }
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    if mode == "http":
        slash["url"] = request_url
        events["request_url"] = request_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": app_name,
            "description": "One chat across Discord and Slack, backed by Redis.",
            "background_color": "#2c2d30",
        },
        "features": {
            "bot_user": {"display_name": app_name, "always_online": True},
            "slash_commands": [slash],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": {"is_enabled": False},
            "org_deploy_enabled": False,
            "socket_mode_enabled": mode == "socket",
            "token_rotation_enabled": False,
        },
    }


def render_manifest(manifest: dict[str, Any], *, fmt: Literal["yaml", "json"] = "yaml") -> str:
    if fmt == "json":
        return json.dumps(manifest, indent=2) + "\n"
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)
