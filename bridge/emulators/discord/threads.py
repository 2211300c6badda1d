"""Threads and forum channels, as Discord has them.

Sources (discord-api-docs): topics/threads.mdx, resources/channel.mdx (channel types, thread metadata,
start-thread routes, archived-thread listing), resources/webhook.mdx (``thread_id`` / ``thread_name``
on execute and on webhook-message routes), topics/gateway-events.mdx (THREAD_CREATE / UPDATE /
DELETE / LIST_SYNC), topics/opcodes-and-status-codes.mdx (error codes).

- Channel types: 5 announcement, 10 announcement thread, 11 public thread, 12 private thread, 15 forum,
  16 media. A media channel is "similar to a GUILD_FORUM channel in that only threads can be created
  in them ... threads in media channels behave in the same way as in forum channels" (topics/threads.mdx
  "Media Channels"), so every forum rule below holds for both ("thread-only channels").
- A thread started from a message shares that message's id; the starter message gets the ``thread``
  field and flag HAS_THREAD (1 << 5). A thread is started only once per message (160004).
- A forum channel takes no messages itself (50024); each post is a public thread whose first message
  has the thread's id and lives in the thread. Webhooks post to a forum only with ``thread_name``
  (a new post) or ``thread_id`` (220001 otherwise).
- A thread's messages have ``channel_id`` = the thread.
- Archived threads: sending a message unarchives the thread, unless it is locked; a locked thread is
  unarchived only by someone with MANAGE_THREADS (``PATCH archived=false``). Editing messages in an
  archived thread fails (50083); deleting them works.
- THREAD_CREATE carries ``newly_created`` when a thread is created; THREAD_DELETE carries
  ``id, guild_id, parent_id, type``; THREAD_LIST_SYNC ``guild_id, channel_ids, threads, members``.
- "The Gateway will only sync threads that the app has permission to view" (topics/threads.mdx,
  "Details about Thread Access and Syncing"): a thread in a channel the bot cannot view, or a
  private thread it is not a member of without MANAGE_THREADS (``permissions.in_channel``), sends
  it no THREAD_* event. "Whenever a user is added to a private thread, the Gateway also sends a
  Thread Create event", also to a moderator and for any thread (same section); THREAD_MEMBERS_UPDATE
  is sent to the bot when it is the one added (topics/gateway-events.mdx: without GUILD_MEMBERS
  "this event will only be sent if the current user was added to or removed from the thread").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import api_errors as errors
from . import permissions
from .channel_types import (
    ANNOUNCEMENT,
    ANNOUNCEMENT_THREAD,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    TEXT,
    THREAD_ONLY,
    THREAD_TYPES,
)
from .intents import INTENT_GUILD_MEMBERS
from .state import Channel, World, iso_now

if TYPE_CHECKING:
    from collections.abc import Callable

    from .service import Backend

HAS_THREAD = 1 << 5
ARCHIVE_DURATIONS = frozenset({60, 1440, 4320, 10080})


def thread_archived() -> errors.APIError:
    return errors.APIError(400, 50083, "Thread is archived")


def thread_already_created() -> errors.APIError:
    return errors.APIError(400, 160004, "A thread has already been created for this message")


def wrong_channel_type() -> errors.APIError:
    return errors.APIError(400, 50024, "Cannot execute action on this channel type")


@dataclass
class ThreadMeta:
    """``thread_metadata`` plus the counters of a thread channel."""

    owner_id: str
    archived: bool = False
    locked: bool = False
    invitable: bool = True
    auto_archive_duration: int = 1440
    archive_timestamp: str = field(default_factory=iso_now)
    create_timestamp: str = field(default_factory=iso_now)
    message_count: int = 0
    total_message_sent: int = 0
    members: set[str] = field(default_factory=set)


def meta(c: Channel) -> ThreadMeta:
    if not isinstance(c.thread, ThreadMeta):
        raise wrong_channel_type()
    return c.thread


def is_thread(c: Channel) -> bool:
    return isinstance(c.thread, ThreadMeta)


def active_threads(world: World) -> list[Channel]:
    return [c for c in world.channels.values() if is_thread(c) and not meta(c).archived]


def thread_payload(world: World, c: Channel) -> dict[str, Any]:
    """``types/threads.py: Thread`` (resources/channel.mdx, thread metadata object)."""
    m = meta(c)
    out: dict[str, Any] = {
        "id": c.id,
        "type": c.type,
        "guild_id": c.guild_id,
        "parent_id": c.parent_id,
        "owner_id": m.owner_id,
        "name": c.name,
        "last_message_id": next(reversed(c.messages), None),
        "rate_limit_per_user": 0,
        "message_count": m.message_count,
        "member_count": min(len(m.members), 50),
        "total_message_sent": m.total_message_sent,
        "flags": 0,
        "thread_metadata": {
            "archived": m.archived,
            "auto_archive_duration": m.auto_archive_duration,
            "archive_timestamp": m.archive_timestamp,
            "locked": m.locked,
            "invitable": m.invitable,
            "create_timestamp": m.create_timestamp,
        },
    }
    if world.bot.id in m.members:
        out["member"] = {"id": c.id, "user_id": world.bot.id, "join_timestamp": m.create_timestamp, "flags": 0}
    return out


FORUM_FIELDS: dict[str, Any] = {
    "available_tags": [],
    "default_reaction_emoji": None,
    "default_sort_order": None,
    "default_forum_layout": 0,
    "flags": 0,
}
"""What ``types/channel.py: ForumChannel`` has beyond a text channel's fields."""


