"""A Discord channel's history for ``link <channel> --backfill N`` (the core's :class:`HistorySource`).

The reading is :mod:`bridge.adapters.discord.history` (Get Channel Messages paged by discord.py,
oldest first, rate limits waited out by discord.py): the channel's newest N messages, then the
messages of every thread started from one of them (a thread's id is its starter message's id), each
read whole: the active ones (List Active Guild Threads) and the public archived ones among the last
1,000 archived (List Public Archived Threads). Private archived threads (they need Manage Threads),
and threads started from nothing or from an older message, are not read (their messages come in
live once someone writes there again, as today). N counts the channel's messages; thread messages
come on top.

Each message becomes an :class:`InboundEvent` the way a live one does (:class:`Inbound`: the same
ignore rules, so the bridge's own webhook copies and system messages are left out; the same text
and file conversion; authors as :func:`platform_user`), with its thread and reply links.

A forum channel has no channel messages (its posts are threads): Discord answers no history for it,
which is a permanent :class:`HistoryError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import discord

from bridge.adapters.discord import history
from bridge.adapters.discord.content import describe_empty
from bridge.adapters.discord.inbound import Inbound, message_event, reply_target
from bridge.core.ports import ChannelRef, HistoryMessage, Platform
from bridge.errors import HistoryError

log = logging.getLogger("bridge.discord.history")
ARCHIVED_LISTED = 1_000
"""Archived threads looked at per backfill (Discord lists them 100 a call, newest archived first)."""


class DiscordHistory:
    def __init__(self, inbound: Inbound) -> None:
        self.inbound = inbound
        """Its ``client`` is the adapter's current discord.py client (renewed on reconnects)."""

    @property
    def platform(self) -> Platform:
        return "discord"

    async def latest(
        self, channel: ChannelRef, count: int, progress: Callable[[int], None] | None = None
    ) -> list[HistoryMessage]:
        client = self.inbound.client
        if client.user is None:
            raise HistoryError("the Discord adapter is not connected yet")
        channel_id = int(channel.channel_id)
        try:
            messages = await history.latest(client, channel_id, count)
            if progress is not None:
                progress(len(messages))
            starters = {m.id for m in messages}
            threads = [
                t for t in await history.active_threads(client, int(channel.workspace), channel_id) if t.id in starters
            ]
            threads += await self._archived(await history.channel(client, channel_id), starters)
            in_threads: list[tuple[discord.Thread, list[discord.Message]]] = []
            total = len(messages)
            for thread in threads:
                replies = [m async for m in history.after(client, thread.id, None)]
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
        for thread, replies in in_threads:
            self.inbound.threads.learn(thread)
            for message in replies:
                await self._add(channel, message, thread, out)
        return out

    async def _archived(self, where: history.Readable, starters: set[int]) -> list[discord.Thread]:
        """The archived public threads started from one of ``starters`` (List Public Archived Threads,
        newest archived first, at most ``ARCHIVED_LISTED`` looked at). A refusal leaves them out
        with a WARNING: the channel's own history is still imported."""
        if not isinstance(where, discord.TextChannel):
            return []
        found: list[discord.Thread] = []
        try:
            async for thread in where.archived_threads(limit=ARCHIVED_LISTED):
                if thread.id in starters:
                    found.append(thread)
        except discord.HTTPException as err:
            log.warning("backfill of %s: archived threads not read (%s %s)", where.id, err.status, err.text)
        return found

    async def _add(
        self, ref: ChannelRef, message: discord.Message, thread: discord.Thread | None, out: list[HistoryMessage]
    ) -> None:
        if await self.inbound._ignored(message):  # the bridge's webhook copies, bots' own, system messages
            return
        text, files = await self.inbound.content_of(message)
        if not text and not files:
            text = describe_empty(message)
        if thread is not None:  # where the original lives, for what acts on it later (reactions)
            await self.inbound.threads.remember(ref, str(message.id), thread.id)
        root = str(thread.id) if thread is not None else None
        event = message_event(ref, message, text, files, root, reply_to=reply_target(message))
        out.append(HistoryMessage(event, int(message.created_at.timestamp() * 1000)))
