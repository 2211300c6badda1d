"""Room traffic in: Slack ``message`` events (new, ``message_changed``, ``message_deleted``, thread
replies) in linked channels become :class:`InboundEvent` s for ``Chat.ingest``.

The listener runs before the event is acknowledged (the app uses ``process_before_response``): an
exception leaves the event un-acked, so Slack delivers it again; the ``event_key`` is built from
Slack's ``event_id``, which a retry keeps, so the core records it once.

A channel's events are recorded in arrival order, but not one at a time: each event's lookups
(users.info through the directory's cache, the route) run as soon as it arrives, and what is ready
at the head of the channel's queue is written by one ``Chat.ingest_many`` call (``room_order``:
a group commit per channel; the catch-up anchor ``cb:sseen`` moves in that same script call). A
busy channel takes in as many events per round trip to Redis as arrived meanwhile.

An edit or delete can arrive before the message it changes (Slack does not promise order, and the
message's own delivery may have failed and wait for a retry). It is left un-acked
(:class:`RetryLater`) so Slack delivers it again, while its message is younger than
``early_edit_window`` (``slack.early_edit_hold_s``, sized to Slack's retry schedule). The hold lives
in Slack's redelivery, not in this process: a restart loses nothing. Slack retries an event 3
times (``X-Slack-Retry-Num``, which bolt also sets in Socket Mode); on the last one the edit is not
refused again but reported as dropped (``early_edit``), never lost silently.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Any

from bridge import metrics
from bridge.adapters.outage import HoldFull, OutageHold
from bridge.adapters.sender_notices import SenderNotices
from bridge.adapters.slack import text as slack_text
from bridge.adapters.slack.directory import ChatPort, Directory
from bridge.adapters.slack.files import slack_files
from bridge.adapters.slack.room_order import RoomOrder
from bridge.core.ports import ChannelRef, Cursor, InboundEvent, IngestResult, PlatformUser
from bridge.store import keys

log = logging.getLogger(__name__)

MESSAGE_SUBTYPES = frozenset({None, "thread_broadcast", "me_message", "file_share", "bot_message"})
PREPARES_AT_ONCE = 32
"""Events whose lookups (route, mentions: Redis round trips) run at once: a burst of a few hundred
events never takes the Redis client's whole connection pool (redis-py's default pool refuses past
100 connections, which the outage hold would read as Redis being away)."""
LAST_RETRY = 3
"""Slack retries an event at most 3 times (api.slack.com/apis/events-api#retries)."""


def retry_num(request: Any) -> int:
    """``X-Slack-Retry-Num`` of a bolt request (0 for a first delivery)."""
    headers = getattr(request, "headers", None) or {}
    raw = headers.get("x-slack-retry-num") or ["0"]
    try:
        return int(raw[0] if isinstance(raw, list | tuple) else raw)
    except ValueError:
        return 0


async def convert_text(chat: ChatPort, *, team: str, text: str, directory: Directory | None = None) -> str:
    """Slack mrkdwn → core markdown, resolving ``<@U…>`` to core usernames and ``<#C…>`` to the
    linked core channel (else the Slack name)."""
    user_ids, channel_ids = slack_text.mentioned_ids(text)
    users: dict[str, str] = {}
    for uid in user_ids:
        name = await chat.find_username("slack", team, uid)
        if name is None and directory is not None:
            name = await chat.resolve_user(await directory.platform_user(team, uid))
        if name:
            users[uid] = name
    channels: dict[str, str] = {}
    for cid in channel_ids:
        linked = await chat.channel_for(ChannelRef("slack", team, cid))
        if linked:
            channels[cid] = linked
    return slack_text.to_core(text, users=users, channels=channels)


class RetryLater(Exception):
    """Leave this event un-acknowledged so Slack delivers it again (an expected, logged-quietly case)."""


class RoomTraffic:
    def __init__(self, *, chat: ChatPort, directory: Directory, early_edit_window: float = 120.0) -> None:
        self._chat = chat
        self._directory = directory
        self._early_edit_window = early_edit_window
        self._preparing = asyncio.Semaphore(PREPARES_AT_ONCE)
        self.order = RoomOrder(self._commit)
        """Each channel's events recorded in arrival order, a group commit at a time (``room_order``)."""
        self.counters: collections.Counter[str] = collections.Counter()
        """Message events by outcome: recorded, duplicate, ignored, skipped (not for the core), retry_later."""
        self.bot_user_id: str | None = None
        self.bot_id: str | None = None
        self.notices: SenderNotices | None = None
        """How a sender whose message did not cross is told (an ephemeral message; set by the adapter)."""
        self.hold = OutageHold("slack")
        """Events waiting (un-acked) for Redis to come back."""

    def _own(self, message: dict[str, Any]) -> bool:
        bot_id = message.get("bot_id")
        user = message.get("user")
        return bool((bot_id and bot_id == self.bot_id) or (user and user == self.bot_user_id))

    async def on_message(self, body: dict[str, Any], event: dict[str, Any], request: Any = None) -> None:
        """Bolt listener for every ``message`` event."""
        result = await self.handle(body, event, final=retry_num(request) >= LAST_RETRY)
        if result is not None and result.status != "ignored":
            log.debug("slack %s → %s %s", body.get("event_id"), result.status, result.core_id)

    async def handle(self, body: dict[str, Any], event: dict[str, Any], *, final: bool = False) -> IngestResult | None:
        """Take one event in; returns once it is recorded (bolt acknowledges it then), or raises to
        leave it un-acked. Its lookups run at once; its recording waits for the channel's earlier
        events (``room_order``): an edit never overtakes the message it changes."""
        channel = str(event.get("channel") or "")
        what = f"event {body.get('event_id')}"
        try:
            with self.hold.slot():  # while Redis is away the event waits in here, un-acked (adapters.outage)
                turn = self.order.enter(channel)  # its place in the channel's order: before any await
                try:
                    async with self._preparing:
                        inbound = await self.hold.ride(lambda: self.to_inbound(body, event), what=what)
                except BaseException:
                    self.order.skip(channel, turn)
                    raise
                if inbound is None:
                    self.order.skip(channel, turn)
                    self.counters["skipped"] += 1
                    return None
                result = await self.order.commit(channel, turn, inbound)
        except HoldFull as err:
            raise RetryLater(str(err)) from err  # not acked: Slack delivers it again
        early = result.status == "ignored" and result.reason == "unknown message" and self._recent(inbound.message_id)
        if early and not final:
            self.counters["retry_later"] += 1
            # Slack may deliver an edit/delete before the message itself: have it delivered again
            raise RetryLater(f"{inbound.kind} of {inbound.message_id} arrived before the message")
        if early:
            metrics.inbound_dropped(
                "slack", "early_edit", "%s of %s in %s (event %s): its message had not arrived by Slack's last retry",
                inbound.kind, inbound.message_id, inbound.channel.key(), body.get("event_id"),
            )  # fmt: skip
        elif result.refused:
            metrics.inbound_dropped(
                "slack", "refused", "%s %s in %s (event %s): %s",
                inbound.kind, inbound.message_id, inbound.channel.key(), body.get("event_id"), result.reason,
            )  # fmt: skip
            await self._tell(inbound, event, f"Your message was not mirrored: {result.reason}", reason="refused")
        elif result.status == "ignored" and result.reason == "unknown message":
            metrics.inbound_dropped(
                "slack", "unknown_message", "%s of %s in %s: the message was never mirrored",
                inbound.kind, inbound.message_id, inbound.channel.key(),
            )  # fmt: skip
        elif result.status == "ignored" and result.reason != "channel not linked":
            metrics.inbound_dropped("slack", "ignored", "event %s: %s", body.get("event_id"), result.reason)
        self.counters[result.status] += 1
        return result

    async def _commit(self, channel: str, events: list[InboundEvent]) -> list[IngestResult | Exception]:
        """One group of a channel's events into the core, ridden out while Redis is away (the
        ingest is idempotent by event key, so a group tried again records each event once)."""
        what = f"{len(events)} event(s) of channel {channel}"
        return await self.hold.ride(lambda: self._chat.ingest_many(events), what=what)

    async def _tell(self, inbound: InboundEvent, event: dict[str, Any], text: str, *, reason: str) -> None:
        user = inbound.author.user_id if inbound.author is not None else str(event.get("user") or "")
        if self.notices is not None and user.startswith(("U", "W")):
            await self.notices.tell(
                inbound.channel.workspace, inbound.channel.channel_id, inbound.message_id, user, text, reason=reason
            )

    def _recent(self, ts: str) -> bool:
        try:
            return time.time() - float(ts) < self._early_edit_window
        except ValueError:
            return False

    async def to_inbound(self, body: dict[str, Any], event: dict[str, Any]) -> InboundEvent | None:
        team = str(body.get("team_id") or event.get("team") or "")
        channel_id = str(event.get("channel") or "")
        if not channel_id or event.get("channel_type") == "im":
            return None
        subtype = event.get("subtype")
        ref = ChannelRef("slack", team, channel_id)
        key = f"slack:{team}:{body.get('event_id') or event.get('event_ts') or event.get('ts')}"
        if subtype == "message_changed":
            message = event.get("message") or {}
            previous = event.get("previous_message") or {}
            # Slack's own captured payloads carry no ``message.ts`` at times (bolt-python
            # tests/scenario_tests_async/test_message_changed.py): the edited message is the one
            # ``previous_message.ts`` names, never the event's own ts
            message = {**message, "ts": message.get("ts") or previous.get("ts")}
            if message.get("subtype") == "tombstone":
                # a deleted thread root that has replies: Slack keeps a tombstone instead of sending
                # message_deleted ("This message was deleted."); it is a delete for the bridge
                if self._own(previous):
                    return None
                return InboundEvent("delete", ref, str(message.get("ts")), key)
            if self._own(message) or message.get("text") == previous.get("text"):
                return None  # our own edit, or only thread metadata changed
            if await self._chat.channel_for(ref) is None:
                return None
            author = await self._author(team, message)
            text = await convert_text(
                self._chat, team=team, text=str(message.get("text") or ""), directory=self._directory
            )
            return InboundEvent("edit", ref, str(message.get("ts")), key, author, text)
        if subtype == "message_deleted":
            previous = event.get("previous_message") or {}
            if self._own(previous):
                return None
            return InboundEvent("delete", ref, str(event.get("deleted_ts")), key)
        if subtype not in MESSAGE_SUBTYPES or self._own(event):
            return None
        if await self._chat.channel_for(ref) is None:
            return None
        author = await self._author(team, event)
        if author is None:
            return None
        text = await convert_text(self._chat, team=team, text=str(event.get("text") or ""), directory=self._directory)
        ts = str(event.get("ts"))
        thread_ts = event.get("thread_ts")
        thread = str(thread_ts) if thread_ts and thread_ts != ts else None  # Slack has one level of threads
        files, lines = slack_files(event.get("files"))
        text = "\n".join([text, *lines]) if text and lines else text or "\n".join(lines)
        broadcast = subtype == "thread_broadcast"
        # the catch-up's anchor (catch_up.LastSeen), moved by the ingest's own script call
        cursor = Cursor(keys.slack_last_seen(team), channel_id, ts)
        return InboundEvent(
            "message", ref, ts, key, author, text, attachments=tuple(files), thread=thread, broadcast=broadcast,
            cursor=cursor,
        )  # fmt: skip

    async def _author(self, team: str, message: dict[str, Any]) -> PlatformUser | None:
        user = message.get("user")
        if user:
            return await self._directory.platform_user(team, str(user))
        bot_id = message.get("bot_id")
        if bot_id:  # another app's post with a custom name
            icons = message.get("icons") or {}
            avatar = icons.get("image_48") or icons.get("image_72")
            name = str(message.get("username") or bot_id)
            return PlatformUser("slack", team, str(bot_id), name, str(avatar) if avatar else None)
        return None
