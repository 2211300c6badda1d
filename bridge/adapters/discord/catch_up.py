"""After a gateway session that could not be resumed, take in what was said during the gap.

Discord replays missed events only on a successful RESUME (discord-api-docs events/gateway.mdx
"Resuming"). After op 9 Invalid Session with ``d: false``, close 4009 "Session timed out", or a
client that had to start over, the new session begins with READY and the events of the gap are gone
for good. So on every READY but the first (``RESUMED`` needs nothing; the start: below), every linked channel and the
active threads under it are read over REST (:mod:`.history`, Get Channel Messages ``after`` the
anchor, oldest first) and each message goes through the normal inbound path: it crosses to the other
platforms exactly as if it had come live, and once — its event key ``discord:<id>:create`` is the one
a live copy of it has, so a message both fetched and received live (or fetched twice) is a duplicate
for the core, never a second copy.

Order: from the new READY until the catch-up is done, live message events wait (``Inbound.caught_up``;
they queue in gateway order) so nothing said after the gap overtakes what was said during it. A
room is read channel first (a thread's starter message lives there), then its threads.

The anchor of a channel or thread is the newer of: the last message id taken in there
(``keys.discord_last_seen``, moved by the ingest of every message the inbound path takes
in a linked room), and the snowflake of the last gateway event of the old session less
``MARGIN_S`` (everything older than that was received before the gap; the margin covers gateway
latency and the clock difference with Discord). A thread never seen before starts at the latter.

The adapter's start is a gap too (the bridge was down; ``discord.catch_up_on_start``, default on):
the first READY runs a catch-up from the recorded anchors only — a linked channel with none yet
(nothing taken in there so far) is not read, it gets Discord's ``last_message_id`` as its anchor
for next time, so a channel's older history is never replayed as new. After each read the anchor
moves past the newest message read, the bridge's own webhook posts included.

What is recovered and what is not:

- messages posted during the gap, in linked channels and their active threads: all, once, in order,
  with their content as it is now (an edit made during the gap is in the text; a message posted and
  deleted during the gap never crosses, as it would not have once deleted);
- replies among them keep their reply/thread links (their parents are taken in first);
- edits made during the gap to the ``EDIT_WINDOW`` (50) messages just before it, in each channel and
  thread, for messages the core has: REST messages carry ``edited_timestamp`` and the whole
  message, so the edit is taken in as its MESSAGE_UPDATE would have been (same event key: an edit
  that was seen live is a duplicate);
- NOT recovered: edits of older messages; deletes during the gap of messages from before it
  (Discord lists no deleted messages; their copies stay), reactions during the gap, messages in
  threads that were archived before the catch-up ran (only active threads are listed).

A channel whose history cannot be read (permissions — without Read Message History Discord answers
an empty list, so the cache's permissions are checked first —, unknown channel, Discord down) is reported
(WARNING + ``inbound_dropped`` ``catch_up_failed``, with the reason): what was said there during the
gap did not cross, and the operator is told.

One channel can be caught up the same way without a new session (:meth:`CatchUp.channel`): a
linked channel the bot could not view — Discord sends it nothing from there — and can again
(``view_watch``). The same reads, anchors, event keys and edits window, for that channel and its
active threads; the gate is that room's (``Inbound.room_gates``), so only its live events wait.
Catch-ups run one at a time (a session's and a channel's may overlap in what they read: duplicates
for the core, never second copies).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import discord
import redis.asyncio as redis_async

from bridge import metrics
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.store import keys

from . import history
from .channel_permissions import granted_in
from .invite import READ_MESSAGE_HISTORY

log = logging.getLogger(__name__)

MARGIN_S = 120.0
"""How far before the old session's last event the fallback anchor lies."""
EDIT_WINDOW = 50
"""How many messages before the anchor are looked at for edits made during the gap."""
DISCORD_EPOCH_S = 1_420_070_400


def _edited_since(data: Any, since: datetime) -> bool:
    try:
        return bool(data.get("edited_timestamp")) and datetime.fromisoformat(str(data["edited_timestamp"])) >= since
    except ValueError:
        return False


