"""Room traffic in: Discord messages, edits, deletes and replies → ``Chat.ingest``.

Event keys are stable across gateway replays and restarts, so the core records each event once:
``discord:<message id>:create``, ``discord:<message id>:edit:<edited_timestamp>``,
``discord:<message id>:delete``. The bot's own messages, its webhooks' posts, system messages and
messages outside the guild allow-list are ignored. While Redis is away an event is held in memory
and retried until it is recorded, however long the outage (``bridge.adapters.outage``); it never
reaches discord.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import discord

from bridge import metrics
from bridge.adapters.outage import REDIS_AWAY, HoldFull, OutageHold
from bridge.adapters.sender_notices import SenderNotices
from bridge.core.chat import Chat
from bridge.core.ports import Attachment, ChannelRef, Cursor, InboundEvent, IngestResult, PlatformUser
from bridge.formatting.thread_text import thread_root_text
from bridge.store import keys

from .catch_up import LastSeen
from .config import DiscordConfig
from .content import describe_empty, extras, media_base
from .member_names import MemberNames, platform_user
from .text import to_core
from .thread_places import Threads
from .webhooks import WebhookStore

log = logging.getLogger(__name__)
USER_MESSAGE_TYPES = (discord.MessageType.default, discord.MessageType.reply)
INGEST_PATIENCE_S = 600.0
T = TypeVar("T")


def _room_id(channel: object) -> int:
    """A thread's parent channel id (a thread is part of its channel's room), else the channel's id."""
    if isinstance(channel, discord.Thread):
        return channel.parent_id
    return int(getattr(channel, "id", 0))


def reply_target(message: discord.Message) -> str | None:
    """The id of the message ``message`` replies to (a forward is not a reply)."""
    ref_to = message.reference
    if ref_to is None or ref_to.message_id is None or ref_to.type is discord.MessageReferenceType.forward:
        return None
    return str(ref_to.message_id)


def message_event(
    ref: ChannelRef,
    message: discord.Message,
    text: str,
    files: list[Attachment],
    thread_root: str | None,
    *,
    reply_to: str | None,
) -> InboundEvent:
    """A new Discord message as the core receives it (live, or read back from history)."""
    return InboundEvent(
        kind="message",
        channel=ref,
        message_id=str(message.id),
        event_key=f"discord:{message.id}:create",
        author=platform_user(ref.workspace, message.author),
        text=text,
        reply_to=reply_to,
        attachments=tuple(files),
        thread=thread_root,
    )


def thread_root_event(ref: ChannelRef, thread: discord.Thread, owner: PlatformUser) -> InboundEvent:
    """The root a thread without a starter message gets (``🧵 <name>``, as ``owner``), with the
    thread's id as its platform id so every message of the thread goes in the same core thread."""
    return InboundEvent(
        kind="message",
        channel=ref,
        message_id=str(thread.id),
        event_key=f"discord:{thread.id}:thread",
        author=owner,
        text=thread_root_text(thread.name),
    )


