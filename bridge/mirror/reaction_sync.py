"""Delivery of reactions: reconcile the bot's reactions on one copy of a message with the core's state.

A ``reaction`` job says only *which message* changed. Its lane reads, when it runs, who reacts
with what (``bridge.core.reactions``), works out the emoji the bot's reaction should stand for on
this copy (someone outside this channel reacted with it) and what it applied here before
(``keys.reactions_applied``), and makes just the calls that close the gap, recording each one after
the platform accepted it. See ``bridge.core.reactions`` for why this converges under retries,
duplicates and reordering; the platform calls themselves are paced by the adapters (Discord
allows about one reaction per 0.25 s per channel) and a 429 is retried by the lane.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bridge import metrics
from bridge.core.ports import ChannelRef, Destination
from bridge.core.reactions import standing, wanted
from bridge.mirror.idmap import IdMap
from bridge.store import keys
from bridge.store.connection import RedisClient

log = logging.getLogger(__name__)
_SEP = "\t"


@dataclass(frozen=True)
class Reconciled:
    calls: int = 0
    skipped: str = ""
    """Why nothing could be done here (``message_gone``, ``never_mirrored``), else ''."""


async def target_id(redis: RedisClient, idmap: IdMap, core_id: str, ref: ChannelRef) -> str | None:
    """The platform id of the message's copy on ``ref`` (its first part), or of the original when
    it was written there."""
    ids = await idmap.ids(core_id, ref)
    if ids:
        return ids[0]
    origin, origin_id = await redis.hmget(keys.message(core_id), "origin_channel", "origin_id")
    return str(origin_id) if origin == ref.key() and origin_id else None


async def reconcile(
    *, redis: RedisClient, idmap: IdMap, destination: Destination, ref: ChannelRef, core_id: str
) -> Reconciled:
    if not await redis.exists(keys.message(core_id)):
        return Reconciled(skipped="message_gone")
    pid = await target_id(redis, idmap, core_id, ref)
    if pid is None:
        return Reconciled(skipped="never_mirrored")
    dest = ref.key()
    raw: dict[str, str] = await redis.hgetall(keys.reactions(core_id))
    want = wanted(standing(raw), dest)
    applied_raw: dict[str, str] = await redis.hgetall(keys.reactions_applied(core_id))
    applied = {f.split(_SEP, 1)[1]: v for f, v in applied_raw.items() if f.startswith(dest + _SEP)}
    calls = 0
    applied_key = keys.reactions_applied(core_id)
    for emoji, value in applied.items():
        if emoji in want:
            continue
        if value == "1":
            await destination.react(ref, pid, emoji, add=False)
            calls += 1
        await redis.hdel(applied_key, dest + _SEP + emoji)
    for emoji in want:
        if emoji in applied:
            continue
        ok = await destination.react(ref, pid, emoji, add=True)
        calls += 1
        await redis.hset(applied_key, dest + _SEP + emoji, "1" if ok else "0")
        if not ok:
            metrics.delivery(ref.platform, f"{ref.workspace}:{ref.channel_id}", "dropped", "emoji_unavailable")
            log.warning("%s: reaction %s on %s not mirrored: %s has no such emoji", dest, emoji, core_id, ref.platform)
    return Reconciled(calls)