class LastSeen:
    """The newest message id taken in per Discord channel or thread (``keys.discord_last_seen``)."""

    def __init__(self, redis: redis_async.Redis) -> None:
        self.redis = redis

    async def note(self, guild_id: int, channel_id: int, message_id: int) -> None:
        """Set an anchor (one HSET): the catch-up, past the newest message it read. The live path
        does not call this: each message it takes in moves its anchor forward in its own ingest
        script call (``InboundEvent.cursor``, ``_cursor.lua``: only forward)."""
        await self.redis.hset(keys.discord_last_seen(str(guild_id)), str(channel_id), str(message_id))

    async def seed(self, guild_id: int, anchors: dict[int, int]) -> None:
        """Anchors for channels that have none yet (HSETNX each: never moves a recorded one)."""
        if not anchors:
            return
        key = keys.discord_last_seen(str(guild_id))
        async with self.redis.pipeline(transaction=False) as pipe:
            for channel_id, message_id in anchors.items():
                pipe.hsetnx(key, str(channel_id), str(message_id))
            await pipe.execute()

    async def of(self, guild_id: int, channel_ids: list[int]) -> dict[int, int]:
        if not channel_ids:
            return {}
        raw = await self.redis.hmget(keys.discord_last_seen(str(guild_id)), [str(c) for c in channel_ids])
        return {c: int(v) for c, v in zip(channel_ids, raw, strict=True) if v and str(v).isdigit()}


@dataclass
class CatchUpResult:
    channels: int = 0
    threads: int = 0
    messages: int = 0
    """Messages read from history and handed to the inbound path (duplicates included)."""
    edits: int = 0
    """Edits of messages from before the gap, made during it, handed to the inbound path."""
    start: bool = False
    """The catch-up of the adapter's start (its downtime), not of a lost session."""
    failed: int = 0
    seconds: float = 0.0
    channel: int | None = None
    """The one channel caught up after the bot could view it again (None: every linked channel)."""
    gap: str = "while the gateway session was lost"
    """What the missed messages were missed in (for the report of a channel that cannot be read)."""


Replay = Callable[[discord.Message], Awaitable[None]]
ReplayEdit = Callable[[discord.RawMessageUpdateEvent], Awaitable[None]]