def thread_name(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 100:
        raise errors.invalid_form_body("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    return value


def archive_duration(value: Any) -> int:
    if value is None:
        return 1440
    if value not in ARCHIVE_DURATIONS:
        raise errors.invalid_form_body(
            "auto_archive_duration", "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}."
        )
    return int(value)


class Threads:
    """Thread operations shared by the REST routes, webhook execution and the Python API."""

    def __init__(self, backend: Backend, check_content: Callable[[Any], str]) -> None:
        self.b = backend
        self.world = backend.world
        self._check_content = check_content

    # -- lookups ---------------------------------------------------------------------------------
    def of(self, parent: Channel) -> list[Channel]:
        return [c for c in self.world.channels.values() if is_thread(c) and c.parent_id == parent.id]

    def active(self) -> list[Channel]:
        return active_threads(self.world)

    def _need(self, user_id: str, bit: int, channel: Channel) -> None:
        """``user_id``'s permissions in ``channel`` (a thread: its parent's overwrites)."""
        permissions.require(self.world, user_id, channel, bit)

    def bot_sees(self, thread: Channel) -> bool:
        """Whether the gateway syncs ``thread`` to the bot (see the module's docstring)."""
        return permissions.views(self.world, self.world.bot.id, thread)

    async def _dispatch(self, event: str, thread: Channel, data: dict[str, Any]) -> None:
        if self.bot_sees(thread):
            await self.b.gateway.dispatch(event, data)

    # -- creating --------------------------------------------------------------------------------
    async def _open(
        self, parent: Channel, *, thread_id: str, name: str, kind: int, owner_id: str, duration: int, invitable: bool
    ) -> Channel:
        thread = Channel(thread_id, name, kind, parent.guild_id, parent_id=parent.id)
        thread.thread = ThreadMeta(owner_id, auto_archive_duration=duration, invitable=invitable)
        thread.thread.members.add(owner_id)
        self.world.channels[thread.id] = thread
        await self._dispatch("THREAD_CREATE", thread, {**thread_payload(self.world, thread), "newly_created": True})
        self.b.notifier.poke()
        return thread

    async def start_from_message(
        self, parent: Channel, message_id: str, *, name: Any, owner_id: str, duration: Any = None
    ) -> Channel:
        """``POST /channels/{id}/messages/{id}/threads``: the thread gets the message's id."""
        if parent.type not in (TEXT, ANNOUNCEMENT):
            raise wrong_channel_type()
        message = self.b.message(parent, message_id)
        self._need(owner_id, permissions.CREATE_PUBLIC_THREADS, parent)
        if message_id in self.world.channels or "thread" in message:
            raise thread_already_created()
        kind = ANNOUNCEMENT_THREAD if parent.type == ANNOUNCEMENT else PUBLIC_THREAD
        thread = await self._open(
            parent,
            thread_id=message_id,
            name=thread_name(name),
            kind=kind,
            owner_id=owner_id,
            duration=archive_duration(duration),
            invitable=True,
        )
        message["flags"] = int(message.get("flags", 0)) | HAS_THREAD
        message["thread"] = thread_payload(self.world, thread)
        return thread

    async def start_without_message(
        self, parent: Channel, *, name: Any, owner_id: str, kind: Any = PRIVATE_THREAD, duration: Any = None
    ) -> Channel:
        """``POST /channels/{id}/threads`` on a text or announcement channel (no starter message)."""
        if parent.type not in (TEXT, ANNOUNCEMENT):
            raise wrong_channel_type()
        if kind not in THREAD_TYPES or (kind == PRIVATE_THREAD and parent.type != TEXT):
            raise errors.invalid_form_body("type", "BASE_TYPE_CHOICES", "Value must be one of {10, 11, 12}.")
        needed = permissions.CREATE_PRIVATE_THREADS if kind == PRIVATE_THREAD else permissions.CREATE_PUBLIC_THREADS
        self._need(owner_id, needed, parent)
        return await self._open(
            parent,
            thread_id=self.world.ids.next(),
            name=thread_name(name),
            kind=int(kind),
            owner_id=owner_id,
            duration=archive_duration(duration),
            invitable=True,
        )

    async def start_forum_post(
        self,
        forum: Channel,
        *,
        name: Any,
        author: dict[str, Any],
        message: dict[str, Any],
        owner_id: str,
        source: str = "api",
        **create: Any,
    ) -> tuple[Channel, dict[str, Any]]:
        """A forum post: a public thread and its first message, which has the thread's id."""
        if forum.type not in THREAD_ONLY:
            raise wrong_channel_type()
        self._need(owner_id, permissions.CREATE_PUBLIC_THREADS, forum)
        title = thread_name(name)
        thread_id = self.world.ids.next()
        self._check_content(message.get("content"))  # checked first: a bad post creates no thread
        thread = await self._open(
            forum,
            thread_id=thread_id,
            name=title,
            kind=PUBLIC_THREAD,
            owner_id=owner_id,
            duration=archive_duration(create.pop("duration", None)),
            invitable=True,
        )
        first = await self.b.create_message(
            thread,
            author=author,
            content=message.get("content"),
            allowed_mentions=message.get("allowed_mentions"),
            message_id=thread_id,
            source=source,
            **create,
        )
        return thread, first

    # -- changing --------------------------------------------------------------------------------
    async def update(
        self,
        thread: Channel,
        *,
        actor_id: str,
        name: Any = None,
        archived: Any = None,
        locked: Any = None,
        duration: Any = None,
    ) -> Channel:
        """``PATCH /channels/{thread id}`` (topics/threads.mdx "Editing & Deleting Threads")."""
        m = meta(thread)
        perms = permissions.in_channel(self.world, actor_id, thread)
        moderator = bool(perms & permissions.MANAGE_THREADS)
        owner = actor_id == m.owner_id
        if locked is not None and not moderator:
            raise errors.missing_permissions()
        if archived is False and m.locked and not moderator:
            raise errors.missing_permissions()
        if (name is not None or archived is not None or duration is not None) and not (moderator or owner):
            raise errors.missing_permissions()
        if m.archived and archived is not False and (name is not None or duration is not None):
            raise thread_archived()
        if name is not None:
            thread.name = thread_name(name)
        if duration is not None:
            m.auto_archive_duration = archive_duration(duration)
        if locked is not None:
            m.locked = bool(locked)
        if archived is not None and bool(archived) != m.archived:
            m.archived = bool(archived)
            m.archive_timestamp = iso_now()
        await self._dispatch("THREAD_UPDATE", thread, thread_payload(self.world, thread))
        self.b.notifier.poke()
        return thread

    async def delete(self, thread: Channel, *, actor_id: str) -> None:
        """``DELETE /channels/{thread id}`` (needs MANAGE_THREADS): the thread and its messages go."""
        self._need(actor_id, permissions.MANAGE_THREADS, thread)
        seen = self.bot_sees(thread)
        del self.world.channels[thread.id]
        event = {"id": thread.id, "guild_id": thread.guild_id, "parent_id": thread.parent_id, "type": thread.type}
        if seen:
            await self.b.gateway.dispatch("THREAD_DELETE", event)
        self.b.notifier.poke()

    async def add_member(self, thread: Channel, user_id: str, *, actor_id: str) -> None:
        """``PUT /channels/{thread id}/thread-members/{user id}`` (resources/channel.mdx "Add Thread
        Member": "Requires the ability to send messages in the thread. Also requires the thread is
        not archived"), or the bot joining itself (``@me``, "Join Thread": not archived). A member of
        a private thread may add others only while it is ``invitable`` (else MANAGE_THREADS)."""
        m = meta(thread)
        if actor_id != user_id:
            self._need(actor_id, permissions.to_send(thread), thread)
            if thread.type == PRIVATE_THREAD and not m.invitable:
                self._need(actor_id, permissions.MANAGE_THREADS, thread)
        else:
            self._need(actor_id, permissions.VIEW_CHANNEL, thread)
        if m.archived:
            raise thread_archived()
        if user_id in m.members:
            return
        m.members.add(user_id)
        bot = user_id == self.world.bot.id
        if bot:
            await self.b.gateway.dispatch("THREAD_CREATE", thread_payload(self.world, thread))
        elif not self.bot_sees(thread):
            return
        member = {"id": thread.id, "user_id": user_id, "join_timestamp": iso_now(), "flags": 0}
        event = {"id": thread.id, "guild_id": thread.guild_id, "member_count": min(len(m.members), 50),
                 "added_members": [member]}  # fmt: skip

        def members_intent(session: Any, data: dict[str, Any]) -> dict[str, Any] | None:
            return data if bot or session.intents & INTENT_GUILD_MEMBERS else None

        await self.b.gateway.dispatch("THREAD_MEMBERS_UPDATE", event, shape=members_intent)

    async def list_sync(self, channel_ids: list[str]) -> dict[str, Any]:
        """THREAD_LIST_SYNC for ``channel_ids`` (sent when the bot gains access to those channels)."""
        threads = [t for t in self.active() if t.parent_id in channel_ids and self.bot_sees(t)]
        members = [
            {"id": t.id, "user_id": self.world.bot.id, "join_timestamp": meta(t).create_timestamp, "flags": 0}
            for t in threads
            if self.world.bot.id in meta(t).members
        ]
        event = {
            "guild_id": self.world.guild_id,
            "channel_ids": list(channel_ids),
            "threads": [thread_payload(self.world, t) for t in threads],
            "members": members,
        }
        await self.b.gateway.dispatch("THREAD_LIST_SYNC", event)
        return event

    # -- hooks the message operations call ------------------------------------------------------
    async def admit(self, channel: Channel, author_id: str) -> None:
        """Before a message is posted in ``channel``: a forum takes none; an archived thread is
        unarchived by the post unless it is locked."""
        if channel.type in THREAD_ONLY:
            raise wrong_channel_type()
        if not is_thread(channel):
            return
        m = meta(channel)
        if m.archived:
            if m.locked:
                raise thread_archived()
            m.archived = False
            m.archive_timestamp = iso_now()
            await self._dispatch("THREAD_UPDATE", channel, thread_payload(self.world, channel))
        m.members.add(author_id)

    def counted(self, channel: Channel, delta: int) -> None:
        if is_thread(channel):
            m = meta(channel)
            m.message_count = max(0, m.message_count + delta)
            if delta > 0:
                m.total_message_sent += delta

    def editable(self, channel: Channel) -> None:
        """Messages of an archived thread cannot be edited (topics/threads.mdx)."""
        if is_thread(channel) and meta(channel).archived:
            raise thread_archived()
