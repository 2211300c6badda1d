"""A Slack channel's history for ``link <channel> --backfill N`` (the core's :class:`HistorySource`).

Reads https://api.slack.com/methods/conversations.history (newest first, pages of ``limit``, the next
page asked with ``cursor`` = ``response_metadata.next_cursor`` while ``has_more``; see
https://api.slack.com/docs/pagination) until it has the channel's last N messages, then each thread
parent's replies with https://api.slack.com/methods/conversations.replies (paged the same way; its
pages start with the parent, which is left out here by its ``ts`` whether a continuation page
repeats it or not). Both need ``channels:history`` (``groups:history`` for private channels), which
the manifest asks for.

N counts the channel's messages as people see them in the channel (``conversations.history``
items, the bridge's own copies and join messages included); the bridge's copies (posted by this
app: already in the core) and system messages are then left out, and the replies of the threads
among them come on top. Each message becomes an :class:`InboundEvent` through the same conversion as
live events (:meth:`RoomTraffic.to_inbound`: authors through the same directory and identity
mapping, mrkdwn to core markdown, files), so a backfilled message is attributed and written as it
would have been live.

Rate limits: a 429 is waited out (its ``Retry-After``, at most ``max_wait_s`` each time) and the
call retried up to ``retries`` times, each wait logged; then :class:`HistoryError` (transient).
Errors that retrying cannot fix (``channel_not_found``, ``not_in_channel``, ``missing_scope``, ...)
are a permanent :class:`HistoryError` naming Slack's error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.adapters.slack.inbound import RoomTraffic
from bridge.core.ports import ChannelRef, HistoryMessage, HistoryRead, Platform
from bridge.errors import HistoryError

log = logging.getLogger(__name__)

PAGE = 200
"""Messages asked per call: Slack recommends no more than 200 (conversations.history, Pagination)."""
TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})


def ts_ms(ts: str) -> int:
    whole, _, frac = ts.partition(".")
    return int(whole) * 1000 + int((frac + "000")[:3])


class SlackHistory:
    """Pages through one channel's history and threads with a bot-token Web API client."""

    def __init__(
        self,
        client: AsyncWebClient,
        rooms: RoomTraffic,
        *,
        page: int = PAGE,
        retries: int = 5,
        max_wait_s: float = 60.0,
    ) -> None:
        self.client = client
        self.rooms = rooms
        self.page = page
        self.retries = retries
        self.max_wait_s = max_wait_s
        self.calls = 0
        self.waited_s = 0.0
        """Time spent waiting out 429s (for tests and the log)."""

    @property
    def platform(self) -> Platform:
        return "slack"

    async def latest(
        self, channel: ChannelRef, count: int, progress: Callable[[int], None] | None = None
    ) -> HistoryRead:
        if self.rooms.bot_id is None:  # until auth.test answered, the bridge's own copies look like anyone's
            raise HistoryError("the Slack adapter is not connected yet")
        raw = await self.channel_messages(channel.channel_id, count, progress)
        out: list[HistoryMessage] = []
        seen: set[str] = set()
        for message in reversed(raw):  # oldest first
            await self._add(channel, message, out, seen)
            if int(message.get("reply_count") or 0) > 0 and message.get("thread_ts") == message.get("ts"):
                for reply in await self.thread_replies(channel.channel_id, str(message["ts"])):
                    await self._add(channel, reply, out, seen)
                if progress is not None:
                    progress(len(out))
        return HistoryRead(out)

    async def channel_messages(
        self, channel_id: str, count: int, progress: Callable[[int], None] | None = None
    ) -> list[dict[str, Any]]:
        """The newest ``count`` items of ``conversations.history``, newest first."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(found) < count:
            args: dict[str, Any] = {"channel": channel_id, "limit": min(self.page, count - len(found))}
            if cursor:
                args["cursor"] = cursor
            data = await self.call("conversations_history", args)
            found += list(data.get("messages") or [])
            if progress is not None:
                progress(min(len(found), count))
            cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
            if not data.get("has_more") or not cursor:
                break
        return found[:count]

    async def thread_replies(self, channel_id: str, parent_ts: str) -> list[dict[str, Any]]:
        """Every reply of a thread, oldest first (the parent left out)."""
        replies: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            args: dict[str, Any] = {"channel": channel_id, "ts": parent_ts, "limit": self.page}
            if cursor:
                args["cursor"] = cursor
            data = await self.call("conversations_replies", args)
            replies += [m for m in data.get("messages") or [] if m.get("ts") != parent_ts]
            cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
            if not data.get("has_more") or not cursor:
                return replies

    async def _add(
        self, channel: ChannelRef, message: dict[str, Any], out: list[HistoryMessage], seen: set[str]
    ) -> None:
        ts = str(message.get("ts") or "")
        if not ts or ts in seen:  # a broadcast reply is listed in the channel and in its thread
            return
        seen.add(ts)
        event = await self.rooms.to_inbound(
            {"team_id": channel.workspace}, {**message, "channel": channel.channel_id, "channel_type": "channel"}
        )
        if event is not None and event.kind == "message":
            out.append(HistoryMessage(event, ts_ms(ts)))

    async def call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """``name`` is the client's method (``conversations_history``: the Web API's conversations.history)."""
        method = name.replace("_", ".")
        call = getattr(self.client, name)
        for attempt in range(self.retries + 1):
            self.calls += 1
            try:
                response = await call(**args)
                return dict(response.data) if isinstance(response.data, dict) else {}
            except SlackApiError as err:
                error = str(err.response.get("error") or err.response.status_code)
                if err.response.status_code == 429 and attempt < self.retries:
                    wait = min(self.max_wait_s, _retry_after(err.response.headers))
                    log.info("slack %s rate-limited: waiting %.0f s (attempt %d)", method, wait, attempt + 1)
                    self.waited_s += wait
                    await asyncio.sleep(wait)
                    continue
                raise HistoryError(f"Slack {method} answered {error}", permanent=error not in TRANSIENT) from err
            except (aiohttp.ClientError, TimeoutError) as err:
                raise HistoryError(f"Slack {method} unreachable: {err!r}") from err
        raise HistoryError(f"Slack {method} kept answering 429 (ratelimited)")


def _retry_after(headers: Any) -> float:
    for key, value in dict(headers or {}).items():
        if str(key).lower() == "retry-after":
            try:
                return max(0.0, float(value if not isinstance(value, list) else value[0]))
            except (TypeError, ValueError):
                break
    return 1.0
