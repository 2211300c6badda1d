"""Discord threads and forum posts for the bridge: where a mirrored message goes, and what a message
seen in a thread belongs to.

Facts used (discord-api-docs topics/threads.mdx, resources/channel.mdx, resources/webhook.mdx):
a thread started on a message has that message's id; a forum post is a thread whose first message
has the thread's id; webhooks post into a thread with ``thread_id`` (a thread of the webhook's own
channel) and start a forum post with ``thread_name``; a webhook message in a thread is edited or
deleted only with that ``thread_id``; posting into an archived thread unarchives it unless it is
locked; messages of an archived thread cannot be edited (50083) until it is unarchived, which a
locked thread allows only with MANAGE_THREADS.

Where a core message goes on a linked channel P (the choice, see README "Threads"):

- a root (no thread): in P; on a forum, as a new post named from its text;
- a thread reply whose root's copy on P is message R: in the thread on R (its id is R), started
  there (named from the root's text) by the first reply; on a forum R is the post itself;
- a thread reply whose root's copy on P cannot be proven (never mirrored, or deleted): in P with a
  first line naming the thread (on a forum: a new post), never in a guessed thread;
- a reply into a locked thread: in P, its first line naming the thread, and a WARNING (moderators
  locked it; the bridge does not unlock it); on a forum, where P takes no messages, it is a
  permanent delivery error (dead-lettered, with the reason).

Which thread each posted message is in is kept in Redis (``keys.discord_thread_of``), so edits and
deletes reach it after a restart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import discord

from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, OutboundMessage
from bridge.formatting.thread_text import thread_name
from bridge.store import keys

log = logging.getLogger(__name__)
THREAD_ALREADY_CREATED, THREAD_ARCHIVED, UNKNOWN_MESSAGE, UNKNOWN_CHANNEL = 160004, 50083, 10008, 10003
THREAD_TYPES = (discord.ChannelType.public_thread, discord.ChannelType.private_thread, discord.ChannelType.news_thread)


@dataclass
class Placement:
    """Where one message goes: into ``thread`` (an id) or the channel; ``new_post`` names a forum post
    to start with it; ``header``: the thread could not be used, so the text says which it was."""

    thread: int | None = None
    new_post: str | None = None
    header: bool = False
    also_channel: bool = False


class Threads:
    def __init__(self, *, client: discord.Client, chat: Chat) -> None:
        self.client = client
        self.chat = chat
        self._known: set[int] = set()
        self._parents: dict[int, int] = {}
        """Thread id -> parent channel id, learned from events and lookups."""

    # -- the channel itself ------------------------------------------------------------------------
    async def channel(self, channel_id: int) -> discord.abc.GuildChannel | discord.Thread | None:
        found = self.client.get_channel(channel_id)
        if found is None:
            try:
                fetched = await self.client.fetch_channel(channel_id)
            except (discord.NotFound, discord.Forbidden):
                return None
            found = fetched
        if isinstance(found, discord.abc.GuildChannel | discord.Thread):
            return found
        return None

    async def is_forum(self, channel_id: int) -> bool:
        return isinstance(await self.channel(channel_id), discord.ForumChannel)

    def learn(self, thread: discord.Thread) -> None:
        self._known.add(thread.id)
        self._parents[thread.id] = thread.parent_id

    async def parent_of(self, channel_id: int) -> int | None:
        """The parent channel of a thread (None when ``channel_id`` is no thread)."""
        if channel_id in self._parents:
            return self._parents[channel_id]
        found = await self.channel(channel_id)
        if isinstance(found, discord.Thread):
            self.learn(found)
            return found.parent_id
        return None

    # -- where a message goes ---------------------------------------------------------------------
    async def place(self, channel: ChannelRef, message: OutboundMessage) -> Placement:
        forum = await self.is_forum(int(channel.channel_id))
        if not message.thread_root:
            return Placement(new_post=thread_name(message.text) if forum else None)
        home = message.thread[0] if message.thread else await self.chat.thread_home(channel, message.thread_root)
        if home:  # the root's copy, or the thread it had here (a thread outlives its root's copy)
            thread = await self.ensure(channel, int(home), message.thread_title)
            if thread is not None:
                return Placement(thread=thread, also_channel=message.broadcast and not forum)
        log.info(
            "%s: the root of thread %s has no copy here; posting in the channel", channel.key(), message.thread_root
        )
        return Placement(new_post=thread_name(message.thread_title) if forum else None, header=True)

    async def ensure(self, channel: ChannelRef, root_copy: int, title: str) -> int | None:
        """The thread on the root's copy (its id), started now if there is none yet; None when the
        copy is gone."""
        if root_copy in self._known:
            return root_copy
        existing = await self.channel(root_copy)
        if isinstance(existing, discord.Thread):
            self.learn(existing)
            return root_copy
        try:
            data = await self.client.http.start_thread_with_message(
                int(channel.channel_id), root_copy, name=thread_name(title), auto_archive_duration=10080
            )
        except discord.HTTPException as err:
            if err.code == THREAD_ALREADY_CREATED:
                self._known.add(root_copy)
                return root_copy
            if err.code in (UNKNOWN_MESSAGE, UNKNOWN_CHANNEL):
                return None
            raise
        self._known.add(int(data["id"]))
        self._parents[int(data["id"])] = int(channel.channel_id)
        return int(data["id"])

    async def unarchive(self, thread_id: int) -> None:
        """``PATCH archived=false`` (a locked thread needs MANAGE_THREADS: the 403 is the caller's)."""
        await self.client.http.edit_channel(thread_id, archived=False)

    async def locked(self, thread_id: int) -> bool:
        found = await self.channel(thread_id)
        return isinstance(found, discord.Thread) and found.locked

    # -- which thread a posted message is in ------------------------------------------------------
    async def remember(self, channel: ChannelRef, message_id: str, thread: int) -> None:
        await self.chat.ctx.redis.set(keys.discord_thread_of(channel.workspace, message_id), str(thread))

    async def thread_of(self, channel: ChannelRef, message_id: str) -> int | None:
        value = await self.chat.ctx.redis.get(keys.discord_thread_of(channel.workspace, message_id))
        return int(value) if value else None

    async def forget(self, channel: ChannelRef, message_id: str) -> None:
        await self.chat.ctx.redis.delete(keys.discord_thread_of(channel.workspace, message_id))
