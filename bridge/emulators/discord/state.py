"""The emulator's world: one guild, its channels, roles, members, DMs, webhooks, messages, commands.

Everything is plain data so tests can inspect it. Ids are real-looking snowflakes (time-based,
strictly increasing), so discord.py's ``created_at`` and ordering behave as on Discord.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import permissions

DISCORD_EPOCH_MS = 1420070400000
MAX_CONTENT = 2000
_FLAG = permissions.FLAGS
DEFAULT_PERMISSIONS = sum(
    _FLAG[name]
    for name in (
        "ADD_REACTIONS",
        "VIEW_CHANNEL",
        "SEND_MESSAGES",
        "EMBED_LINKS",
        "ATTACH_FILES",
        "READ_MESSAGE_HISTORY",
        "MENTION_EVERYONE",
        "USE_EXTERNAL_EMOJIS",
        "CREATE_PUBLIC_THREADS",
        "CREATE_PRIVATE_THREADS",
        "SEND_MESSAGES_IN_THREADS",
    )
)
"""What @everyone has before overwrites: every member may talk, react, attach and start and use
threads (topics/permissions.mdx)."""
BOT_PERMISSIONS = (
    DEFAULT_PERMISSIONS
    | _FLAG["MANAGE_CHANNELS"]
    | _FLAG["MANAGE_MESSAGES"]
    | _FLAG["MANAGE_WEBHOOKS"]
    | _FLAG["MANAGE_THREADS"]
)
"""+ manage channels, messages, webhooks and threads: what the bridge's invite URL asks for (its
managed role)."""

_USER_MENTION = re.compile(r"(?<!\\)<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"(?<!\\)<@&(\d+)>")
_MASS_MENTION = re.compile(r"(?<!\\)@(everyone|here)")
_CODE = re.compile(r"```.*?```|`[^`]*`", re.DOTALL)


class SnowflakeGen:
    """Time-based snowflakes that never repeat and never go backwards."""

    def __init__(self) -> None:
        self._last = 0
        self._counter = itertools.count()

    def next(self) -> str:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | (next(self._counter) & 0xFFF)
        value = max(value, self._last + 1)
        self._last = value
        return str(value)


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class UserSpec:
    """A person in the emulated guild (configurable at construction)."""

    username: str
    admin: bool = False
    global_name: str | None = None


@dataclass
class EmulatorConfig:
    """What the emulator starts with. Defaults give a guild with three channels and three people."""

    guild_name: str = "Emulated Guild"
    channels: tuple[str, ...] = ("general", "random", "cricket")
    users: tuple[UserSpec, ...] = (
        UserSpec("alice", admin=True, global_name="Alice A."),
        UserSpec("bob", global_name="Bob B."),
        UserSpec("carol"),
    )
    bot_name: str = "chatbridge"
    token: str = "emulator-bot-token"
    """The bot token the emulator accepts (``Authorization: Bot <token>``)."""
    heartbeat_interval_ms: int = 41250
    interaction_initial_s: float = 3.0
    """The initial response deadline of an interaction (``interaction_deadlines``)."""
    interaction_token_s: float = 15 * 60.0
    """How long an interaction token works for followups and edits."""
    webhook_names_strict: bool = False
    """Refuse "dis\u200bcord" too (invisible characters ignored by the name check): undocumented
    either way (see ``webhook_names``); the bridge must work with both."""
    message_content_enabled: bool = True
    """Whether the app may use the privileged MESSAGE_CONTENT intent (else IDENTIFY → close 4014)."""
    recommended_shards: int = 1
    """What ``GET /gateway/bot`` recommends (``AutoShardedClient`` without a shard count uses it)."""
    guild_shard: int | None = None
    """Pick the guild id so that it lives on this shard (of ``recommended_shards``); None: any."""
    premium_tier: int = 0
    """The guild's boost tier (0-3): tier 2 raises the upload limit to 50 MiB, tier 3 to 100 MiB."""
    emojis: tuple[str, ...] = ("blobwave", "a:blobdance")
    """The guild's custom emoji (``a:`` = animated); see ``reaction_routes``."""
    reaction_interval_s: float = 0.25
    """The bot's reaction rate limit per channel (topics/rate-limits.mdx; 0 turns it off)."""


@dataclass
class User:
    id: str
    username: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None


@dataclass
class Role:
    id: str
    name: str
    permissions: int
    position: int = 0


@dataclass
class Member:
    user_id: str
    roles: list[str]
    joined_at: str = field(default_factory=iso_now)
    nick: str | None = None


@dataclass
class Channel:
    id: str
    name: str | None
    type: int  # 0 guild text, 1 DM, 5 announcement, 10/11/12 threads, 15 forum (resources/channel.mdx)
    guild_id: str | None
    position: int = 0
    recipient_ids: list[str] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Message payloads as stored (insertion order = post order)."""
    parent_id: str | None = None
    """A thread's parent channel (text, announcement or forum)."""
    thread: Any = None
    """A thread's ``threads.ThreadMeta`` (None for every other channel)."""
    overwrites: dict[str, permissions.Overwrite] = field(default_factory=dict)
    """``permission_overwrites`` by role or member id (``permissions.py``; a thread uses its parent's)."""


@dataclass
class Webhook:
    id: str
    token: str
    channel_id: str
    guild_id: str
    name: str
    creator_id: str
    application_id: str | None = None


@dataclass
class Ping:
    """Who a message actually notified, after applying ``allowed_mentions`` the way Discord does."""

    users: list[str]
    roles: list[str]
    everyone: bool
    allowed_mentions: dict[str, Any] | None


