"""Contracts between the core and the platform adapters.

Adapters translate platform payloads into these dataclasses and call the core; the mirroring
worker calls adapters only through :class:`Destination`. No type here mentions a platform SDK.

Text in the core is *core markdown*: Discord-flavoured markdown (``**bold**``, ``*italic*``,
``~~strike~~``, `` `code` ``, fenced blocks, ``> quote``, ``[text](url)``), mentions of people as
``@username`` (core usernames) and channels as ``#channel`` (core channel names). Adapters convert
platform syntax to and from it (``bridge.formatting``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Platform = Literal["discord", "slack", "cli"]
PLATFORMS: tuple[Platform, ...] = ("discord", "slack", "cli")
JSON = Any


def as_platform(value: str) -> Platform:
    """Check a platform name read from Redis or the config."""
    if value in PLATFORMS:
        return value
    raise ValueError(f"unknown platform {value!r}")


@dataclass(frozen=True)
class ChannelRef:
    """A channel on a platform. ``workspace`` is the Discord guild id or the Slack team id."""

    platform: Platform
    workspace: str
    channel_id: str

    def key(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.channel_id}"

    @classmethod
    def parse(cls, text: str) -> ChannelRef:
        platform, workspace, channel_id = text.split(":", 2)
        return cls(as_platform(platform), workspace, channel_id)


LinkCheck = Callable[[ChannelRef], Awaitable[str | None]]
"""What a platform channel lacks before the bridge can mirror it (e.g. a permission), or None."""


@dataclass(frozen=True)
class PlatformUser:
    """A person as a platform sees them."""

    platform: Platform
    workspace: str
    user_id: str
    display_name: str
    avatar_url: str | None = None


@dataclass(frozen=True)
class Invocation:
    """Who runs a command, and where. Built by each adapter from its slash-command payload."""

    platform: Platform
    user: PlatformUser | None = None
    username: str | None = None
    """Core username when the caller already knows it (CLI ``--as``); else resolved from ``user``."""
    is_admin: bool = False
    channel: ChannelRef | None = None
    channel_name: str | None = None
    thread_of: ChannelRef | None = None
    """When the command was typed in a thread: the channel that thread belongs to (a thread is
    mirrored with its channel; it is not linked on its own)."""


@dataclass(frozen=True)
class Reply:
    """What a command answers. ``text`` is core markdown for people, ``data`` is JSON for tools."""

    text: str
    data: JSON = None
    ephemeral: bool = True
    ok: bool = True
    error_code: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file on a message, as the core records it: what it is and where the original lives, never
    the bytes (Redis holds text). ``url`` is where an adapter downloads it (Discord's signed CDN URL,
    Slack's ``url_private``); ``permalink`` is where a person can find the original (a Discord jump
    link, a Slack file permalink); ``origin`` is the platform whose credentials ``url`` needs."""

    name: str
    size: int
    content_type: str
    url: str
    origin: Platform
    permalink: str = ""

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size": self.size,
            "content_type": self.content_type,
            "url": self.url,
            "origin": self.origin,
            "permalink": self.permalink,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Attachment:
        return cls(
            name=str(data.get("name") or "file"),
            size=int(data.get("size") or 0),
            content_type=str(data.get("content_type") or "application/octet-stream"),
            url=str(data.get("url") or ""),
            origin=as_platform(str(data.get("origin") or "cli")),
            permalink=str(data.get("permalink") or ""),
        )


def attachments_to_json(files: Sequence[Attachment]) -> str:
    """The ``files`` field of a message hash ("" when there are none)."""
    return json.dumps([f.as_json() for f in files], separators=(",", ":"), ensure_ascii=False) if files else ""


def attachments_from_json(raw: str | None) -> tuple[Attachment, ...]:
    """Read a ``files`` field back; a malformed value (written by hand) reads as no files."""
    if not raw:
        return ()
    try:
        items = json.loads(raw)
        return tuple(Attachment.from_json(item) for item in items if isinstance(item, dict))
    except (ValueError, TypeError):
        return ()


