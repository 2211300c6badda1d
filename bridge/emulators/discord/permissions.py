"""Permissions as Discord computes them: guild roles, @everyone, channel overwrites, threads.

Source: discord-api-docs ``developers/topics/permissions.mdx`` (https://discord.com/developers/docs/
topics/permissions), sections "Permission Hierarchy" and "Permission Overwrites": :func:`base` is
its ``compute_base_permissions`` and :func:`apply_overwrites` its ``compute_overwrites`` pseudo-code,
step by step (owner → ALL; @everyone's permissions OR every role's; ADMINISTRATOR → ALL; then the
@everyone overwrite's deny/allow, the member's roles' overwrites (denies and allows OR-ed together,
deny first), the member's own overwrite). "Implicit Permissions": without VIEW_CHANNEL nothing else
in the channel counts; without SEND_MESSAGES neither do MENTION_EVERYONE, SEND_TTS_MESSAGES,
ATTACH_FILES, EMBED_LINKS. "Inherited Permissions (Threads)": a thread has its parent's overwrites,
and sending in it needs SEND_MESSAGES_IN_THREADS instead of SEND_MESSAGES.

Refusals (topics/opcodes-and-status-codes.mdx, JSON error codes): 50001 "Missing Access" when the
bot cannot see the channel, 50013 "Missing Permissions" (HTTP 403 both) for anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import api_errors as errors
from .channel_types import PRIVATE_THREAD

if TYPE_CHECKING:
    from .state import Channel, World

ROLE, MEMBER = 0, 1
"""``overwrite.type`` (resources/channel.mdx, Overwrite Object): 0 role, 1 member."""

FLAGS: dict[str, int] = {
    "CREATE_INSTANT_INVITE": 1 << 0,
    "KICK_MEMBERS": 1 << 1,
    "BAN_MEMBERS": 1 << 2,
    "ADMINISTRATOR": 1 << 3,
    "MANAGE_CHANNELS": 1 << 4,
    "MANAGE_GUILD": 1 << 5,
    "ADD_REACTIONS": 1 << 6,
    "VIEW_AUDIT_LOG": 1 << 7,
    "PRIORITY_SPEAKER": 1 << 8,
    "STREAM": 1 << 9,
    "VIEW_CHANNEL": 1 << 10,
    "SEND_MESSAGES": 1 << 11,
    "SEND_TTS_MESSAGES": 1 << 12,
    "MANAGE_MESSAGES": 1 << 13,
    "EMBED_LINKS": 1 << 14,
    "ATTACH_FILES": 1 << 15,
    "READ_MESSAGE_HISTORY": 1 << 16,
    "MENTION_EVERYONE": 1 << 17,
    "USE_EXTERNAL_EMOJIS": 1 << 18,
    "MANAGE_ROLES": 1 << 28,
    "MANAGE_WEBHOOKS": 1 << 29,
    "USE_APPLICATION_COMMANDS": 1 << 31,
    "MANAGE_THREADS": 1 << 34,
    "CREATE_PUBLIC_THREADS": 1 << 35,
    "CREATE_PRIVATE_THREADS": 1 << 36,
    "SEND_MESSAGES_IN_THREADS": 1 << 38,
}
"""The permissions the emulated routes check (topics/permissions.mdx "Bitwise Permission Flags")."""
ALL = (1 << 53) - 1
ADMINISTRATOR = FLAGS["ADMINISTRATOR"]
VIEW_CHANNEL = FLAGS["VIEW_CHANNEL"]
SEND_MESSAGES = FLAGS["SEND_MESSAGES"]
SEND_MESSAGES_IN_THREADS = FLAGS["SEND_MESSAGES_IN_THREADS"]
READ_MESSAGE_HISTORY = FLAGS["READ_MESSAGE_HISTORY"]
MANAGE_MESSAGES = FLAGS["MANAGE_MESSAGES"]
MANAGE_WEBHOOKS = FLAGS["MANAGE_WEBHOOKS"]
ATTACH_FILES = FLAGS["ATTACH_FILES"]
MANAGE_THREADS = FLAGS["MANAGE_THREADS"]
CREATE_PUBLIC_THREADS = FLAGS["CREATE_PUBLIC_THREADS"]
CREATE_PRIVATE_THREADS = FLAGS["CREATE_PRIVATE_THREADS"]
NEED_SEND = FLAGS["MENTION_EVERYONE"] | FLAGS["SEND_TTS_MESSAGES"] | ATTACH_FILES | FLAGS["EMBED_LINKS"]
"""What denying SEND_MESSAGES implicitly denies ("Implicit Permissions")."""


@dataclass
class Overwrite:
    """A channel's permission overwrite for a role or a member (resources/channel.mdx)."""

    id: str
    type: int
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "allow": str(self.allow), "deny": str(self.deny)}


