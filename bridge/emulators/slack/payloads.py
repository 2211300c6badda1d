"""Builders for the JSON shapes Slack sends and answers, and Slack's request signature."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from bridge.emulators.slack.state import SlackChannel, SlackMessage, SlackUser, Workspace


def sign(secret: str, body: bytes, timestamp: str | None = None) -> dict[str, str]:
    """The ``X-Slack-Signature`` / ``X-Slack-Request-Timestamp`` headers for ``body``."""
    ts = timestamp or str(int(time.time()))
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def user_object(ws: Workspace, user: SlackUser) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "real_name": user.real_name,
        "display_name": user.display_name,
        "real_name_normalized": user.real_name,
        "display_name_normalized": user.display_name,
        "image_24": user.image_72,
        "image_48": user.image_72,
        "image_72": user.image_72,
        "team": ws.team_id,
    }
    if user.bot_id:
        profile["bot_id"] = user.bot_id
    return {
        "id": user.id,
        "team_id": ws.team_id,
        "name": user.name,
        "deleted": user.deleted,
        "real_name": user.real_name,
        "tz": "Europe/London",
        "is_admin": user.is_admin,
        "is_owner": user.is_owner,
        "is_primary_owner": user.is_owner,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "profile": profile,
    }


def channel_object(ws: Workspace, channel: SlackChannel, *, viewer: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": channel.id,
        "created": channel.created,
        "is_archived": channel.archived,
        "is_im": channel.is_im,
        "is_mpim": False,
        "context_team_id": ws.team_id,
    }
    if channel.is_im:
        other = next((m for m in channel.members if m != viewer), viewer)
        out.update({"user": other, "is_open": True})
        return out
    out.update(
        {
            "name": channel.name,
            "name_normalized": channel.name,
            "is_channel": not channel.is_private,
            "is_group": channel.is_private,
            "is_private": channel.is_private,
            "is_general": channel.name == "general",
            "is_shared": False,
            "is_ext_shared": False,
            "is_member": viewer in channel.members if viewer else False,
            "topic": {"value": channel.topic, "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "num_members": len(channel.members),
        }
    )
    return out


def channel_type(channel: SlackChannel) -> str:
    if channel.is_im:
        return "im"
    return "group" if channel.is_private else "channel"


def event_callback(ws: Workspace, event: dict[str, Any], *, event_id: str) -> dict[str, Any]:
    """The Events API envelope (HTTP body, or Socket Mode ``payload``)."""
    return {
        "token": "emulator-verification-token",
        "team_id": ws.team_id,
        "context_team_id": ws.team_id,
        "context_enterprise_id": None,
        "api_app_id": ws.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ws.team_id,
                "user_id": ws.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-emulator-{event_id}",
    }


def message_event(msg: SlackMessage, channel: SlackChannel, *, team_id: str) -> dict[str, Any]:
    event = msg.to_api()
    event.update({"channel": msg.channel, "event_ts": msg.ts, "channel_type": channel_type(channel), "team": team_id})
    return event


def message_changed_event(
    msg: SlackMessage, previous: dict[str, Any], channel: SlackChannel, *, event_ts: str
) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": msg.channel,
        "ts": event_ts,
        "event_ts": event_ts,
        "channel_type": channel_type(channel),
        "message": msg.to_api(),
        "previous_message": previous,
    }


def message_deleted_event(
    msg: SlackMessage, previous: dict[str, Any], channel: SlackChannel, *, event_ts: str
) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": msg.channel,
        "ts": event_ts,
        "event_ts": event_ts,
        "deleted_ts": msg.ts,
        "channel_type": channel_type(channel),
        "previous_message": previous,
    }


def slash_command_form(
    ws: Workspace,
    *,
    user: SlackUser,
    channel: SlackChannel,
    command: str,
    text: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    """The form fields Slack posts for a slash command (the Socket Mode payload is the same dict)."""
    return {
        "token": "emulator-verification-token",
        "team_id": ws.team_id,
        "team_domain": ws.team_domain,
        "channel_id": channel.id,
        "channel_name": "directmessage" if channel.is_im else channel.name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": ws.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def member_joined_channel_event(
    channel: SlackChannel, *, user: str, team_id: str, event_ts: str, inviter: str | None
) -> dict[str, Any]:
    """https://api.slack.com/events/member_joined_channel: ``user``, ``channel``, ``channel_type`` (a
    single letter: ``C`` public, ``G`` private), ``team``, ``inviter`` only when someone invited
    them (absent for a join of one's own, e.g. the app's ``conversations.join``), ``event_ts``
    (``@slack/types`` MemberJoinedChannelEvent)."""
    event: dict[str, Any] = {
        "type": "member_joined_channel",
        "user": user,
        "channel": channel.id,
        "channel_type": "G" if channel.is_private else "C",
        "team": team_id,
        "event_ts": event_ts,
    }
    if inviter:
        event["inviter"] = inviter
    return event


def channel_left_event(channel: SlackChannel, *, actor: str | None, event_ts: str) -> dict[str, Any]:
    """https://api.slack.com/events/channel_left ("You left a channel", sent to the app that left or
    was removed; ``group_left`` for a private channel, https://api.slack.com/events/group_left):
    ``channel``, ``actor_id`` (who removed it), ``event_ts`` — as in a captured payload of a bot's
    ``channel_left`` (haskell slack-web tests/golden/SlackWebhookEvent/channel_left.json) and
    ``@slack/types`` ChannelLeftEvent."""
    event: dict[str, Any] = {
        "type": "group_left" if channel.is_private else "channel_left",
        "channel": channel.id,
        "event_ts": event_ts,
    }
    if actor:
        event["actor_id"] = actor
    return event