_DECIMAL = re.compile(r"\d{1,40}(\.\d{1,20})?")


@dataclass(frozen=True)
class Cursor:
    """Where an adapter keeps the newest platform id it took in for a place (its catch-up's anchor):
    hash ``key`` (a name from ``bridge.store.keys``), ``field``, ``value``. The ingest that records
    the event writes it in the same script call, and only forward: ``value`` is a non-negative decimal
    number (a Slack ts, a Discord snowflake), compared as such whatever its length (``_cursor.lua``),
    so events taken in concurrently or a redelivery never move it back."""

    key: str
    field: str
    value: str

    @property
    def valid(self) -> bool:
        """A key and field, and a value that is a decimal number (else the core does not write it)."""
        return bool(self.key and self.field and "\0" not in self.key + self.field and _DECIMAL.fullmatch(self.value))


@dataclass(frozen=True)
class InboundEvent:
    """A message, edit or delete seen in a platform channel.

    ``event_key`` identifies the platform event itself (Slack ``event_id``, Discord message id plus
    kind and edit timestamp); the core records each key once, so replays and retries are no-ops.
    """

    kind: Literal["message", "edit", "delete"]
    channel: ChannelRef
    message_id: str
    event_key: str
    author: PlatformUser | None = None
    text: str = ""
    reply_to: str | None = None
    """Platform message id this message replies to (a Discord reply)."""
    attachments: tuple[Attachment, ...] = ()
    """Files and images of a new message (its text may then be empty)."""
    replace_files: bool = False
    """An edit whose ``attachments`` are all the message has now (Discord's MESSAGE_UPDATE lists them)."""
    thread: str | None = None
    """Platform message id of the root of the thread this message is in, on the same channel (Slack
    ``thread_ts``; on Discord the thread's id, which is its starter message's id or, for a thread
    without one, the id of the root the adapter recorded for it)."""
    broadcast: bool = False
    """A thread reply also sent to the channel (Slack ``thread_broadcast``)."""
    cursor: Cursor | None = None
    """A new message's place in its adapter's catch-up anchors, moved forward by its ingest (recorded,
    a duplicate, or refused by the core: taken in either way)."""


@dataclass(frozen=True)
class HistoryMessage:
    """A message from a platform channel's history, for :func:`bridge.core.backfill.backfill`."""

    event: InboundEvent
    """``kind`` message; ``event_key`` is not used (history is deduplicated by platform id)."""
    ts_ms: int
    """When it was posted on the platform."""


@dataclass(frozen=True)
class HistoryRead:
    """What :meth:`HistorySource.latest` read: the messages, and what it knows it could not read."""

    messages: list[HistoryMessage]
    left_out: tuple[str, ...] = ()
    """One line per part of the history that exists (or may) but was not read, with why and what
    would include it, e.g. private archived threads without Manage Threads. The person who asked is
    told, and each line is logged (a WARNING): never a silent gap."""


class HistorySource(Protocol):
    """The read-only half of an adapter that ``link <channel> --backfill N`` uses: the core runs the
    command and knows no platform, so each adapter answers "the last N messages of this channel".

    :meth:`latest` raises :class:`bridge.errors.HistoryError` when the history cannot be read
    (``permanent=True``: no access, unknown channel; else a transient failure worth retrying), never
    an empty list that would pass for "nothing was said"."""

    @property
    def platform(self) -> Platform: ...

    async def latest(
        self, channel: ChannelRef, count: int, progress: Callable[[int], None] | None = None
    ) -> HistoryRead:
        """The channel's newest ``count`` channel-level messages (fewer if it has fewer), oldest first,
        together with the replies in their threads (which do not count towards ``count``), each as an
        :class:`InboundEvent` built the way live traffic is (same authors, text conversion, files).
        The bridge's own copies are left out. ``progress(fetched)`` is called after each page. On a
        channel whose top level is made of threads (a Discord forum), each post's first message is a
        channel-level message and its replies come on top."""
        ...