@dataclass
class Interaction:
    id: str
    token: str
    payload: dict[str, Any]
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)
    original: dict[str, Any] | None = None
    ephemeral: bool = False

    @property
    def acknowledged(self) -> bool:
        return bool(self.callbacks)


class World:
    """All mutable emulator state."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.ids = SnowflakeGen()
        self.bot = User(self.ids.next(), config.bot_name, bot=True)
        self.application_id = self.bot.id
        self.guild_id = self.ids.next()
        while config.guild_shard is not None and (int(self.guild_id) >> 22) % config.recommended_shards != (
            config.guild_shard
        ):
            self.guild_id = self.ids.next()
        self.guild_name = config.guild_name
        self.users: dict[str, User] = {self.bot.id: self.bot}
        self.members: dict[str, Member] = {}
        self.channels: dict[str, Channel] = {}
        self.webhooks: dict[str, Webhook] = {}
        self.interactions: dict[str, Interaction] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[str, list[dict[str, Any]]] = {}
        self.pings: dict[str, Ping] = {}
        self.avatar_urls: dict[str, str | None] = {}
        self.emojis: list[dict[str, Any]] = []
        """The guild's custom emoji as GUILD_CREATE lists them (filled by ``reaction_routes.Reactions``)."""
        self.everyone_role = Role(self.guild_id, "@everyone", DEFAULT_PERMISSIONS)
        self.admin_role = Role(self.ids.next(), "Moderators", DEFAULT_PERMISSIONS | _FLAG["MANAGE_CHANNELS"], 1)
        self.bot_role = Role(self.ids.next(), config.bot_name, BOT_PERMISSIONS, 2)
        self.roles: dict[str, Role] = {r.id: r for r in (self.everyone_role, self.admin_role, self.bot_role)}
        self.owner_id = self.bot.id
        self.members[self.bot.id] = Member(self.bot.id, [self.bot_role.id])
        for spec in config.users:
            user = self.add_user(spec)
            if spec.admin and self.owner_id == self.bot.id:
                # a bot never owns the guild it is invited to (an owner has every permission): the
                # first admin does, so the bot's permissions come from its role and the overwrites
                self.owner_id = user.id
        for name in config.channels:
            self.add_channel(name)

    # -- setup ---------------------------------------------------------------------------------
    def add_user(self, spec: UserSpec) -> User:
        user = User(self.ids.next(), spec.username, spec.global_name)
        self.users[user.id] = user
        self.members[user.id] = Member(user.id, [self.admin_role.id] if spec.admin else [])
        return user

    def add_channel(self, name: str) -> Channel:
        channel = Channel(self.ids.next(), name, 0, self.guild_id, position=len(self.text_channels()))
        self.channels[channel.id] = channel
        return channel

    def text_channels(self) -> list[Channel]:
        return [c for c in self.channels.values() if c.type == 0]

    def guild_channels(self) -> list[Channel]:
        """Channels GUILD_CREATE lists under ``channels`` (threads come under ``threads``)."""
        return [c for c in self.channels.values() if c.guild_id is not None and c.thread is None]

    # -- lookups -------------------------------------------------------------------------------
    def user_by_name(self, username: str) -> User:
        for user in self.users.values():
            if user.username == username:
                return user
        raise KeyError(f"no user named {username!r}")

    def channel_by_name(self, name: str) -> Channel:
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        raise KeyError(f"no channel named {name!r}")

    def find_message(self, message_id: str) -> tuple[Channel, dict[str, Any]] | None:
        for channel in self.channels.values():
            if message_id in channel.messages:
                return channel, channel.messages[message_id]
        return None

    def permissions_of(self, user_id: str) -> int:
        """Guild-level permissions (``permissions.base``); in a channel: ``permissions.in_channel``."""
        return permissions.base(self, user_id)

    def dm_channel(self, user_id: str) -> Channel:
        for channel in self.channels.values():
            if channel.type == 1 and channel.recipient_ids == [user_id]:
                return channel
        channel = Channel(self.ids.next(), None, 1, None, recipient_ids=[user_id])
        self.channels[channel.id] = channel
        return channel

    def new_webhook(self, channel: Channel, name: str, creator_id: str) -> Webhook:
        assert channel.guild_id is not None
        hook = Webhook(self.ids.next(), secrets.token_urlsafe(48), channel.id, channel.guild_id, name, creator_id)
        self.webhooks[hook.id] = hook
        return hook

    def compute_ping(self, content: str, allowed: dict[str, Any] | None) -> Ping:
        """Apply Discord's ``allowed_mentions`` rules to the mentions written in ``content``."""
        text = _CODE.sub("", content)  # nothing in code pings; neither does a backslash-escaped mention
        written_users = [u for u in dict.fromkeys(_USER_MENTION.findall(text)) if u in self.users]
        written_roles = [r for r in dict.fromkeys(_ROLE_MENTION.findall(text)) if r in self.roles]
        mass = bool(_MASS_MENTION.search(text))
        if allowed is None:
            return Ping(written_users, written_roles, mass, None)
        parse = set(allowed.get("parse") or [])
        user_ok = {str(u) for u in allowed.get("users") or []}
        role_ok = {str(r) for r in allowed.get("roles") or []}
        users = [u for u in written_users if "users" in parse or u in user_ok]
        roles = [r for r in written_roles if "roles" in parse or r in role_ok]
        return Ping(users, roles, mass and "everyone" in parse, allowed)
