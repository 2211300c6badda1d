"""The Slack threads of a linked channel that the core knows to be recently active: where a catch-up
looks for replies said while the app was out of the channel in threads rooted before that gap.

``conversations.history`` lists channel-level messages only, with ``reply_count`` / ``latest_reply``
on a root (https://api.slack.com/methods/conversations.history), so a root posted during the gap
shows its new replies, but a root posted before the anchor is not listed at all: its replies in the
gap are found only by asking ``conversations.replies`` for that root. Slack cannot list "threads
with replies since T", so the catch-up asks for the threads the core has seen active lately:

- the core channel's stream is read newest first (``XREVRANGE``) back :data:`ACTIVE_DAYS` days, at
  most :data:`SCAN` entries; every message there that is in a thread (``thread`` in its hash: a
  reply, or a root that has replies) names its root. Roots come out most recently active first;
- each root's ``ts`` in this Slack channel: the message's own ``origin_id`` when it came from here,
  else the ts of the bridge's copy (``keys.mirror_map``), else the thread's home here
  (``keys.thread_home``, which outlives a deleted root's copy); a root with none is not here;
- at most :data:`CAP` roots are returned; the rest are counted as skipped (logged by the catch-up).

Why these bounds: each root costs one ``conversations.replies`` call, Tier 3 (50+ per minute per
workspace, ``pacing.py``), shared with the live path's other Tier 3 calls; 50 roots is about a
minute of that budget at worst (the pacer's burst takes the first ~25 at once). A thread quiet for
a week rarely gets a reply during a gap that lasts minutes or hours (an app removed and put back),
and the scan bound keeps the Redis read small (one pipelined ``HMGET`` per entry read).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis.asyncio as redis_async

from bridge.core.ports import ChannelRef
from bridge.store import keys

ACTIVE_DAYS = 7
"""How far back a thread's last message may lie for its replies to be looked for."""
SCAN = 2_000
"""Most core stream entries read to find them (newest first)."""
CAP = 50
"""Most threads asked for per catch-up (one Tier 3 call each)."""


@dataclass
class KnownThreads:
    roots: list[str]
    """Slack ``ts`` of the roots to ask, most recently active first."""
    skipped: int = 0
    """Active roots left out by :data:`CAP`."""


async def recent_roots(
    redis: redis_async.Redis,
    ref: ChannelRef,
    core_channel: str,
    *,
    days: float = ACTIVE_DAYS,
    scan: int = SCAN,
    cap: int = CAP,
) -> KnownThreads:
    """The roots in Slack channel ``ref`` of the threads of ``core_channel`` active in the last ``days``."""
    since_ms = int((time.time() - days * 86_400) * 1000)
    entries = await redis.xrevrange(keys.channel(core_channel), "+", str(since_ms), count=scan) or []
    ids = [str(eid) for eid, fields in entries if (fields or {}).get("type") == "message"]
    async with redis.pipeline(transaction=False) as pipe:
        for eid in ids:
            pipe.hget(keys.message(eid), "thread")
        threads = await pipe.execute()
    order: list[str] = []
    for thread in threads:
        if thread and str(thread) not in order:
            order.append(str(thread))
    found = await _slack_ts(redis, ref, order)
    roots = [ts for ts in found if ts]
    return KnownThreads(roots[:cap], max(0, len(roots) - cap))


async def _slack_ts(redis: redis_async.Redis, ref: ChannelRef, roots: list[str]) -> list[str | None]:
    """Each core root's ``ts`` in ``ref`` (None: the thread is not in that channel)."""
    here = ref.key()
    async with redis.pipeline(transaction=False) as pipe:
        for root in roots:
            pipe.hmget(keys.message(root), ["origin_channel", "origin_id"])
            pipe.hget(keys.mirror_map(root), here)
            pipe.get(keys.thread_home(here, root))
        raw = await pipe.execute()
    out: list[str | None] = []
    for i in range(len(roots)):
        (origin_channel, origin_id), copies, home = raw[3 * i], raw[3 * i + 1], raw[3 * i + 2]
        if origin_channel == here and origin_id:
            out.append(str(origin_id))
            continue
        ids = json.loads(copies) if copies else []
        out.append(str(ids[0]) if ids else str(home) if home else None)
    return out
