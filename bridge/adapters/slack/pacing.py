"""Pacing the bridge's Web API calls to Slack's documented limits, so a backlog drains at the allowed
rate instead of in a storm of 429s (each of which would cost the lane a ``Retry-After`` pause).

Slack (https://api.slack.com/apis/rate-limits): limits are "per API method per app per workspace";
``chat.postMessage`` "generally allows posting one message per second per channel, while also
maintaining a workspace-wide limit" (the method's page: several hundred per minute); other methods
have tiers (their reference pages): ``chat.update``, ``chat.delete``, ``reactions.*``,
``conversations.history``/``replies``/``open``, ``files.delete`` Tier 3 (50+ per minute);
``users.info``, ``files.info``, the external-upload steps Tier 4 (100+). The pacer uses the floor of
each range. A 429's ``Retry-After`` empties the bucket it came from until then.

A bucket hands out reservations: a caller takes the next free slot and waits for it, so callers
sharing a bucket (the lanes of one workspace for a tier method) queue in order, and a channel's
posts wait only for that channel's slots (plus the workspace's). The wait happens in the calling
lane; other channels keep their pace.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

TIER_3, TIER_4 = 50 / 60, 100 / 60
"""Calls per second of Tier 3 (50+ per minute) and Tier 4 (100+ per minute)."""

METHOD_RATES: dict[str, float] = {
    "chat_update": TIER_3,
    "chat_delete": TIER_3,
    "reactions_add": TIER_3,
    "reactions_remove": TIER_3,
    "conversations_history": TIER_3,
    "conversations_replies": TIER_3,
    "conversations_open": TIER_3,
    "files_delete": TIER_3,
    "users_info": TIER_4,
    "files_info": TIER_4,
    "files_getUploadURLExternal": TIER_4,
    "files_completeUploadExternal": TIER_4,
}
"""Workspace-wide rates of the methods the bridge calls, by slack_sdk method name."""
POST = "chat_postMessage"
WORKSPACE_POSTS_PER_S = 300 / 60
"""chat.postMessage across the workspace: "several hundred messages per minute" (its page)."""


@dataclass
class Bucket:
    """A token bucket kept as the time its next slot is due (the generic cell rate algorithm)."""

    rate: float
    """Slots per second."""
    burst: int
    """Slots that may be used at once after a quiet spell."""
    due: float = 0.0
    """When the slot after the ones handed out is due, at the steady rate (the clock's time)."""

    @property
    def slack_s(self) -> float:
        return (self.burst - 1) / self.rate

    def reserve(self, now: float, *, take: bool = True) -> float:
        """Seconds until this caller's slot (0: now); with ``take``, the slot is used."""
        send = max(now, self.due - self.slack_s)
        if take:
            self.due = max(self.due, send) + 1 / self.rate
        return send - now

    def block(self, until: float) -> None:
        """Nothing before ``until`` (a 429 said so)."""
        self.due = max(self.due, until + self.slack_s)


class Pacer:
    """Token buckets per (method, channel) for posts and per method for the tiered methods.

    ``speed`` multiplies every rate: only for an emulator whose limits a test or bench runs faster
    (its ``rate_limit_speed``); Slack's own limits never change with it."""

    def __init__(
        self,
        *,
        post_per_s: float = 1.0,
        post_burst: int = 2,
        speed: float = 1.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._base_post_per_s = post_per_s
        self.post_per_s = post_per_s * speed
        self.post_burst = post_burst
        self.speed = speed
        self.clock = clock or time.monotonic
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self.waited_s = 0.0
        """Total seconds callers were held back (for /metrics)."""

    def set_speed(self, speed: float) -> None:
        """Run every rate ``speed`` times faster from now on (see the class docstring)."""
        self.speed = speed
        self.post_per_s = self._base_post_per_s * speed
        self._buckets.clear()

    def _bucket(self, method: str, channel: str) -> Bucket:
        key = (method, channel)
        bucket = self._buckets.get(key)
        if bucket is None:
            if method == POST and channel:
                bucket = Bucket(self.post_per_s, self.post_burst)
            elif method == POST:
                bucket = Bucket(WORKSPACE_POSTS_PER_S * self.speed, 10)
            else:
                rate = METHOD_RATES.get(method)
                if rate is None:
                    raise KeyError(method)
                bucket = Bucket(rate * self.speed, max(1, round(rate * 30)))  # half Slack's burst: a margin
            self._buckets[key] = bucket
        return bucket

    def _buckets_for(self, method: str, channel: str | None) -> list[Bucket]:
        if method == POST:
            return [self._bucket(POST, channel or ""), self._bucket(POST, "")] if channel else [self._bucket(POST, "")]
        return [self._bucket(method, "")] if method in METHOD_RATES else []

    def delay(self, method: str, channel: str | None = None, *, take: bool = True) -> float:
        """Seconds this call must wait; with ``take`` its slots are reserved (then it must be made)."""
        buckets = self._buckets_for(method, channel)
        if not buckets:
            return 0.0
        now = self.clock()
        wait = max(b.reserve(now, take=False) for b in buckets)
        if take:  # every bucket's slot at the latest one's time: no bucket is charged twice
            for b in buckets:
                b.reserve(now + wait)
        return wait

    async def wait(self, method: str, channel: str | None = None) -> None:
        """Wait for this call's slot."""
        wait = self.delay(method, channel)
        if wait > 0:
            self.waited_s += wait
            await asyncio.sleep(wait)

    def blocked(self, method: str, channel: str | None, retry_after: float) -> None:
        """Slack answered 429 with ``Retry-After``: this method (for posts: in this channel) waits."""
        until = self.clock() + max(0.0, retry_after)
        buckets = self._buckets_for(method, channel)
        for b in buckets[:1]:  # a post's 429 is charged to its channel; the workspace's stays shared
            b.block(until)