class Inbound:
    def __init__(self, *, client: discord.Client, chat: Chat, config: DiscordConfig, webhooks: WebhookStore) -> None:
        self.client = client
        self.chat = chat
        self.config = config
        self.webhooks = webhooks
        self.results: list[IngestResult] = []
        """Recent ingest results (bounded), for health checks and tests."""
        self.handled = 0
        """Events handed to the core so far (ignored ones not counted)."""
        self._changed = asyncio.Event()
        self._locks: dict[int, asyncio.Lock] = {}
        self.threads = Threads(client=client, chat=chat)
        self.notices: SenderNotices | None = None
        """How the author of a message that did not cross is told (set by the adapter)."""
        self.hold = OutageHold("discord")
        """Gateway events waiting for Redis to come back (Discord does not redeliver)."""
        self.caught_up = asyncio.Event()
        """Cleared while a new gateway session catches up on its gap (``catch_up``): live events wait."""
        self.caught_up.set()
        self.room_gates: dict[int, asyncio.Event] = {}
        """Rooms (channel ids) whose live events wait, while unset: a channel being caught up after
        the bot could view it again (``view_watch``); the others go on."""
        self.last_seen = LastSeen(chat.ctx.redis)
        self.members = MemberNames(client=client, chat=chat)
        """Names of people the member cache does not hold (no privileged intents: almost everyone)."""

    async def wait_handled(self, count: int, within: float = 5.0) -> list[IngestResult]:
        """Wait until ``count`` events have been handed to the core; return the recent results."""
        async with asyncio.timeout(within):
            while self.handled < count:
                self._changed.clear()
                await self._changed.wait()
        return self.results

    def guild_allowed(self, guild_id: int | None) -> bool:
        if guild_id is None:
            return False
        return not self.config.guild_ids or guild_id in self.config.guild_ids

    async def _ignored(self, message: discord.Message) -> bool:
        if message.guild is None or not self.guild_allowed(message.guild.id):
            return True
        me = self.client.user
        if me is not None and message.author.id == me.id:
            return True
        if message.application_id is not None and message.application_id == self.client.application_id:
            return True
        if message.webhook_id is not None:  # a webhook posts in its channel's threads too
            return await self.webhooks.is_own(str(_room_id(message.channel)), str(message.webhook_id))
        return message.type not in USER_MESSAGE_TYPES

    def _lock(self, channel_id: int) -> asyncio.Lock:
        """One lock per channel, taken before any other await: discord.py runs each event in its own
        task (in gateway order), and asyncio locks are FIFO, so a room is ingested in gateway order."""
        return self._locks.setdefault(channel_id, asyncio.Lock())

    # -- gateway events ------------------------------------------------------------------------
    # A thread's events take its parent channel's lock: a thread and the channel it hangs off are one
    # room, ingested in gateway order (a reply never overtakes the message its thread starts on).
    async def on_message(self, message: discord.Message) -> None:
        await self._held(_room_id(message.channel), self._on_message, message, f"message {message.id}")

    async def on_raw_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        room = self._room_of(payload.channel_id)
        await self._held(room, self._on_raw_edit, payload, f"edit of {payload.message_id}")

    async def on_raw_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        room = self._room_of(payload.channel_id)
        await self._held(room, self._on_raw_delete, payload, f"delete of {payload.message_id}")

    async def replay(self, message: discord.Message) -> None:
        """A message read from history by the catch-up: taken in like a live one, ahead of the live
        events waiting for the catch-up to end (a duplicate of one taken in already records nothing)."""
        await self._held(_room_id(message.channel), self._on_message, message, f"message {message.id}", gated=False)

    async def replay_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """An edit made during a gateway gap, found in history by the catch-up (like ``replay``)."""
        room = self._room_of(payload.channel_id)
        await self._held(room, self._on_raw_edit, payload, f"edit of {payload.message_id}", gated=False)

    async def _held(
        self, channel_id: int, handle: Callable[[T], Awaitable[None]], event: T, what: str, *, gated: bool = True
    ) -> None:
        """Hold the event until it is recorded, however long Redis is away (Discord never
        redelivers); past the hold's bound it is reported dropped (WARNING + metric). Live events
        first wait for a catch-up in progress, the session's and their room's (in arrival order: asyncio
        wakes waiters FIFO)."""
        if gated and not self.caught_up.is_set():
            await self.caught_up.wait()
        room_gate = self.room_gates.get(channel_id) if gated else None
        if room_gate is not None and not room_gate.is_set():
            await room_gate.wait()
        try:
            with self.hold.slot():
                async with self._lock(channel_id):
                    await patiently(handle, event, what=what, hold=self.hold)
        except HoldFull as err:
            metrics.inbound_dropped("discord", "redis_outage", "%s: Redis is unreachable and %s", what, err)

    async def on_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        """A moderator deleted a whole thread: Discord sends no delete per message, so its copies stay
        on the other side; the operator is told (a WARNING and ``inbound_dropped``)."""
        if not self.guild_allowed(payload.guild_id):
            return
        ref = ChannelRef("discord", str(payload.guild_id), str(payload.parent_id))
        if await self.chat.channel_for(ref) is None:
            return
        metrics.inbound_dropped(
            "discord", "thread_deleted", "thread %s of %s was deleted on Discord; its mirrored copies stay",
            payload.thread_id, ref.key(),
        )  # fmt: skip

    def _room_of(self, channel_id: int) -> int:
        """The channel whose lock an event in ``channel_id`` takes (a cached thread's parent)."""
        return _room_id(self.client.get_channel(channel_id)) if self.client.get_channel(channel_id) else channel_id

    async def _on_message(self, message: discord.Message) -> None:
        if await self._ignored(message):
            return
        assert message.guild is not None
        thread = message.channel if isinstance(message.channel, discord.Thread) else None
        ref = ChannelRef("discord", str(message.guild.id), str(_room_id(message.channel)))
        if not await self._linked(ref):
            return
        if thread is not None:
            self.threads.learn(thread)
        reply_to = reply_target(message)
        text, files = await self.content_of(message)
        if not text and not files:
            if not self.config.message_content:
                # without the Message Content intent Discord sends empty content, attachments and embeds
                metrics.inbound_dropped(
                    "discord", "no_message_content", "message %s in %s: the Message Content intent is off",
                    message.id, ref.key(),
                )  # fmt: skip
                self._note(IngestResult("ignored", reason="no message content intent"))
                return
            text = describe_empty(message)
        thread_root: str | None = None
        if thread is not None and message.id == thread.id:  # a forum post's first message: the root
            text = thread_root_text(thread.name, text)
        elif thread is not None:
            thread_root = str(thread.id)
            await self._ensure_root(ref, thread, message)
        if thread is not None:  # where the original lives, for what acts on it later (reactions)
            await self.threads.remember(ref, str(message.id), thread.id)
        event = message_event(ref, message, text, files, thread_root, reply_to=reply_to)
        # the catch-up's anchor of the channel or thread (catch_up.LastSeen), moved forward by the
        # ingest's own script call: no write of its own after it
        cursor = Cursor(keys.discord_last_seen(str(message.guild.id)), str(message.channel.id), str(message.id))
        await self._ingest(dataclasses.replace(event, cursor=cursor), message)

    async def _ensure_root(self, ref: ChannelRef, thread: discord.Thread, message: discord.Message) -> None:
        """A thread whose root the core does not know (started from nothing, or on a message from
        before the link) gets one: ``🧵 <name>`` posted as the thread's creator, with the thread's id
        as its platform id, so every message of the thread goes in the same core thread."""
        if await self.chat.thread_root_of(ref, str(thread.id)) is not None:
            return
        owner = platform_user(ref.workspace, thread.owner or message.author)
        if thread.owner is None and thread.owner_id:
            owner = await self.members.user(ref.workspace, str(thread.owner_id)) or owner
        await self._ingest(thread_root_event(ref, thread, owner))

    async def _on_raw_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        message = payload.message
        edited = payload.data.get("edited_timestamp")
        if not edited or await self._ignored(message):
            return  # no edited_timestamp: an embed unfurl or pin, not a person's edit
        assert message.guild is not None
        parent = await self.threads.parent_of(payload.channel_id)
        ref = ChannelRef("discord", str(message.guild.id), str(parent or payload.channel_id))
        if not await self._linked(ref):
            return
        text, files = await self.content_of(message)
        if parent is not None and message.id == payload.channel_id:  # a forum post's first message
            thread = await self.threads.channel(payload.channel_id)
            text = thread_root_text(getattr(thread, "name", "") or "", text)
        event = InboundEvent(
            kind="edit",
            channel=ref,
            message_id=str(message.id),
            event_key=f"discord:{message.id}:edit:{edited}",
            author=platform_user(ref.workspace, message.author),
            text=text,
            attachments=tuple(files),
            replace_files=True,  # MESSAGE_UPDATE carries the whole message: a removed attachment is gone
        )
        await self._ingest(event, message)

    async def _on_raw_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if not self.guild_allowed(payload.guild_id) or self.webhooks.deleted_by_us(str(payload.message_id)):
            return  # the echo of a delete the bridge made itself
        parent = await self.threads.parent_of(payload.channel_id)
        ref = ChannelRef("discord", str(payload.guild_id), str(parent or payload.channel_id))
        event = InboundEvent(
            kind="delete",
            channel=ref,
            message_id=str(payload.message_id),
            event_key=f"discord:{payload.message_id}:delete",
        )
        await self._ingest(event)

    async def _linked(self, ref: ChannelRef) -> bool:
        """Unlinked channels are skipped before converting mentions (which may create core users)."""
        if await self.chat.channel_for(ref) is not None:
            return True
        self._note(IngestResult("ignored", reason="channel not linked"))
        return False

    def _note(self, result: IngestResult) -> None:
        self.results.append(result)
        del self.results[:-200]
        self.handled += 1
        self._changed.set()

    # -- conversion ----------------------------------------------------------------------------
    async def content_of(self, message: discord.Message) -> tuple[str, list[Attachment]]:
        """The text in core markdown (its own, a forward's, bot embeds, poll, voice) and its files."""
        more = extras(message, media=media_base(self.config.api_base))
        parts: list[str] = []
        if message.content:
            parts.append(await self.to_core(message))
        if more.forwarded is not None:
            quoted = await self.to_core(message, more.forwarded) if more.forwarded else ""
            body = "\n".join("> " + line for line in quoted.splitlines())
            parts.append("↪️ _Forwarded_" + (f"\n{body}" if body else ""))
        parts += more.lines
        return "\n".join(parts), more.files

    async def to_core(self, message: discord.Message, content: str | None = None) -> str:
        """The message text (or ``content``) in core markdown, with mentions mapped to core names."""
        assert message.guild is not None
        guild = message.guild
        workspace = str(guild.id)
        mentioned = {str(u.id): u for u in message.mentions}

        async def user_name(user_id: str) -> str | None:
            name = await self.chat.find_username("discord", workspace, user_id)
            if name is not None:
                return name
            user = mentioned.get(user_id)
            person = platform_user(workspace, user) if user is not None else await self.members.user(workspace, user_id)
            if person is None:
                return None
            return await self.chat.resolve_user(person)

        async def channel_name(channel_id: str) -> str | None:
            return await self.chat.channel_for(ChannelRef("discord", workspace, channel_id))

        def role_name(role_id: str) -> str | None:
            role = guild.get_role(int(role_id))
            return role.name if role is not None else None

        text = message.content if content is None else content
        return await to_core(text, user_name=user_name, channel_name=channel_name, role_name=role_name)

    async def _ingest(self, event: InboundEvent, message: discord.Message | None = None) -> None:
        result = await ingest_with_retry(self.chat.ingest, event)
        if result is not None:
            if result.refused and message is not None:
                metrics.inbound_dropped(
                    "discord", "refused", "%s %s in %s: %s", event.kind, event.message_id, event.channel.key(),
                    result.reason,
                )  # fmt: skip
                await self.tell(message, f"Your message was not mirrored: {result.reason}", reason="refused")
            elif result.status == "ignored" and result.reason == "unknown message":
                metrics.inbound_dropped(
                    "discord", "unknown_message", "%s of %s in %s: the message was never mirrored",
                    event.kind, event.message_id, event.channel.key(),
                )  # fmt: skip
            self._note(result)
        else:
            self.handled += 1
            self._changed.set()

    async def tell(self, message: discord.Message, text: str, *, reason: str) -> None:
        """Tell the author of ``message`` that it (or part of it) did not cross (rate-limited)."""
        if self.notices is None or message.guild is None:
            return
        await self.notices.tell(
            str(message.guild.id), str(message.channel.id), str(message.id), str(message.author.id), text,
            reason=reason,
        )  # fmt: skip


