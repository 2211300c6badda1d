"""A Discord channel's (or thread's) message history over REST, oldest first.

    channel = await history.channel(client, channel_id)        # text channel or thread, fetched if not cached
    async for message in history.after(client, channel_id, last_seen_id):   # everything newer, oldest first
        ...
    last = await history.latest(client, channel_id, 200)        # the newest 200, oldest first
    threads = await history.active_threads(client, guild_id, channel_id)    # its active threads
    found, more = await history.archived(where, private=True, limit=1000)    # archived ones, newest first

All of it is Get Channel Messages (discord-api-docs resources/message.mdx,
https://discord.com/developers/docs/resources/message#get-channel-messages): pages of at most 100,
each newest first, ``before`` / ``after`` exclusive; discord.py's ``Messageable.history`` does the
paging (``after=`` walks forwards from the id, ``before``/no anchor walks backwards) and the rate-limit
waits. The messages are full :class:`discord.Message` objects, as ``on_message`` gets them, so the
inbound conversion applies unchanged. Reading history needs View Channel and Read Message History: a
channel the bot cannot read raises :class:`HistoryUnavailable` (with the reason), never an empty list
that would pass for "nothing was said".

A thread is a channel (topics/threads.mdx: a thread's messages have ``channel_id`` = the thread), so
its history is read the same way, by the thread's id; :func:`active_threads` lists the threads of a
channel that are active (List Active Guild Threads, resources/guild.mdx ``GET /guilds/{id}/threads/active``
— "all active threads in the guild", filtered here to the channel). :func:`archived` lists the archived
ones (resources/channel.mdx "List Public Archived Threads", READ_MESSAGE_HISTORY; "List Private
Archived Threads", READ_MESSAGE_HISTORY and MANAGE_THREADS; "List Joined Private Archived Threads",
READ_MESSAGE_HISTORY: the private ones the bot is a member of), newest archived first, 100 a call,
paged by discord.py with ``before``; a refusal is the caller's :class:`discord.Forbidden`.

A forum (or media) channel has no messages of its own: its posts are threads, each opened by a
message that has the thread's id and lives in the thread (topics/threads.md "Forums": "threads in
forum channels behave in the same way as in text channels—meaning they use the same endpoints");
:func:`located` answers it (``channel`` refuses it, having no history to page).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import discord

PAGE = 100
"""Get Channel Messages' largest ``limit``."""

Readable = discord.TextChannel | discord.Thread | discord.VoiceChannel | discord.StageChannel
Located = Readable | discord.ForumChannel
"""A channel a backfill reads: one with messages, or a forum/media channel (discord.py's
``ForumChannel`` is both types 15 and 16) whose posts are threads."""


class HistoryUnavailable(Exception):
    """The channel's history cannot be read (unknown channel, no access, not a message channel)."""


@contextlib.contextmanager
def _reading(channel_id: int) -> Iterator[None]:
    """Discord's refusals while reading a channel, as :class:`HistoryUnavailable` with the reason."""
    try:
        yield
    except discord.NotFound as err:
        raise HistoryUnavailable(f"channel {channel_id}: unknown channel ({err.text or err.status})") from err
    except discord.Forbidden as err:
        raise HistoryUnavailable(f"channel {channel_id}: no access to its history ({err.text or err.status})") from err


async def located(client: discord.Client, channel_id: int) -> Located:
    """The channel, thread or forum ``channel_id``, from discord.py's cache or ``GET /channels/{id}``."""
    found = client.get_channel(channel_id)
    if found is None:
        with _reading(channel_id):
            found = await client.fetch_channel(channel_id)
    if not isinstance(found, Located):
        raise HistoryUnavailable(f"channel {channel_id}: a {type(found).__name__} has no message history")
    return found


async def channel(client: discord.Client, channel_id: int) -> Readable:
    """The channel or thread ``channel_id`` (one with messages of its own)."""
    found = await located(client, channel_id)
    if not isinstance(found, Readable):
        raise HistoryUnavailable(f"channel {channel_id}: a {type(found).__name__} has no message history")
    return found


async def archived(
    where: discord.TextChannel | discord.ForumChannel, *, private: bool = False, joined: bool = False, limit: int
) -> tuple[list[discord.Thread], bool]:
    """``where``'s archived threads, newest archived first, at most ``limit``: public ones (a forum's
    posts), or private ones (``joined``: only those the bot is a member of), and whether the limit
    cut the list short. Raises :class:`discord.HTTPException` (403 without the permission)."""
    if isinstance(where, discord.ForumChannel):  # a forum's posts are public threads
        listing = where.archived_threads(limit=limit + 1)
    else:
        listing = where.archived_threads(limit=limit + 1, private=private or joined, joined=joined)
    found = [thread async for thread in listing]
    return found[:limit], len(found) > limit


async def after(
    client: discord.Client, channel_id: int | Readable, after_id: int | None, *, limit: int | None = None
) -> AsyncIterator[discord.Message]:
    """Every message of ``channel_id`` (an id, or a channel/thread object already at hand) newer than
    ``after_id`` (exclusive; None: from the first), oldest first, at most ``limit`` (None: all)."""
    where = channel_id if isinstance(channel_id, Readable) else await channel(client, channel_id)
    anchor = discord.Object(id=after_id) if after_id else None
    with _reading(where.id):
        async for message in where.history(limit=limit, after=anchor, oldest_first=True):
            yield message


async def latest(client: discord.Client, channel_id: int, count: int) -> list[discord.Message]:
    """The newest ``count`` messages of ``channel_id`` (fewer if the channel has fewer), oldest first."""
    if count < 1:
        return []
    where = await channel(client, channel_id)
    with _reading(channel_id):
        newest_first = [m async for m in where.history(limit=count)]
    return newest_first[::-1]


async def active_threads(client: discord.Client, guild_id: int, channel_id: int) -> list[discord.Thread]:
    """The active threads whose parent is ``channel_id``, oldest first (REST, not the cache: a
    session that was not resumed may have missed a THREAD_CREATE)."""
    guild = client.get_guild(guild_id)
    if guild is None:
        raise HistoryUnavailable(f"guild {guild_id}: not available to the bot")
    try:
        threads = await guild.active_threads()
    except discord.HTTPException as err:
        raise HistoryUnavailable(f"guild {guild_id}: cannot list active threads ({err.text or err.status})") from err
    return sorted((t for t in threads if t.parent_id == channel_id), key=lambda t: t.id)
