"""What the bot needs in a linked Discord channel, by name, and what it lacks.

``link`` refuses a channel that lacks a REQUIRED permission ("I need Manage Webhooks in #general"),
``doctor`` checks every linked channel, and the adapter re-checks when Discord says permissions
changed (CHANNEL_UPDATE, GUILD_ROLE_UPDATE, the bot's GUILD_MEMBER_UPDATE) or when a call is refused
with 403. REQUIRED: View Channel (else no message of the channel reaches the bot), Send Messages,
Read Message History (reply quotes, reconciling after a crash), Manage Webhooks (each person's
copy is posted through the channel's webhook). WANTED (a warning, mirroring still works): reactions,
files, deleting copies, threads.

The live adapter uses discord.py's ``permissions_for`` (its cache follows the gateway events);
``doctor`` has no gateway and computes the same from REST JSON with :func:`compute` —
https://discord.com/developers/docs/topics/permissions "Permission Overwrites" pseudo-code, and
"Implicit Permissions" (no View Channel: nothing else counts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import discord

from .invite import (
    ADD_REACTIONS,
    ADMINISTRATOR,
    ATTACH_FILES,
    CREATE_PUBLIC_THREADS,
    MANAGE_MESSAGES,
    MANAGE_THREADS,
    MANAGE_WEBHOOKS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
)

REQUIRED = {
    VIEW_CHANNEL: "View Channel",
    SEND_MESSAGES: "Send Messages",
    READ_MESSAGE_HISTORY: "Read Message History",
    MANAGE_WEBHOOKS: "Manage Webhooks",
}
"""Without any of these a linked channel does not mirror (names as Discord's settings show them)."""
WANTED = {
    ADD_REACTIONS: "Add Reactions",
    ATTACH_FILES: "Attach Files",
    MANAGE_MESSAGES: "Manage Messages",
    CREATE_PUBLIC_THREADS: "Create Public Threads",
    SEND_MESSAGES_IN_THREADS: "Send Messages in Threads",
    MANAGE_THREADS: "Manage Threads",
}
"""Reactions, files, removing copies when a webhook is gone, threads: these degrade without them."""
ALL = (1 << 53) - 1


def missing(granted: int, wanted: Mapping[int, str] = REQUIRED) -> list[str]:
    """The names in ``wanted`` that ``granted`` lacks (none for an administrator)."""
    if granted & ADMINISTRATOR:
        return []
    if not granted & VIEW_CHANNEL:  # "Implicit Permissions": nothing else counts (or is known) without it
        return [REQUIRED[VIEW_CHANNEL]] if VIEW_CHANNEL in wanted else []
    return [name for bit, name in wanted.items() if not granted & bit]


def granted_in(channel: object) -> int | None:
    """What the bot may do in a cached guild channel (None: not a guild channel, or not cached)."""
    guild = getattr(channel, "guild", None)
    if not isinstance(channel, discord.abc.GuildChannel) or guild is None or guild.me is None:
        return None
    return int(channel.permissions_for(guild.me).value)


def sentence(channel_name: str, names: Iterable[str]) -> str:
    """``I need Manage Webhooks and Send Messages in #general``."""
    items = list(names) or ["nothing more"]
    listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return f"I need {listed} in #{channel_name}"


def fix_hint() -> str:
    return (
        "grant them to the bot's role, or remove the channel's permission overwrite that denies them "
        "(Channel settings → Permissions)"
    )


def compute(
    *,
    guild_id: str,
    owner_id: str,
    user_id: str,
    member_roles: Iterable[str],
    roles: Mapping[str, int],
    overwrites: Iterable[Mapping[str, Any]],
) -> int:
    """``compute_base_permissions`` then ``compute_overwrites`` of the docs, on REST JSON (role
    permissions by role id, the channel's ``permission_overwrites``)."""
    if user_id == owner_id:
        return ALL
    mine = list(member_roles)
    permissions = roles.get(guild_id, 0)
    for role_id in mine:
        permissions |= roles.get(role_id, 0)
    if permissions & ADMINISTRATOR:
        return ALL
    by_id = {str(o.get("id")): o for o in overwrites}

    def bits(overwrite: Mapping[str, Any], field: str) -> int:
        return int(overwrite.get(field) or 0)

    everyone = by_id.get(guild_id)
    if everyone is not None:
        permissions &= ~bits(everyone, "deny")
        permissions |= bits(everyone, "allow")
    allow = deny = 0
    for role_id in mine:
        role = by_id.get(role_id)
        if role is not None and int(role.get("type", 0)) == 0:
            allow |= bits(role, "allow")
            deny |= bits(role, "deny")
    permissions &= ~deny
    permissions |= allow
    own = by_id.get(user_id)
    if own is not None and int(own.get("type", 1)) == 1:
        permissions &= ~bits(own, "deny")
        permissions |= bits(own, "allow")
    return permissions
