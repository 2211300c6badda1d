"""When the app is back in a linked Slack channel: take in what was said there while it was out.

Slack sends no events for a channel the app is not in (api.slack.com/apis/events-api: events are
delivered for conversations the app is a member of), so what is said while someone has removed the
app is never delivered, and joining again does not replay it. So after :class:`ChannelAccess` joined
a channel again (``on_rejoined``), the channel's history since the last message the adapter took in
there (``keys.slack_last_seen``, noted by :class:`LastSeen` for every message the live path takes in)
is read with https://api.slack.com/methods/conversations.history ``oldest`` = that ``ts``
(exclusive), oldest first, and each message goes through the live inbound path
(:meth:`RoomTraffic.handle`): converted, attributed and mirrored as if it had come live. Exactly
once: the core never records the same platform message twice (``cb:pmsg:*`` in ``_post.lua``,
whatever the event key), so a message both read here and received live, or read twice, is a
duplicate. The bridge's own copies are skipped there as live ones are.

What is not recovered: replies in threads (only channel-level messages are listed; thread replies
sent to the channel too are), edits and deletes of older messages, and a channel where nothing was
ever taken in (no anchor: nothing is known to have been missed). A history that cannot be read is
reported (WARNING + ``inbound_dropped`` ``catch_up_failed``), never silence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis_async

from bridge import metrics
from bridge.adapters.slack.history import SlackHistory
from bridge.adapters.slack.inbound import RoomTraffic
from bridge.store import keys

log = logging.getLogger(__name__)


class LastSeen:
    """The newest message ``ts`` taken in per Slack channel (``keys.slack_last_seen``)."""

    def __init__(self, redis: redis_async.Redis) -> None:
        self.redis = redis

    async def note(self, team: str, channel: str, ts: str) -> None:
        """One HSET: a channel's events are taken in one at a time, in order (``RoomTraffic``)."""
        await self.redis.hset(keys.slack_last_seen(team), channel, ts)

    async def of(self, team: str, channel: str) -> str | None:
        found = await self.redis.hget(keys.slack_last_seen(team), channel)
        return str(found) if found else None


@dataclass
class CatchUpResult:
    channel: str
    messages: int = 0
    """Messages read and handed to the live path (duplicates and the bridge's own copies included)."""
    failed: bool = False


class SlackCatchUp:
    def __init__(self, *, history: SlackHistory, rooms: RoomTraffic, last_seen: LastSeen) -> None:
        self.history = history
        self.rooms = rooms
        self.last_seen = last_seen
        self.team = ""
        """Set by the adapter once ``auth.test`` answered."""
        self.runs: list[CatchUpResult] = []
        """Finished catch-ups (bounded), for tests and health."""

    async def on_rejoined(self, channel: str) -> None:
        """``ChannelAccess`` joined ``channel`` again: read and take in what was said meanwhile."""
        result = CatchUpResult(channel)
        try:
            anchor = await self.last_seen.of(self.team, channel)
            if anchor is None:
                log.info("slack: channel %s: nothing taken in there yet, so nothing to catch up", channel)
                return
            for message in await self._since(channel, anchor):
                result.messages += 1
                metrics.inbound_event("slack", "caught_up")
                await self.rooms.handle(
                    {"team_id": self.team}, {**message, "channel": channel, "channel_type": "channel"}
                )
            log.info("slack: channel %s: caught up %d message(s) said while the app was out", channel, result.messages)
        except Exception as err:  # HistoryError, Redis away, ...: the operator is told, the delivery goes on
            result.failed = True
            metrics.inbound_dropped(
                "slack", "catch_up_failed",
                "channel %s: what was said there while the app was out of it could not be read (%s)", channel, err,
            )  # fmt: skip
        finally:
            self.runs.append(result)
            del self.runs[:-50]

    async def _since(self, channel: str, oldest: str) -> list[dict[str, Any]]:
        """Every channel-level message after ``oldest`` (exclusive), oldest first."""
        found: list[dict[str, Any]] = []
        cursor = ""
        while True:
            args: dict[str, Any] = {"channel": channel, "oldest": oldest, "limit": self.history.page}
            if cursor:
                args["cursor"] = cursor
            data = await self.history.call("conversations_history", args)
            found += list(data.get("messages") or [])
            cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
            if not data.get("has_more") or not cursor:
                return sorted(found, key=lambda m: float(m.get("ts") or 0))