class CatchUp:
    """Tracks gateway sessions (``session_event`` on every dispatch, ``ready`` on READY processed) and
    runs the catch-up after a READY that was not the first."""

    def __init__(
        self,
        *,
        chat: Chat,
        last_seen: LastSeen,
        gate: asyncio.Event,
        replay: Replay,
        replay_edit: ReplayEdit,
        on_start: bool = True,
    ) -> None:
        self.chat = chat
        self.last_seen = last_seen
        self.gate = gate
        """Set while live events may be taken in; cleared from a new session's READY to the end of its catch-up."""
        self.replay = replay
        self.replay_edit = replay_edit
        self.on_start = on_start
        """Also catch up when the adapter starts (a restart is a gap too), from the recorded anchors."""
        self.start_run: CatchUpResult | None = None
        """The catch-up of the adapter's start, once done (``runs`` holds those of lost sessions)."""
        self._starting = False
        self.client: discord.Client | None = None
        self.readies = 0
        self.last_event_at = 0.0
        self._gap_from = 0.0
        self._pending = False
        self._ready_waiting = False
        self._task: asyncio.Task[CatchUpResult] | None = None
        self.runs: list[CatchUpResult] = []
        """Finished catch-ups (bounded), for health, tests and the bench."""
        self.restored: list[CatchUpResult] = []
        """Finished catch-ups of one channel the bot could view again (bounded)."""
        self.changed = asyncio.Event()
        self._one_at_a_time = asyncio.Lock()

    # -- gateway hooks -----------------------------------------------------------------------------
    def session_event(self, event_type: str, *, shards: int = 1) -> None:
        """Called (synchronously, first thing) for every dispatch, in gateway order. On a READY that is
        not one of the first ``shards`` (the adapter starting), close the gate before any event of
        the new session is taken in."""
        if event_type == "READY":
            self.readies += 1
            if self.readies > shards:
                self._gap_from = self._gap_from or self.last_event_at
                self._pending = True
                self.gate.clear()
            elif self.readies == 1 and self.on_start:  # the process (re)started: its downtime is a gap too
                self._pending = self._starting = True
                self.gate.clear()
        self.last_event_at = time.time()

    def ready(self, client: discord.Client) -> None:
        """READY processed (guilds in the cache): start the catch-up if one is due."""
        self.client = client
        if not self._pending:
            return
        if self._task is not None and not self._task.done():
            self._ready_waiting = True  # the catch-up in progress starts this one when it ends
            return
        self._start(client)

    def _start(self, client: discord.Client) -> None:
        starting = self._starting and not self._gap_from
        self._pending = self._ready_waiting = self._starting = False
        gap_from, self._gap_from = self._gap_from, 0.0
        self._task = asyncio.create_task(self._run(client, None if starting else gap_from), name="discord-catch-up")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
        self.gate.set()

    async def wait_runs(self, count: int, within: float = 10.0, *, restored: bool = False) -> list[CatchUpResult]:
        """Wait until ``count`` catch-ups (of sessions; ``restored``: of single channels) have
        finished (tests, bench)."""
        found = self.restored if restored else self.runs
        async with asyncio.timeout(within):
            while len(found) < count:
                self.changed.clear()
                await self.changed.wait()
        return found

    async def channel(
        self, client: discord.Client, guild_id: int, channel_id: int, *, hidden_since: float | None,
    ) -> CatchUpResult:  # fmt: skip
        """Catch up one linked channel (and its active threads) the bot can view again, from its
        anchors; ``hidden_since`` (unix time the loss of view was seen) also bounds the anchor from
        below like a lost session's last event (None: the loss was not seen, e.g. it happened while
        the adapter was down: the recorded anchors only). The caller holds the room's gate."""
        started = time.monotonic()
        result = CatchUpResult(channel=channel_id, gap="while the bot could not view it")
        since = None
        if hidden_since is not None:
            since = datetime.fromtimestamp(max(hidden_since - MARGIN_S, DISCORD_EPOCH_S), UTC)
        try:
            async with self._one_at_a_time:
                log.info("Discord: the bot can view channel %s again: catching it up", channel_id)
                await self._guild(client, guild_id, [channel_id], since, result)
        except Exception:
            log.exception("Discord catch-up of channel %s failed", channel_id)
            result.failed += 1
        finally:
            result.seconds = time.monotonic() - started
            self.restored.append(result)
            del self.restored[:-50]
            self.changed.set()
        log.info(
            "Discord catch-up of channel %s: %d thread(s), %d message(s) and %d earlier edit(s) in %.2f s (%d failed)",
            channel_id, result.threads, result.messages, result.edits, result.seconds, result.failed,
        )  # fmt: skip
        return result

    # -- the catch-up ------------------------------------------------------------------------------
    async def _run(self, client: discord.Client, gap_from: float | None) -> CatchUpResult:
        """``gap_from``: when the lost session's last event came; None: the adapter's start (only
        channels with a recorded anchor are read, from it; the others get one for next time)."""
        started = time.monotonic()
        result = CatchUpResult(start=gap_from is None)
        try:
            since = None if gap_from is None else datetime.fromtimestamp(max(gap_from - MARGIN_S, DISCORD_EPOCH_S), UTC)
            why = "the adapter started" if since is None else "a new gateway session (not resumed)"
            log.info("Discord: %s: catching up every linked channel", why)
            async with self._one_at_a_time:
                for guild_id, channel_ids in (await self._linked()).items():
                    await self._guild(client, guild_id, channel_ids, since, result)
        except Exception:
            log.exception("Discord catch-up failed")
            result.failed += 1
        finally:
            result.seconds = time.monotonic() - started
            if result.start:
                self.start_run = result
            else:
                self.runs.append(result)
                del self.runs[:-50]
            self.changed.set()
            if not self._pending:
                self.gate.set()
            elif self._ready_waiting and self.client is not None:  # another session started and is
                self._start(self.client)  # ready meanwhile: its gap too, with the gate still closed
            # else: that session's READY is not processed yet; ``ready`` starts its catch-up
        log.info(
            "Discord catch-up: %d channel(s), %d thread(s), %d message(s) and %d earlier edit(s) in %.2f s (%d failed)",
            result.channels, result.threads, result.messages, result.edits, result.seconds, result.failed,
        )  # fmt: skip
        return result

    async def _linked(self) -> dict[int, list[int]]:
        """Linked Discord channels by guild."""
        found: dict[int, list[int]] = defaultdict(list)
        for info in await self.chat.channels.overview():
            for key in info.links:
                ref = ChannelRef.parse(key)
                if ref.platform == "discord" and ref.workspace.isdigit() and ref.channel_id.isdigit():
                    found[int(ref.workspace)].append(int(ref.channel_id))
        return found

    async def _guild(
        self, client: discord.Client, guild_id: int, channel_ids: list[int], since: datetime | None,
        result: CatchUpResult,
    ) -> None:  # fmt: skip
        """Each linked channel, then its active threads, after its anchor. ``since`` None (the start):
        only where an anchor is recorded (a thread without one: its channel's); the channels without
        one get the newest message id Discord reports for them, to start from next time."""
        guild = client.get_guild(guild_id)
        threads: list[discord.Thread] = []
        if guild is not None:
            try:
                threads = [t for t in await guild.active_threads() if t.parent_id in channel_ids]
            except discord.HTTPException as err:
                self._failed(result, f"guild {guild_id}", f"cannot list its active threads ({err})")
        seen = await self.last_seen.of(guild_id, channel_ids + [t.id for t in threads])
        floor = 0 if since is None else max(discord.utils.time_snowflake(since), 0)
        unseen: dict[int, int] = {}
        for channel_id in sorted(channel_ids):
            where = client.get_channel(channel_id)
            anchor = max(seen.get(channel_id, 0), floor)
            if not anchor:  # the start, and nothing recorded: nothing known to have been missed
                last = getattr(where, "last_message_id", None)
                if isinstance(last, int):
                    unseen[channel_id] = last
            elif not isinstance(where, discord.ForumChannel):  # a forum has no messages of its own
                result.channels += 1
                await self._read(client, guild_id, channel_id, anchor, since, result)
            for thread in sorted((t for t in threads if t.parent_id == channel_id), key=lambda t: t.id):
                thread_anchor = max(seen.get(thread.id, 0), floor) or anchor
                if thread_anchor:
                    result.threads += 1
                    await self._read(client, guild_id, thread, thread_anchor, since, result)
        await self.last_seen.seed(guild_id, unseen)

    async def _read(
        self, client: discord.Client, guild_id: int, where: int | discord.Thread, after_id: int,
        since: datetime | None, result: CatchUpResult,
    ) -> None:  # fmt: skip
        try:
            place = where if isinstance(where, discord.Thread) else await history.channel(client, where)
            granted = granted_in(place)  # a thread: its channel's (checked there)
            if granted is not None and not granted & READ_MESSAGE_HISTORY:
                # resources/message.mdx, Get Channel Messages: "If the current user is missing the
                # READ_MESSAGE_HISTORY permission in the channel, then no messages will be returned."
                raise history.HistoryUnavailable("the bot lacks Read Message History there: Discord lists no messages")
            newest = 0
            async for message in history.after(client, place, after_id):
                result.messages += 1
                metrics.inbound_event("discord", "caught_up")
                await self.replay(message)
                newest = message.id
            if newest:  # past what the inbound path ignores too (the bridge's own webhook posts)
                await self.last_seen.note(guild_id, place.id, newest)
            edits_since = since or discord.utils.snowflake_time(after_id)  # the start: edits since the anchor
            await self._edits(client, guild_id, place, after_id, edits_since, result)
        except (history.HistoryUnavailable, discord.HTTPException) as err:
            name = f"thread {where.id}" if isinstance(where, discord.Thread) else f"channel {where}"
            self._failed(result, name, str(err))

    async def _edits(
        self, client: discord.Client, guild_id: int, place: history.Readable, before_id: int, since: datetime,
        result: CatchUpResult,
    ) -> None:  # fmt: skip
        """Edits made during the gap to the ``EDIT_WINDOW`` messages just before it, for messages the
        core has: taken in as the MESSAGE_UPDATE would have been (same event key, so an edit seen
        live is a duplicate). REST messages carry the whole message, as MESSAGE_UPDATE does."""
        # before the anchor's successor: the anchor message itself (the last one taken in) is one of them
        raw: list[Any] = list(await client.http.logs_from(place.id, EDIT_WINDOW, before=before_id + 1))
        edited = [d for d in raw if _edited_since(d, since)]
        if not edited:
            return
        room = place.parent_id if isinstance(place, discord.Thread) else place.id
        ref = ChannelRef("discord", str(guild_id), str(room))
        known = await self.chat.mapped(ref, [str(d["id"]) for d in edited])
        for found in sorted(edited, key=lambda d: int(d["id"])):
            if str(found["id"]) not in known:
                continue
            data: Any = {**found, "guild_id": str(guild_id)}  # as MESSAGE_UPDATE has it
            message = discord.Message(state=client._connection, channel=place, data=data)
            result.edits += 1
            await self.replay_edit(discord.RawMessageUpdateEvent(data=data, message=message))

    def _failed(self, result: CatchUpResult, what: str, why: str) -> None:
        result.failed += 1
        metrics.inbound_dropped(
            "discord", "catch_up_failed", "%s: what was said there %s could not be read (%s)", what, result.gap, why,
        )  # fmt: skip
