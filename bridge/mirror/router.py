"""Router stage: mirror-log partitions in, per-destination outbox jobs out.

Every room event is also appended by the core's write scripts to one partition of the mirror log,
``cb:log:<p>`` with ``p = crc32(channel) % partitions``. A worker owns a fixed set of partitions:
worker ``i`` of ``n`` takes every ``p`` with ``p % n == i``. Each partition therefore has exactly one
consumer at a time (the ``cb-mirror`` group, consumer ``w<i>``), which reads it in order, so each
room's events are routed in order; more partitions and more workers spread rooms over more
processes. Run exactly one process per worker index: at start it claims everything still pending
on its partitions (from a crashed process of the same index, or an old layout) before reading new
entries.

Routing a batch is one Lua script per partition (``mirror_route.lua``): for each entry it reads the
room entry (for ``origin`` and, for edits and deletes, the message they change), the room's links,
and appends a job to the outbox of every linked destination except the origin, then XACKs the log
entry. The script is atomic, so an entry is routed exactly once; its cost grows with the links of
that room only, never with the number of rooms.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from redis.exceptions import ResponseError

from bridge.store import keys
from bridge.store.connection import RedisClient
from bridge.store.scripts import Scripts

log = logging.getLogger(__name__)

Entry = tuple[str, dict[str, str]]


def owned_partitions(partitions: int, worker_index: int, workers: int) -> list[int]:
    """The mirror-log partitions worker ``worker_index`` of ``workers`` reads (``p % workers == index``)."""
    if workers < 1 or not 0 <= worker_index < workers:
        raise ValueError(f"worker index {worker_index} is not in 0..{workers - 1}")
    return [p for p in range(partitions) if p % workers == worker_index]


@dataclass
class RouteResult:
    destinations: list[str] = field(default_factory=list)
    routed: int = 0
    jobs: int = 0
    unroutable: int = 0


async def ensure_group(redis: RedisClient, stream: str) -> None:
    """``XGROUP CREATE <stream> cb-mirror 0 MKSTREAM``; an existing group is fine."""
    try:
        await redis.xgroup_create(stream, keys.MIRROR_GROUP, id="0", mkstream=True)
    except ResponseError as err:
        if "BUSYGROUP" not in str(err):
            raise


async def claim_all(redis: RedisClient, stream: str, consumer: str, batch: int) -> int:
    """Take over every pending entry of ``stream`` (whoever read it) so this consumer re-reads it
    in order with ``XREADGROUP ... 0``; returns how many were claimed."""
    start, total = "0-0", 0
    while True:
        reply = await redis.xautoclaim(
            stream, keys.MIRROR_GROUP, consumer, min_idle_time=0, start_id=start, count=batch
        )
        start, claimed = str(reply[0]), reply[1]
        total += len(claimed)
        if start == "0-0":
            return total


class Router:
    def __init__(
        self,
        *,
        redis: RedisClient,
        blocking: RedisClient,
        scripts: Scripts,
        partitions: list[int],
        consumer: str,
        show_join_leave: bool,
        batch: int = 256,
        block_ms: int = 1000,
    ) -> None:
        self.redis = redis
        self.blocking = blocking
        self.scripts = scripts
        self.partitions = partitions
        self.consumer = consumer
        self.show_join_leave = show_join_leave
        self.batch = batch
        self.block_ms = block_ms
        self.logs = {keys.mirror_log(p): p for p in partitions}
        self._recovering = True

    async def setup(self) -> None:
        for stream in self.logs:
            await ensure_group(self.redis, stream)

    def recover(self) -> None:
        """Re-read this consumer's pending entries before new ones (after a failed routing call)."""
        self._recovering = True

    async def read(self, *, block: bool) -> list[tuple[str, list[Entry]]]:
        """The next batch per partition: pending ones first after a (re)start, then new ones."""
        if not self.logs:
            return []
        if self._recovering:
            for stream in self.logs:
                await claim_all(self.redis, stream, self.consumer, self.batch)
            pending = await self.redis.xreadgroup(
                keys.MIRROR_GROUP, self.consumer, dict.fromkeys(self.logs, "0"), count=self.batch
            )
            found = [(str(s), list(e)) for s, e in pending or [] if e]
            if found:
                return found
            self._recovering = False
        client = self.blocking if block else self.redis
        raw = await client.xreadgroup(
            keys.MIRROR_GROUP,
            self.consumer,
            dict.fromkeys(self.logs, ">"),
            count=self.batch,
            block=self.block_ms if block else None,
        )
        return [(str(s), list(e)) for s, e in raw or [] if e]

    async def read_until(self, stop: asyncio.Event) -> list[tuple[str, list[Entry]]] | None:
        """A blocking :meth:`read`, given up (None) as soon as ``stop`` is set."""
        task = asyncio.ensure_future(self.read(block=True))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled from outside: the read must not outlive the worker
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise
        finally:
            stopper.cancel()
        if task in done:
            result: list[tuple[str, list[Entry]]] = task.result()
            return result
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return None

    async def route(self, stream: str, entries: list[Entry]) -> RouteResult:
        """Fan one partition's batch out to outboxes and XACK it (one script call)."""
        args: list[str] = [
            stream,
            keys.MIRROR_GROUP,
            keys.CHANNEL_PREFIX,
            keys.ROOM_LINKS_PREFIX,
            keys.OUTBOX_PREFIX,
            keys.OUTBOXES,
            str(self.logs[stream]),
            "1" if self.show_join_leave else "0",
            keys.MESSAGE_PREFIX,
            keys.mirror_map(""),
        ]
        for log_id, fields in entries:
            if not fields:  # deleted from the log while pending: nothing to route, just ack
                fields = {"channel": "", "type": "gone", "id": "0-0"}
            args += [log_id, fields.get("channel", ""), fields.get("type", ""), fields.get("id", "0-0")]
        reply = await self.scripts.mirror_route(keys=[], args=args, client=self.redis)
        cut = reply.index("|")
        routed, jobs, lost = (int(x) for x in reply[cut + 1 : cut + 4])
        if lost:
            log.warning("%s: %d room event(s) could not be routed (room entry trimmed)", stream, lost)
        return RouteResult([str(d) for d in reply[:cut]], routed, jobs, lost)