def parse(value: Any) -> int:
    """A bitfield from an int, a decimal string, or a list of names (``"MANAGE_WEBHOOKS"``)."""
    if isinstance(value, bool):
        raise ValueError(f"not a permission set: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        bits = 0
        for name in value:
            key = str(name).upper().replace(" ", "_")
            if key not in FLAGS:
                raise ValueError(f"unknown permission {name!r} (one of {', '.join(FLAGS)})")
            bits |= FLAGS[key]
        return bits
    raise ValueError(f"not a permission set: {value!r}")


def names(bits: int) -> list[str]:
    return [name for name, bit in FLAGS.items() if bits & bit]


def base(world: World, user_id: str) -> int:
    """``compute_base_permissions(member, guild)``: 0 for someone who is not a member."""
    member = world.members.get(user_id)
    if member is None:
        return 0
    if user_id == world.owner_id:
        return ALL
    permissions = world.everyone_role.permissions
    for role_id in member.roles:
        role = world.roles.get(role_id)
        if role is not None:
            permissions |= role.permissions
    if permissions & ADMINISTRATOR == ADMINISTRATOR:
        return ALL
    return permissions


def apply_overwrites(world: World, base_permissions: int, user_id: str, channel: Channel) -> int:
    """``compute_overwrites(base_permissions, member, channel)``."""
    if base_permissions & ADMINISTRATOR == ADMINISTRATOR:
        return ALL
    overwrites: dict[str, Overwrite] = channel.overwrites
    permissions = base_permissions
    everyone = overwrites.get(world.guild_id)
    if everyone is not None:
        permissions &= ~everyone.deny
        permissions |= everyone.allow
    allow = deny = 0
    member = world.members.get(user_id)
    for role_id in member.roles if member is not None else []:
        role = overwrites.get(role_id)
        if role is not None and role.type == ROLE:
            allow |= role.allow
            deny |= role.deny
    permissions &= ~deny
    permissions |= allow
    own = overwrites.get(user_id)
    if own is not None and own.type == MEMBER:
        permissions &= ~own.deny
        permissions |= own.allow
    return permissions


def in_channel(world: World, user_id: str, channel: Channel) -> int:
    """What ``user_id`` may do in ``channel`` (a thread: with its parent's overwrites), with the
    implicit denials applied. DMs are not guild channels: everything."""
    if channel.guild_id is None:
        return ALL
    where = world.channels.get(channel.parent_id or "") if channel.thread is not None else channel
    computed = apply_overwrites(world, base(world, user_id), user_id, where or channel)
    if computed == ALL:
        return ALL
    if not computed & VIEW_CHANNEL:
        return 0
    if channel.type == PRIVATE_THREAD and user_id not in channel.thread.members and not computed & MANAGE_THREADS:
        # resources/channel.mdx, channel types: a private thread "is only viewable by those invited
        # and those with the MANAGE_THREADS permission" (topics/threads.mdx: "Private threads are
        # only synced to you if you are a member or a moderator")
        return 0
    if not computed & SEND_MESSAGES:
        computed &= ~NEED_SEND
    return computed


def views(world: World, user_id: str, channel: Channel) -> bool:
    """Whether ``user_id`` can see ``channel`` (what the gateway syncs to the bot: topics/permissions.mdx
    "Channel Visibility"; a thread: topics/threads.mdx "The Gateway will only sync threads that the
    app has permission to view")."""
    return bool(in_channel(world, user_id, channel) & VIEW_CHANNEL)


def require(world: World, user_id: str, channel: Channel, needed: int) -> None:
    """Refuse as Discord does when ``user_id`` lacks any of ``needed`` in ``channel``."""
    granted = in_channel(world, user_id, channel)
    if granted & needed == needed:
        return
    if not granted & VIEW_CHANNEL:
        raise errors.APIError(403, 50001, "Missing Access")
    raise errors.missing_permissions()


def to_send(channel: Channel) -> int:
    """What posting a message in ``channel`` needs (a thread: SEND_MESSAGES_IN_THREADS)."""
    return VIEW_CHANNEL | (SEND_MESSAGES_IN_THREADS if channel.thread is not None else SEND_MESSAGES)


def overwrite(channel: Channel, target_id: str, kind: int, *, allow: int | None = None, deny: int | None = None,
              grant: int = 0, revoke: int = 0) -> Overwrite | None:  # fmt: skip
    """Set (``allow``/``deny``) or change (``grant`` moves bits to allow, ``revoke`` to deny) the
    overwrite of ``target_id`` on ``channel``; an overwrite left empty is removed (None)."""
    current: Overwrite = channel.overwrites.get(target_id) or Overwrite(target_id, kind)
    current.type = kind
    if allow is not None:
        current.allow = allow
    if deny is not None:
        current.deny = deny
    current.allow = (current.allow | grant) & ~revoke
    current.deny = (current.deny | revoke) & ~grant
    if not current.allow and not current.deny:
        channel.overwrites.pop(target_id, None)
        return None
    channel.overwrites[target_id] = current
    return current
