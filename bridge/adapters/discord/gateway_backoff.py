"""discord.py's gateway reconnect backoff, bounded.

``Client.connect`` reconnects a dropped gateway with ``discord.backoff.ExponentialBackoff``: a random
delay in [0, 2^n] seconds, n growing by one per failure up to 10, and only reset after 2^11 s
(34 min) without a failure, never by a successful connection. A bridge that lives through a few
flaky minutes therefore ends up waiting up to 17 minutes before its next reconnect attempt, and
messages said on Discord meanwhile arrive that late (bench/soak.py measured it: p95 112 s, and
the last messages of a run still missing after 3 minutes of draining).

:func:`install` replaces the class ``connect`` uses (``discord.client.ExponentialBackoff``, looked
up each time ``connect`` starts, process-wide like ``endpoints.apply_endpoints``) by one whose delay
is capped at ``cap_s`` and whose exponent starts again after each successful connection
(:func:`connected`, called on READY/RESUMED).
"""

from __future__ import annotations

import time
from typing import ClassVar

import discord.client
import discord.shard
from discord.backoff import ExponentialBackoff


class CappedBackoff(ExponentialBackoff[bool]):
    cap_s: ClassVar[float] = 300.0
    up_since: ClassVar[float] = 0.0

    def delay(self) -> float:
        if self._last_invocation < CappedBackoff.up_since:
            self._exp = 0  # connected since the last failure: start from a short delay again
        return float(min(super().delay(), CappedBackoff.cap_s))


def install(cap_s: float) -> None:
    CappedBackoff.cap_s = cap_s
    for module in (discord.client, discord.shard):  # both import the name at module level
        vars(module)["ExponentialBackoff"] = CappedBackoff


def connected() -> None:
    CappedBackoff.up_since = time.monotonic()