async def patiently(
    handle: Callable[[T], Awaitable[None]], event: T, *, what: str, hold: OutageHold | None = None
) -> None:
    """Handle a gateway event, starting over while Redis is unreachable, for as long as the outage
    lasts (the lookups before the ingest need Redis too). Safe to repeat: the ingest is idempotent
    by event key. The caller holds the room's lock, so its later events wait behind this one."""
    await (hold or OutageHold("discord")).ride(lambda: handle(event), what=what)


async def ingest_with_retry(
    ingest: Callable[[InboundEvent], Awaitable[IngestResult]], event: InboundEvent
) -> IngestResult | None:
    """``ingest(event)``, retried with backoff (capped at 5 s) for up to ``INGEST_PATIENCE_S`` when it
    fails for another reason than Redis being away (that error goes to the caller's outage hold):
    Discord never redelivers, so giving up early would lose the message. The per-channel lock held
    by the caller keeps later messages of the room waiting behind it, in order. None when it kept
    failing for that long (reported as dropped)."""
    delay = 0.2
    deadline = time.monotonic() + INGEST_PATIENCE_S
    attempt = 0
    while True:
        attempt += 1
        try:
            result = await ingest(event)
        except REDIS_AWAY:
            raise  # Redis is away: the caller holds the event until it is back (patiently)
        except Exception:
            if time.monotonic() + delay > deadline:
                log.exception("ingest failed for %s in %s; giving up", event.event_key, event.channel.key())
                metrics.inbound_dropped(
                    "discord", "ingest_failed", "%s in %s: failed for %.0fs", event.event_key, event.channel.key(),
                    INGEST_PATIENCE_S,
                )  # fmt: skip
                return None
            log.warning("ingest failed for %s (attempt %d); retrying", event.event_key, attempt, exc_info=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        else:
            log.debug("ingest %s -> %s (%s)", event.event_key, result.status, result.reason or "")
            return result
