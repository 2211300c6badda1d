"""Telling a sender that something they posted did not cross, without flooding them.

Every adapter has a way to reach the person who posted in a room (Slack: an ephemeral message in
that channel; Discord: a ⚠️ reaction on their message and a DM). What they are told and when is
decided here, the same way for both: at most ``burst`` notices per person per ``window_s`` seconds
and never two for the same message and reason. A notice held back by the limit is still counted
(``chatbridge_sender_notices_total{outcome="limited"}``) and the drop itself was already logged at
WARNING by ``metrics.inbound_dropped`` or the delivery lane, so an operator sees every case.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import Counter

from bridge import metrics

log = logging.getLogger(__name__)

SENDER_NOTICES = Counter(
    "chatbridge_sender_notices_total",
    "Notices to senders that something did not cross, by outcome: sent, limited, failed.",
    ["platform", "outcome"],
    registry=metrics.REGISTRY,
)


@dataclass
class NoticeGate:
    """Sliding-window limit on notices per (platform, workspace, user), plus a per-message dedupe."""

    burst: int = 3
    window_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _sent: dict[tuple[str, str, str], collections.deque[float]] = field(default_factory=dict)
    _told: collections.OrderedDict[str, None] = field(default_factory=collections.OrderedDict)

    def allow(self, platform: str, workspace: str, user_id: str, about: str) -> bool:
        """True when a notice ``about`` (a message id + reason) may go to this user now."""
        if about in self._told:
            return False
        now = self.clock()
        recent = self._sent.setdefault((platform, workspace, user_id), collections.deque())
        while recent and now - recent[0] > self.window_s:
            recent.popleft()
        if len(recent) >= self.burst:
            return False
        recent.append(now)
        self._told[about] = None
        while len(self._told) > 10_000:
            self._told.popitem(last=False)
        return True


Send = Callable[[str, str, str, str], Awaitable[None]]
"""``deliver(channel_id, message_id, user_id, text)``: reach one person about one of their messages."""


class SenderNotices:
    """One platform's notices: ``deliver(channel_id, message_id, user_id, text)`` reaches the person
    the platform's way; :meth:`tell` applies the gate and never raises (a notice is best effort:
    the failure to cross is already on record)."""

    def __init__(self, platform: str, deliver: Send, gate: NoticeGate | None = None) -> None:
        self.platform = platform
        self._deliver = deliver
        self.gate = gate or NoticeGate()
        self.sent: list[tuple[str, str, str]] = []
        """(user id, message id, text) of the notices sent (bounded), for health checks and tests."""

    async def tell(
        self, workspace: str, channel_id: str, message_id: str, user_id: str, text: str, *, reason: str
    ) -> bool:
        if not user_id or not self.gate.allow(self.platform, workspace, user_id, f"{message_id}:{reason}"):
            SENDER_NOTICES.labels(platform=self.platform, outcome="limited").inc()
            return False
        try:
            await self._deliver(channel_id, message_id, user_id, text)
        except Exception:
            SENDER_NOTICES.labels(platform=self.platform, outcome="failed").inc()
            log.warning("could not tell %s user %s about %s", self.platform, user_id, message_id, exc_info=True)
            return False
        SENDER_NOTICES.labels(platform=self.platform, outcome="sent").inc()
        self.sent.append((user_id, message_id, text))
        del self.sent[:-200]
        return True