@dataclass(frozen=True)
class ReactionEvent:
    """A person adding or removing a reaction on a platform message.

    ``emoji`` is in core form (``bridge.formatting.emoji``: Unicode, or ``:name:`` for a custom
    emoji); ``at`` is the platform's event time (seconds) when it has one, else the time it was
    received: of two events about the same person's reaction, the later one wins.
    """

    kind: Literal["add", "remove"]
    channel: ChannelRef
    message_id: str
    emoji: str
    user: PlatformUser
    at: float


@dataclass(frozen=True)
class IngestResult:
    status: Literal["recorded", "duplicate", "ignored"]
    core_id: str | None = None
    channel: str | None = None
    reason: str | None = None
    refused: bool = False
    """The core refused the content (too long, empty, ...): ``reason`` is what to tell the sender."""


@dataclass(frozen=True)
class OutboundMessage:
    """A core message rendered for one destination by the worker (text still in core markdown)."""

    core_id: str
    channel: str
    text: str
    author_name: str
    avatar_url: str | None = None
    reply_to: list[str] = field(default_factory=list)
    """Platform ids (on this destination) of the message this one replies to, if it was mirrored."""
    mentions: Mapping[str, str] = field(default_factory=dict)
    """Core username -> platform user id on this destination, for people linked on both sides."""
    thread: list[str] = field(default_factory=list)
    """Platform ids (on this destination) of the copy of the thread root this message replies in;
    [] when it is in no thread, or when the root's copy here cannot be proven (``thread_root`` set):
    then it must not be posted as a thread reply (Slack would accept a wrong ``thread_ts`` with
    ``ok: true`` and show the message nowhere)."""
    thread_root: str = ""
    """Core id of that thread root ("" for a message in no thread)."""
    thread_title: str = ""
    """The root's text (core markdown), to name a thread started for it."""
    broadcast: bool = False
    """A thread reply also shown in the channel."""
    files: tuple[Attachment, ...] = ()
    """Attachments of the message: the destination downloads them from their origin and uploads them."""
    origin_channel: str = ""
    """``platform:workspace:channel`` of the original ("" for core posts): whose sender to tell."""
    origin_id: str = ""
    """The platform id of the original message."""
    username: str = ""
    """The author's core username (to find them on the origin platform when they must be told)."""
    reconcile_since_ms: int = 0
    """Non-zero when an earlier attempt may have reached the platform (a crash or a timeout after
    the call, before the delivery was recorded): unix ms of that first attempt. The destination
    then looks for the parts already shown since then and sends only what is provably absent."""


class ThreadHomes(Protocol):
    """Where a core thread lives on a destination (a Discord thread id, a Slack root ts), kept by the
    adapters so that a thread outlives its root's copy (:class:`bridge.core.chat.Chat` has it)."""

    async def thread_home(self, dest: ChannelRef, root_id: str) -> str | None: ...

    async def set_thread_home(self, dest: ChannelRef, root_id: str, where: str) -> None: ...


class Destination(Protocol):
    """The outbound half of an adapter, as the mirroring worker uses it.

    Each method raises :class:`bridge.errors.DeliveryError` on failure, with ``retry_after`` when
    the platform rate-limited the call and ``permanent=True`` when retrying cannot help.
    """

    @property
    def platform(self) -> Platform: ...

    async def send(self, channel: ChannelRef, message: OutboundMessage) -> list[str]:
        """Post as the author; return the platform ids of every part (long messages are split)."""
        ...

    async def edit(self, channel: ChannelRef, ids: list[str], message: OutboundMessage) -> list[str]:
        """Replace the text of a mirrored message; return the ids now holding it."""
        ...

    async def delete(self, channel: ChannelRef, ids: list[str]) -> None: ...

    async def direct_message(self, user: PlatformUser, text: str) -> None:
        """Send a notification as a DM to a platform user."""
        ...

    async def react(self, channel: ChannelRef, message_id: str, emoji: str, *, add: bool) -> bool:
        """Add (or remove) the bot's reaction ``emoji`` (core form) on a message; already in that state
        counts as done. False when this platform has no such emoji (nothing can be applied)."""
        ...
