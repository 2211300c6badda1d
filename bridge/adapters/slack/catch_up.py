"""When the app is back in a linked Slack channel: take in what was said there while it was out.

Slack sends no events for a channel the app is not in (api.slack.com/apis/events-api: events are
delivered for conversations the app is a member of), so what is said while someone has removed the
app is never delivered, and joining again does not replay it. So once the app is in again — it
joined by itself (:class:`ChannelAccess` ``on_rejoined``), a held room's call works again, or Slack
said so (``member_joined_channel`` of the app's own user: ``membership_events``) — the channel is read
since the last message the adapter took in there (``keys.slack_last_seen``, moved by every
message the live path takes in: ``InboundEvent.cursor``) and each message goes through the live
inbound path (:meth:`RoomTraffic.handle`): converted, attributed and mirrored as if it had come
live. Exactly once: the core never records the same platform message twice (``cb:pmsg:*`` in
``_post.lua``, whatever the event key), so a message both read here and received live, or read
twice, is a duplicate. The bridge's own copies are skipped there as live ones are.

What is read, from the anchor ``ts`` (exclusive):

- the channel's messages: https://api.slack.com/methods/conversations.history, newer than the
  anchor; the listing goes on past the anchor for up to :data:`LOOKBACK_PAGES` pages (at most
  :data:`LOOKBACK_DAYS` days) to find the older roots that got replies in the gap: a root's
  ``latest_reply`` says so, whether or not it had replies before (one call per 200 messages);
- replies in threads (https://api.slack.com/methods/conversations.replies ``ts`` = root,
  ``oldest`` = anchor): of every root listed with a ``latest_reply`` after the anchor, and of the
  threads rooted before what the listing reached that the core saw active lately
  (``known_threads``: the last 7 days, at most 50 threads per catch-up; the rest are counted in
  ``threads_skipped`` and logged);
- all of it oldest first, a broadcast reply (listed in both) once. Each call waits its Tier 3 slot
  (``pacing.Pacer``); a 429 is waited out (``SlackHistory.call``).

Order: while a catch-up of a channel runs, live messages of that channel wait for it
(:meth:`SlackCatchUp.in_order`, the ``message`` listener calls it first), so a message said after
the app came back never lands in the core before what was said while it was out. Slack does not
promise that ``member_joined_channel`` arrives before the first message said after it, so a live
message from a channel held as left (``channel_left``) is itself the sign that the app is back: it
starts the catch-up and waits for it (``membership_events.MembershipEvents.back``). A live event
waits at most :data:`LIVE_WAIT_S` (Slack wants its ack within 3 s); then it is left un-acked
(``RetryLater``) and Slack delivers it again later, when it is taken in after the catch-up (or is
a duplicate of the copy the catch-up read); Slack's last retry waits as long as it takes.

The anchor of a channel where nothing was ever taken in: it is recorded when the channel is
linked by command (``Chat.link_checks["slack"]``, which never refuses) and, for links made
otherwise (config file, CLI), when the adapter starts (:meth:`SlackCatchUp.seed`): the newest
message ``ts`` there (``0`` for an empty channel: all of it is newer), or the bridge's clock when
the app cannot read the channel then; and when Slack says the app was removed (``channel_left``:
its ``event_ts``). A channel still without one when the app comes back (linked by the CLI while
the bridge ran, nothing said there since, and removed without that event) is not read: nothing is
known to have been missed there, and reading all of its history would import what was said before
it was linked (``link --backfill`` does that on request); a WARNING says so.

Edits made during the gap: a message listed (in the gap, or before the anchor within the
look-back) shows its current text, and one said before the anchor with ``edited.ts`` after it is
taken in as the ``message_changed`` Slack would have sent, when the core has another text for it.

Reactions added or removed during the gap on the listed messages: ``gap_reactions`` (the listing
against what the core has standing from the channel).

What is not recovered: deletes made during the gap (Slack lists nothing for a deleted message, and
a missing one cannot be told from a reply or a hidden one safely), edits of thread replies and of
messages before the look-back, and replies in threads rooted before the listing's reach that the
core did not see active in the last 7 days (or beyond the 50). A history that cannot be read is
reported (WARNING + ``inbound_dropped`` ``catch_up_failed``), never silence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis_async

from bridge import metrics
from bridge.adapters.slack import gap_reactions, known_threads
from bridge.adapters.slack.directory import ChatPort
from bridge.adapters.slack.history import SlackHistory
from bridge.adapters.slack.inbound import RetryLater, RoomTraffic
from bridge.adapters.slack.pacing import Pacer
from bridge.core.ports import ChannelRef
from bridge.errors import HistoryError
from bridge.store import keys

log = logging.getLogger(__name__)

LIVE_WAIT_S = 2.0
"""The longest a live event waits for its channel's catch-up before it is left for Slack's retry."""
LOOKBACK_DAYS = 7
"""How far before the anchor the channel listing looks for roots with replies in the gap."""
LOOKBACK_PAGES = 5
"""At most this many pages (of ``SlackHistory.page``) of messages before the anchor are listed for that."""


class LastSeen:
    """The newest message ``ts`` taken in per Slack channel (``keys.slack_last_seen``)."""

    def __init__(self, redis: redis_async.Redis) -> None:
        self.redis = redis

    async def note(self, team: str, channel: str, ts: str) -> None:
        """Set a channel's anchor (one HSET). The live path does not call this: each message it
        takes in moves the anchor forward in its own ingest script call (``InboundEvent.cursor``,
        ``_cursor.lua``: only ever forward, whatever order concurrent events are written in)."""
        await self.redis.hset(keys.slack_last_seen(team), channel, ts)

    async def of(self, team: str, channel: str) -> str | None:
        found = await self.redis.hget(keys.slack_last_seen(team), channel)
        return str(found) if found else None

    async def start_at(self, team: str, channel: str, ts: str) -> bool:
        """Record ``ts`` as the anchor of a channel that has none yet (HSETNX: never moves one)."""
        return bool(await self.redis.hsetnx(keys.slack_last_seen(team), channel, ts))


@dataclass
class CatchUpResult:
    channel: str
    messages: int = 0
    """Messages read and handed to the live path (duplicates and the bridge's own copies included)."""
    replies: int = 0
    """Of those, thread replies read with conversations.replies."""
    threads: int = 0
    """Threads asked for."""
    threads_skipped: int = 0
    """Threads the core saw active lately that were not asked for (``known_threads.CAP``)."""
    edits: int = 0
    """Older messages (listed before the anchor) edited during the gap whose new text was taken in."""
    reactions: int = 0
    """Reactions added or removed during the gap, taken in (``gap_reactions``)."""
    no_anchor: bool = False
    failed: bool = False


@dataclass
class Listing:
    """What one catch-up's ``conversations.history`` read found."""

    gap: list[dict[str, Any]]
    """Messages after the anchor."""
    earlier: list[dict[str, Any]]
    """Messages up to the anchor that the look-back listed (for their ``latest_reply`` and ``edited``)."""
    roots: list[str]
    """Roots listed (either part) with a reply after the anchor."""
    reached: float
    """The oldest ``ts`` the listing covers: older roots are looked for among the threads the core knows."""


class SlackCatchUp:
    def __init__(
        self,
        *,
        history: SlackHistory,
        rooms: RoomTraffic,
        last_seen: LastSeen,
        chat: ChatPort | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.history = history
        self.rooms = rooms
        self.last_seen = last_seen
        self.chat = chat
        """Where the linked core channel is looked up (threads the core knows); None: no known threads."""
        self.pacer = pacer
        self.team = ""
        """Set by the adapter once ``auth.test`` answered."""
        self.runs: list[CatchUpResult] = []
        """Finished catch-ups (bounded), for tests and health."""
        self.on_reaction: gap_reactions.OnReaction | None = None
        """Set by the adapter (``SlackReactions.on_reaction``): reactions changed during the gap go through it."""
        self.live_wait_s = LIVE_WAIT_S
        self.live_waits = 0
        """Live events that waited for a catch-up of their channel."""
        self._locks: dict[str, asyncio.Lock] = {}
        self._busy: dict[str, int] = {}
        self._quiet: dict[str, asyncio.Event] = {}

    # -- order with the live path ----------------------------------------------------------------
    def _enter(self, channel: str) -> None:
        """A catch-up of ``channel`` is due: live messages there wait from now on (synchronous, so
        that nothing scheduled after this call overtakes it)."""
        if not self._busy.get(channel):
            self._quiet[channel] = asyncio.Event()
        self._busy[channel] = self._busy.get(channel, 0) + 1

    def _exit(self, channel: str) -> None:
        self._busy[channel] -= 1
        if not self._busy[channel]:
            del self._busy[channel]
            self._quiet.pop(channel).set()

    def soon(self, channel: str) -> Coroutine[Any, Any, None]:
        """A catch-up of ``channel`` to run in a task; live messages there wait for it already."""
        self._enter(channel)
        return self._run(channel)

    async def _run(self, channel: str) -> None:
        try:
            async with self._locks.setdefault(channel, asyncio.Lock()):  # one catch-up of a channel at a time
                await self._catch_up(channel)
        finally:
            self._exit(channel)

    async def in_order(self, channel: str, *, final: bool = False) -> None:
        """Called by the ``message`` listener first: wait while ``channel`` is being caught up
        (at most ``live_wait_s``, then :class:`RetryLater`; Slack's last retry waits till the end)."""
        quiet = self._quiet.get(channel)
        if quiet is None:
            return
        self.live_waits += 1
        try:
            async with asyncio.timeout(None if final else self.live_wait_s):
                await quiet.wait()
        except TimeoutError:
            raise RetryLater(f"channel {channel} is being caught up: this live message follows it") from None

    # -- anchors ----------------------------------------------------------------------------------
    async def link_check(self, ref: ChannelRef) -> str | None:
        """``Chat.link_checks["slack"]``: never refuses a link (None); records where the channel
        stands (its anchor), so a later catch-up knows where a gap starts."""
        try:
            await self._anchor(ref.workspace or self.team, ref.channel_id)
        except Exception as err:  # Redis away: the link goes on; the next start records it
            log.warning("slack: channel %s: could not record where its history stands: %s", ref.channel_id, err)
        return None

    async def seed(self, channels: list[str]) -> int:
        """At start: an anchor for each of ``channels`` (linked here) that has none; how many got one."""
        added = 0
        for channel in channels:
            try:
                added += await self._anchor(self.team, channel)
            except Exception as err:  # Redis away: the next start tries again
                log.warning("slack: channel %s: could not record where its history stands: %s", channel, err)
        return added

    async def _anchor(self, team: str, channel: str) -> bool:
        if await self.last_seen.of(team, channel) is not None:
            return False
        try:
            data = await self._call("conversations_history", {"channel": channel, "limit": 1})
            newest = [str(m.get("ts")) for m in data.get("messages") or [] if m.get("ts")]
            ts = newest[0] if newest else "0"
        except HistoryError as err:  # the app is not in there: from now on, by the bridge's clock
            log.info("slack: channel %s: its history cannot be read now (%s): anchored at the clock", channel, err)
            ts = f"{time.time():.6f}"
        added = await self.last_seen.start_at(team, channel, ts)
        if added:
            log.info("slack: channel %s: a later catch-up there reads from %s", channel, ts)
        return added

    # -- the catch-up -----------------------------------------------------------------------------
    async def on_rejoined(self, channel: str) -> None:
        """The app is in ``channel`` again: read and take in what was said meanwhile."""
        await self.soon(channel)

    async def _catch_up(self, channel: str) -> None:
        result = CatchUpResult(channel)
        try:
            anchor = await self.last_seen.of(self.team, channel)
            if anchor is None:
                result.no_anchor = True
                log.warning(
                    "slack: channel %s: nothing was ever taken in there and no anchor was recorded (linked "
                    "while the bridge ran, not by command): what was said while the app was out is not read "
                    "(`link --backfill N` imports it)",
                    channel,
                )
                return
            read_at = time.time()  # the reactions listed are as of then (``gap_reactions``)
            listing = await self._since(channel, anchor)
            messages = listing.gap
            replies = await self._replies(channel, anchor, listing.roots, listing.reached, result)
            seen: set[str] = set()
            for message in sorted([*messages, *replies], key=lambda m: float(m.get("ts") or 0)):
                ts = str(message.get("ts") or "")
                if ts in seen:  # a broadcast reply: in the channel and in its thread
                    continue
                seen.add(ts)
                result.messages += 1
                metrics.inbound_event("slack", "caught_up")
                await self.rooms.handle(
                    {"team_id": self.team}, {**message, "channel": channel, "channel_type": "channel"}
                )
            result.replies = len({str(m.get("ts")) for m in replies})
            result.edits = await self._edits(channel, anchor, listing.earlier)
            if self.on_reaction is not None:
                listed = list({str(m.get("ts")): m for m in [*listing.earlier, *messages, *replies]}.values())
                result.reactions = await gap_reactions.replay(
                    self.last_seen.redis, self.on_reaction, ChannelRef("slack", self.team, channel),
                    read_at=read_at, listed=listed, bot_user_id=self.rooms.bot_user_id,
                )  # fmt: skip
            log.info(
                "slack: channel %s: caught up %d message(s) said while the app was out (%d in %d thread(s))",
                channel, result.messages, result.replies, result.threads,
            )  # fmt: skip
        except Exception as err:  # HistoryError, Redis away, ...: the operator is told, the delivery goes on
            result.failed = True
            metrics.inbound_dropped(
                "slack", "catch_up_failed",
                "channel %s: what was said there while the app was out of it could not be read (%s)", channel, err,
            )  # fmt: skip
        finally:
            self.runs.append(result)
            del self.runs[:-50]

    async def _call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        if self.pacer is not None:
            await self.pacer.wait(name)
        return await self.history.call(name, args)

    async def _pages(
        self, name: str, args: dict[str, Any], *, enough: Callable[[list[dict[str, Any]]], bool] | None = None
    ) -> list[dict[str, Any]]:
        """Every item of a cursor-paged ``conversations.*`` read (or until ``enough(found)``)."""
        found: list[dict[str, Any]] = []
        cursor = ""
        while True:
            data = await self._call(
                name, {**args, "limit": self.history.page, **({"cursor": cursor} if cursor else {})}
            )
            found += list(data.get("messages") or [])
            cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
            if not data.get("has_more") or not cursor or (enough is not None and enough(found)):
                return found

    async def _since(self, channel: str, anchor: str) -> Listing:
        """The channel-level messages after ``anchor`` (exclusive), and up to :data:`LOOKBACK_PAGES`
        pages of what came before it (:data:`LOOKBACK_DAYS` at most): see :class:`Listing`."""
        after = float(anchor)
        floor = max(0.0, after - LOOKBACK_DAYS * 86_400)
        page = self.history.page

        def enough(found: list[dict[str, Any]]) -> bool:  # newest first: the pages before the anchor
            return sum(1 for m in found if float(m.get("ts") or 0) <= after) >= LOOKBACK_PAGES * page

        listed = await self._pages(
            "conversations_history", {"channel": channel, "oldest": f"{floor:.6f}"}, enough=enough
        )
        gap = [m for m in listed if float(m.get("ts") or 0) > after]
        roots = [
            str(m["ts"])
            for m in listed
            if m.get("ts") and m.get("thread_ts") == m.get("ts") and float(m.get("latest_reply") or 0) > after
        ]
        earlier = [m for m in listed if float(m.get("ts") or 0) <= after]
        reached = min([float(m.get("ts") or 0) for m in earlier], default=after)
        return Listing(gap, earlier, roots, reached if enough(listed) else floor)

    async def _edits(self, channel: str, anchor: str, earlier: list[dict[str, Any]]) -> int:
        """Messages said before the anchor and edited after it (``edited.ts``, conversations.history):
        each one the core knows with another text goes through the live path as the
        ``message_changed`` Slack would have sent (its key: the edit's ts, so a repeat is a duplicate)."""
        taken = 0
        redis = self.last_seen.redis
        for message in earlier:
            edited_ts = str((message.get("edited") or {}).get("ts") or "")
            if not edited_ts or float(edited_ts) <= float(anchor) or message.get("subtype") == "tombstone":
                continue
            event = {
                "type": "message", "subtype": "message_changed", "channel": channel, "channel_type": "channel",
                "ts": edited_ts, "event_ts": edited_ts, "message": message, "previous_message": {"ts": message["ts"]},
            }  # fmt: skip
            body = {"team_id": self.team}
            inbound = await self.rooms.to_inbound(body, event)
            if inbound is None or inbound.kind != "edit":
                continue
            core_id = await redis.get(keys.platform_message("slack", self.team, channel, str(message["ts"])))
            if not core_id or await redis.hget(keys.message(str(core_id)), "message") in (None, inbound.text):
                continue  # never taken in (not the bridge's to edit), or the core has this text already
            await self.rooms.handle(body, event, final=True)
            taken += 1
        return taken

    async def _replies(
        self, channel: str, anchor: str, roots: list[str], listed_to: float, result: CatchUpResult
    ) -> list[dict[str, Any]]:
        """Replies after ``anchor`` in ``roots`` and in the older threads the core knows (those rooted
        before ``listed_to``, where the channel listing did not reach)."""
        roots = list(roots)
        core_channel = await self.chat.channel_for(ChannelRef("slack", self.team, channel)) if self.chat else None
        if core_channel is not None:
            known = await known_threads.recent_roots(
                self.last_seen.redis, ChannelRef("slack", self.team, channel), core_channel
            )
            roots += [ts for ts in known.roots if ts not in roots and float(ts) < listed_to]
            result.threads_skipped = known.skipped
            if known.skipped:
                log.warning(
                    "slack: channel %s: %d more thread(s) active in the last %d days were not read for replies "
                    "said while the app was out (at most %d per catch-up)",
                    channel, known.skipped, known_threads.ACTIVE_DAYS, known_threads.CAP,
                )  # fmt: skip
        replies: list[dict[str, Any]] = []
        for root in roots:
            result.threads += 1
            try:
                found = await self._pages("conversations_replies", {"channel": channel, "ts": root, "oldest": anchor})
            except HistoryError as err:
                if "thread_not_found" in str(err):  # its root is gone and had no replies: nothing to read
                    continue
                raise
            replies += [m for m in found if str(m.get("ts")) != root and float(m.get("ts") or 0) > float(anchor)]
        return replies
