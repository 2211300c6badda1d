"""A Discord channel's history for ``link <channel> --backfill N`` (the core's :class:`HistorySource`).

The reading is :mod:`bridge.adapters.discord.history` (Get Channel Messages paged by discord.py,
oldest first, rate limits waited out by discord.py).

A text (or announcement, voice) channel: its newest N messages, then the messages of its threads,
each read whole: the active ones (List Active Guild Threads) and the archived ones among the last
1,000 archived of each list (List Public Archived Threads; List Private Archived Threads, which
needs Manage Threads, else List Joined Private Archived Threads, the private ones the bot is in).
A thread counts when it was started from one of the N messages (its id is that message's id), or
started from nothing (a private thread, or a public one whose starter was deleted) while the N
messages were said (its id is not older than the oldest of them; all of them when the channel has
fewer than N). Such a thread gets the root the live path gives it (``🧵 <name>``, as its creator,
with the thread's id as its platform id; see ``Inbound._ensure_root``). Threads started from an
older message are not read (their messages come in live once someone writes there again).

A forum or media channel has no messages of its own; its posts are threads (topics/threads.md
"Forums"): its newest N posts, active and archived (List Public Archived Threads on the forum), each
read whole. A post's first message has the post's id and becomes the root, ``🧵 <title>`` above its
text, exactly as a live forum post does; its replies are in its thread. N counts the posts.

In both, N counts channel-level messages (posts); thread messages come on top. What could not be
read is said, never skipped silently (:attr:`HistoryRead.left_out`, a WARNING each): private
archived threads when the bot may not list them (the permission that would include them), a list
cut at 1,000 archived threads, a refused listing.

Each message becomes an :class:`InboundEvent` the way a live one does (:class:`Inbound`: the same
ignore rules, so the bridge's own webhook copies and system messages are left out; the same text
and file conversion; authors as :func:`platform_user`), with its thread and reply links.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import discord

from bridge.adapters.discord import history
from bridge.adapters.discord.content import describe_empty
from bridge.adapters.discord.inbound import Inbound, message_event, reply_target, thread_root_event
from bridge.adapters.discord.member_names import platform_user
from bridge.core.ports import ChannelRef, HistoryMessage, HistoryRead, Platform, PlatformUser
from bridge.errors import HistoryError
from bridge.formatting.thread_text import thread_root_text

log = logging.getLogger(__name__)
ARCHIVED_LISTED = 1_000
"""Archived threads looked at per list and backfill (Discord lists them 100 a call, newest archived first)."""


class DiscordHistory:
    def __init__(self, inbound: Inbound) -> None:
        self.inbound = inbound
        """Its ``client`` is the adapter's current discord.py client (renewed on reconnects)."""

    @property
    def platform(self) -> Platform:
        return "discord"

    async def latest(
        self, channel: ChannelRef, count: int, progress: Callable[[int], None] | None = None
    ) -> HistoryRead:
        client = self.inbound.client
        if client.user is None:
            raise HistoryError("the Discord adapter is not connected yet")
        channel_id = int(channel.channel_id)
        left_out: list[str] = []
        try:
            where = await history.located(client, channel_id)
            if isinstance(where, discord.ForumChannel):
                messages: list[discord.Message] = []
                threads = await self._posts(channel, where, count, left_out)
            else:
                messages = await history.latest(client, channel_id, count)
                if progress is not None:
                    progress(len(messages))
                threads = await self._threads(channel, where, messages, count, left_out)
            in_threads: list[tuple[discord.Thread, list[discord.Message]]] = []
            total = len(messages)
            for thread in threads:
                replies = [m async for m in history.after(client, thread, None)]
                in_threads.append((thread, replies))
                total += len(replies)
                if progress is not None:
                    progress(total)
        except history.HistoryUnavailable as err:
            raise HistoryError(f"Discord: {err}", permanent=True) from err
        except discord.HTTPException as err:
            raise HistoryError(f"Discord answered {err.status} ({err.text or err})") from err
        except (discord.ConnectionClosed, OSError, TimeoutError) as err:
            raise HistoryError(f"Discord unreachable: {err!r}") from err
        out: list[HistoryMessage] = []
        for message in messages:
            await self._add(channel, message, None, out)
        in_channel = {m.id for m in messages}
        for thread, replies in in_threads:
            self.inbound.threads.learn(thread)
            if thread.id not in in_channel and all(m.id != thread.id for m in replies):
                await self._root(channel, thread, replies, out)  # started from nothing, or its starter is gone
            for message in replies:
                await self._add(channel, message, thread, out)
        return HistoryRead(out, tuple(left_out))

    async def _threads(
        self,
        ref: ChannelRef,
        where: history.Readable,
        messages: list[discord.Message],
        count: int,
        left_out: list[str],
    ) -> list[discord.Thread]:
        """The threads of a channel with messages that this backfill reads (see the module doc)."""
        client = self.inbound.client
        threads = await history.active_threads(client, int(ref.workspace), where.id)
        if isinstance(where, discord.TextChannel):
            threads += await self._archived(where, left_out)
        starters = {m.id for m in messages}
        since = min(starters) if len(messages) >= count else 0  # fewer than N: the whole channel
        chosen = {t.id: t for t in threads if t.id in starters or t.id >= since}
        return sorted(chosen.values(), key=lambda t: t.id)

    async def _posts(
        self, ref: ChannelRef, forum: discord.ForumChannel, count: int, left_out: list[str]
    ) -> list[discord.Thread]:
        """A forum's newest ``count`` posts (by creation: a post's id), active and archived, oldest first."""
        client = self.inbound.client
        posts = {t.id: t for t in await history.active_threads(client, int(ref.workspace), forum.id)}
        for thread in await self._archived(forum, left_out):
            posts.setdefault(thread.id, thread)
        return sorted(posts.values(), key=lambda t: t.id)[-count:]

    async def _archived(
        self, where: discord.TextChannel | discord.ForumChannel, left_out: list[str]
    ) -> list[discord.Thread]:
        """The archived threads of ``where`` the bot may list; what it may not is added to ``left_out``."""
        name = f"#{where.name}"
        found: list[discord.Thread] = []
        try:
            public, more = await history.archived(where, limit=ARCHIVED_LISTED)
            found += public
            if more:
                left_out.append(f"archived threads of {name} beyond the {ARCHIVED_LISTED:,} most recently archived")
        except discord.HTTPException as err:
            left_out.append(f"the archived threads of {name} (Discord answered {err.status}: {err.text or err})")
        if isinstance(where, discord.ForumChannel):
            return found  # a forum's posts are all public threads
        try:
            private, more = await history.archived(where, private=True, limit=ARCHIVED_LISTED)
        except discord.Forbidden:
            # List Private Archived Threads needs Manage Threads; the joined ones need Read Message History
            try:
                private, more = await history.archived(where, joined=True, limit=ARCHIVED_LISTED)
            except discord.HTTPException as err:
                left_out.append(
                    f"the private archived threads of {name} (Discord answered {err.status}: {err.text or err}; "
                    "listing them needs Read Message History and Manage Threads there)"
                )
                return found
            left_out.append(
                f"private archived threads of {name} the bot is not a member of "
                f"({len(private)} it is in were read; Discord does not say how many others there are): "
                f"give the bot Manage Threads in {name} to include them"
            )
        except discord.HTTPException as err:
            left_out.append(f"the private archived threads of {name} (Discord answered {err.status}: {err.text})")
            return found
        found += private
        if more:
            left_out.append(f"private archived threads of {name} beyond the {ARCHIVED_LISTED:,} most recently archived")
        return found

    async def _root(
        self, ref: ChannelRef, thread: discord.Thread, replies: list[discord.Message], out: list[HistoryMessage]
    ) -> None:
        """The root a thread without a starter message gets, as live (``Inbound._ensure_root``)."""
        owner: PlatformUser | None = platform_user(ref.workspace, thread.owner) if thread.owner else None
        if owner is None and thread.owner_id:
            owner = await self.inbound.members.user(ref.workspace, str(thread.owner_id))
        if owner is None and replies:
            owner = platform_user(ref.workspace, replies[0].author)
        if owner is None:
            return  # an empty thread whose creator is unknown: nothing was said in it
        root = thread_root_event(ref, thread, owner)
        out.append(HistoryMessage(root, int(discord.utils.snowflake_time(thread.id).timestamp() * 1000)))

    async def _add(
        self, ref: ChannelRef, message: discord.Message, thread: discord.Thread | None, out: list[HistoryMessage]
    ) -> None:
        if await self.inbound._ignored(message):  # the bridge's webhook copies, bots' own, system messages
            return
        text, files = await self.inbound.content_of(message)
        if not text and not files:
            text = describe_empty(message)
        root: str | None = None
        if thread is not None and message.id == thread.id:  # a forum post's first message: the root
            text = thread_root_text(thread.name, text)
        elif thread is not None:
            root = str(thread.id)
        if thread is not None:  # where the original lives, for what acts on it later (reactions)
            await self.inbound.threads.remember(ref, str(message.id), thread.id)
        event = message_event(ref, message, text, files, root, reply_to=reply_target(message))
        out.append(HistoryMessage(event, int(message.created_at.timestamp() * 1000)))
