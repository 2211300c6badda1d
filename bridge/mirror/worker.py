"""The durable fan-out worker: mirror-log partitions -> router -> per-destination lanes -> adapters.

Two stages (see :mod:`bridge.mirror.router` and :mod:`bridge.mirror.delivery`):

1. the router blocks on ``XREADGROUP`` over the partitions this worker owns (worker ``i`` of ``n``
   owns ``p % n == i``, so each partition, hence each room, has one reader at a time and stays in
   order) and, in one Lua script per batch, appends a job to the outbox of every linked destination
   except the origin and XACKs the log entries;
2. one lane per destination drains its outbox in order through the adapter registered for its
   platform, with retries, ``retry_after``, dead letters, and an idempotency record + id map + XACK
   written in one script after each platform call.

Nothing is lost across a crash: log entries stay pending until routed, outbox entries until
delivered or dead-lettered, and both are claimed again at start. Delivery is at-least-once at the
platform call; the idempotency record makes a redelivered job a no-op once it has been recorded
(the only window for a duplicate is a crash between the platform's answer and that record).
Retention: the core caps each log partition (``mirror_log_maxlen``); lanes trim acknowledged
outbox entries (``XTRIM MINID``); idempotency records expire after ``idempotency_ttl_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any

from redis.exceptions import RedisError

from bridge import metrics as prom
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, Destination
from bridge.core.users import Users
from bridge.health import PartHealth, StateClock
from bridge.mirror.delivery import DeadHook, DeliveryConfig, Lane, entry_ms
from bridge.mirror.idmap import IdMap, ScriptBatcher
from bridge.mirror.lanestate import Authors, LaneStats, PlatformHealth, backoff, log_partition_stats
from bridge.mirror.router import Router, RouteResult, ensure_group, owned_partitions
from bridge.store import keys
from bridge.store.connection import RedisClient, blocking_client, connect
from bridge.store.scripts import Scripts

log = logging.getLogger(__name__)

STALLED = "no backlog refresh"
COUNTERS = ("log_entries_routed", "jobs_enqueued", "unroutable", "no_adapter", "redis_errors")


class Worker:
    def __init__(
        self,
        *,
        chat: Chat,
        redis_url: str,
        destinations: Mapping[str, Destination],
        worker_index: int = 0,
        workers: int = 1,
        max_attempts: int = 8,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 60.0,
        outage_hold_s: float = 3600.0,
        call_timeout_s: float | None = 300.0,
        route_batch: int = 256,
        delivery_batch: int = 64,
        block_ms: int = 1000,
        idle_exit_s: float = 30.0,
        idempotency_ttl_s: int = 7 * 24 * 3600,
        metrics_interval_s: float = 5.0,
        shutdown_grace_s: float = 10.0,
        redis_connections: int = 32,
        display_cache_s: float = 30.0,
        on_dead: DeadHook | None = None,
    ) -> None:
        settings = chat.ctx.settings
        self.chat = chat
        self.redis_url = redis_url
        self.destinations = dict(destinations)
        self.index = worker_index
        self.workers = workers
        self.partitions = owned_partitions(settings.mirror_partitions, worker_index, workers)
        self.consumer = f"w{worker_index}"
        self.config = DeliveryConfig(
            consumer=self.consumer,
            max_attempts=max(1, max_attempts),
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            outage_hold_s=outage_hold_s,
            call_timeout_s=call_timeout_s,
            batch=delivery_batch,
            show_join_leave=settings.show_join_leave,
            wait_replicas=settings.wait_replicas,
            wait_timeout_ms=settings.wait_timeout_ms,
        )
        self.route_batch = route_batch
        self.block_ms = block_ms
        self.idle_exit_s = idle_exit_s
        self.idempotency_ttl_s = idempotency_ttl_s
        self.metrics_interval_s = metrics_interval_s
        self.shutdown_grace_s = shutdown_grace_s
        self.redis_connections = redis_connections
        self.display_cache_s = display_cache_s
        self.on_dead = on_dead
        self._users_view: Users | None = None
        self._authors_cache: Authors | None = None
        self._batchers: dict[str, ScriptBatcher] = {}
        self._health: dict[str, PlatformHealth] = {}
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.stats: dict[str, LaneStats] = {}
        self.log_stats: dict[str, dict[str, int]] = {}
        self._lanes: dict[str, tuple[Lane, asyncio.Task[None]]] = {}
        self._recover: dict[str, int] = {}
        """Destinations whose next lane first reclaims pending jobs (found at start, or after a crash)."""
        self._halt = asyncio.Event()
        self._running = False
        self._state = StateClock("worker", detail="not started")
        self._refreshed_at: float | None = None

    # --- public API --------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Route and deliver until ``stop`` is set; then let lanes finish their current job."""
        if not self.partitions:
            log.warning(
                "mirror worker %d of %d owns no partition (there are %d): it has nothing to do",
                self.index,
                self.workers,
                self.chat.ctx.settings.mirror_partitions,
            )
            await stop.wait()
            return
        redis, blocking = self._client(), blocking_client(self.redis_url)
        router, refresher = self._router(redis, blocking), None
        self._running = True
        self._state.set(True, "running")
        self._reset()
        try:
            refresher = asyncio.create_task(self._refresh_loop(redis, stop), name="mirror-metrics")
            failures, scan = 0, True
            while not stop.is_set():
                try:
                    if scan:  # at start, and after Redis was unreachable (a routing reply may be lost)
                        await self._scan(redis, router, idle_exit=self.idle_exit_s)
                        scan = False
                    batches = await router.read_until(stop)
                    if batches is None:
                        break
                    for stream, entries in batches:
                        result = await router.route(stream, entries)
                        self._dispatch(result, router.logs[stream], redis, router, self.idle_exit_s)
                    if failures:
                        self._state.set(True, "running")
                    failures = 0
                except (RedisError, OSError, TimeoutError) as err:  # an outage of any length is waited out
                    failures += 1
                    self._state.set(False, f"cannot read the mirror log: {err or type(err).__name__}")
                    self.counters["redis_errors"] += 1
                    log.warning("mirror router: redis error (retrying): %s", err)
                    router.recover()
                    scan = True
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), backoff(failures, 0.1, 5.0))
        finally:
            self._running = False
            self._state.set(False, "stopped")
            if refresher is not None:
                refresher.cancel()
                await asyncio.gather(refresher, return_exceptions=True)
            await self._shutdown(self.shutdown_grace_s)
            await redis.aclose()
            await blocking.aclose()

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 (the API the tests and bench call)
        """Burst mode: route and deliver until this worker's log partitions and outboxes are empty
        and acknowledged (lanes exit as soon as their outbox is empty); TimeoutError otherwise."""
        redis = self._client()
        router = self._router(redis, redis)
        deadline = time.monotonic() + timeout
        self._reset()
        try:
            await self._scan(redis, router, idle_exit=0)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"mirror worker not drained after {timeout}s: {self.backlog()}")
                batches = await router.read(block=False)
                if batches:
                    for stream, entries in batches:
                        self._dispatch(await router.route(stream, entries), router.logs[stream], redis, router, 0)
                    continue
                alive = [task for _, task in self._lanes.values() if not task.done()]
                if not alive:  # a lane that failed left its outbox unfinished: it gets a new lane
                    for dest, partition in list(self._recover.items()):
                        self._wake(dest, partition, redis, router, 0)
                    alive = [task for _, task in self._lanes.values() if not task.done()]
                    if not alive:
                        return
                await asyncio.wait(alive, timeout=min(left, 0.05))
        finally:
            await self._shutdown(0)
            await redis.aclose()

    def metrics(self) -> dict[str, Any]:
        """Counters since start, per-destination state and backlog, and mirror-log lag per partition."""
        now = int(time.time() * 1000)
        totals = {
            "delivered": 0,
            "retries": 0,
            "rate_limited": 0,
            "held": 0,
            "dead_lettered": 0,
            "skipped": 0,
            "duplicates": 0,
        }
        by_type: dict[str, int] = {}
        for st in self.stats.values():
            for name in totals:
                totals[name] += int(getattr(st, name))
            for kind, count in st.by_type.items():
                by_type[kind] = by_type.get(kind, 0) + count
        return {
            "worker": {"index": self.index, "workers": self.workers, "partitions": self.partitions},
            "running": self._running,
            **self.counters,
            **totals,
            "delivered_by_type": by_type,
            "lanes_active": sum(1 for _, task in self._lanes.values() if not task.done()),
            "destinations": {dest: st.snapshot(now) for dest, st in sorted(self.stats.items())},
            "log": dict(self.log_stats),
        }

    def health(self) -> PartHealth:
        """Alive (routing loop running and reading Redis) and how far behind: ``oldest_waiting_s``
        (the oldest entry still in any destination's outbox) and ``log_lag`` (mirror-log entries
        not yet routed), as of the last refresh (``refreshed_at``)."""
        now_ms = int(time.time() * 1000)
        if self._running and self._refreshed_at is not None:
            # quiet since the last refresh, or since the worker came back (a Redis outage it rode out)
            quiet = now_ms / 1000 - max(self._refreshed_at, self._state.since if self._state.ok else 0.0)
            if quiet > max(30.0, 6 * self.metrics_interval_s):
                if self._state.ok:  # a worker already down says why (e.g. it cannot read the mirror log)
                    self._state.set(False, f"{STALLED} for {quiet:.0f}s (Redis too slow, or the worker stuck)")
            elif self._state.detail.startswith(STALLED):
                self._state.set(True, "running")
        ages = [now_ms - st.oldest_ms for st in self.stats.values() if st.oldest_ms and st.backlog]
        return self._state.snapshot(
            oldest_waiting_s=round(max(ages) / 1000, 3) if ages else 0.0,
            backlog=sum(st.backlog for st in self.stats.values()),
            log_lag=sum(s["lag"] for s in self.log_stats.values()),
            lanes_active=sum(1 for _, task in self._lanes.values() if not task.done()),
            lanes_held=sorted(dest for dest, st in self.stats.items() if st.state == "held"),
            refreshed_at=round(self._refreshed_at, 3) if self._refreshed_at else None,
        )

    def backlog(self) -> dict[str, int]:
        """Destinations with a lane still running, and their last known outbox length."""
        return {dest: self.stats[dest].backlog for dest, (_, task) in self._lanes.items() if not task.done()}

    async def refresh_metrics(self, redis: RedisClient | None = None) -> None:
        """Read outbox lengths, the age of their oldest entry, and log-partition lag/pending from
        Redis into :meth:`metrics` (``run`` does it every ``metrics_interval_s``)."""
        client = redis or self.chat.ctx.redis
        dests = [d for d, st in self.stats.items() if st.backlog or d in self._lanes]
        async with client.pipeline(transaction=False) as pipe:
            for dest in dests:
                pipe.xlen(keys.outbox(dest))
                pipe.xrange(keys.outbox(dest), count=1)
            for p in self.partitions:
                pipe.xinfo_groups(keys.mirror_log(p))
                pipe.xinfo_stream(keys.mirror_log(p))
            raw = await pipe.execute(raise_on_error=False)
        for i, dest in enumerate(dests):
            length, first = raw[2 * i], raw[2 * i + 1]
            if isinstance(length, int):
                self.stats[dest].backlog = length
            if isinstance(first, list):
                self.stats[dest].oldest_ms = entry_ms(first[0][0]) if first else 0
        tail = raw[2 * len(dests) :]
        for p, groups, info in zip(self.partitions, tail[::2], tail[1::2], strict=True):
            for group in groups if isinstance(groups, list) else []:
                if group.get("name") == keys.MIRROR_GROUP:
                    self._log_partition_stats(p, group, info if isinstance(info, dict) else {})
        self._export()
        self._refreshed_at = time.time()

    def _export(self) -> None:
        """Backlog, oldest age and log lag into the Prometheus gauges (per destination, per partition)."""
        now_ms = int(time.time() * 1000)
        for dest, st in self.stats.items():
            platform, channel = _dest_labels(dest)
            prom.BACKLOG.labels(platform=platform, channel=channel).set(st.backlog)
            age = (now_ms - st.oldest_ms) / 1000 if st.oldest_ms and st.backlog else 0.0
            prom.OLDEST_AGE.labels(platform=platform, channel=channel).set(max(0.0, age))
        for partition, stats in self.log_stats.items():
            prom.MIRROR_LOG_LAG.labels(partition=partition).set(stats["lag"])
            prom.MIRROR_LOG_PENDING.labels(partition=partition).set(stats["pending"])

    def _log_partition_stats(self, partition: int, group: dict[str, Any], info: dict[str, Any]) -> None:
        stats = log_partition_stats(group, info)
        if stats["lost"] and not self.log_stats.get(str(partition), {}).get("lost"):
            log.error(
                "mirror log partition %d: entries were trimmed before they were routed (raise mirror_log_maxlen "
                "or add workers); those room events were not mirrored",
                partition,
            )
        self.log_stats[str(partition)] = stats

    # --- internals ---------------------------------------------------------------------------------
    def _client(self) -> RedisClient:
        """The worker's non-blocking client: ``connect()``'s settings on a bounded, blocking pool, so
        thousands of busy lanes share ``redis_connections`` connections instead of opening one each."""
        return connect(self.redis_url, max_connections=self.redis_connections)

    def _users(self, redis: RedisClient) -> Users:
        """The core's user service on the worker's own (bounded) connection pool."""
        if self._users_view is None or self._users_view.ctx.redis is not redis:
            self._users_view = Users(dataclasses.replace(self.chat.ctx, redis=redis))
        return self._users_view

    def _authors(self, redis: RedisClient) -> Authors:
        if self._authors_cache is None or self._authors_cache.users.ctx.redis is not redis:
            self._authors_cache = Authors(self._users(redis), ttl=self.display_cache_s)
        return self._authors_cache

    def _batcher(self, redis: RedisClient, router: Router, name: str) -> ScriptBatcher:
        """One batcher per script and client: the outbox reads, and the commits, that lanes issue in
        the same loop turn share a pipeline."""
        current = self._batchers.get(name)
        if current is None or current.redis is not redis:
            script = router.scripts.mirror_take if name == "take" else router.scripts.mirror_commit
            current = self._batchers[name] = ScriptBatcher(redis, script)
        return current

    def _router(self, redis: RedisClient, blocking: RedisClient) -> Router:
        return Router(
            redis=redis,
            blocking=blocking,
            scripts=Scripts.load(redis),
            partitions=self.partitions,
            consumer=self.consumer,
            show_join_leave=self.config.show_join_leave,
            batch=self.route_batch,
            block_ms=self.block_ms,
        )

    def _reset(self) -> None:
        self._halt = asyncio.Event()
        self._recover.clear()

    async def _scan(self, redis: RedisClient, router: Router, *, idle_exit: float) -> None:
        """Create the groups, then start a lane (that first reclaims pending jobs) for every owned
        outbox that still holds entries and has no lane running."""
        await router.setup()
        registry: dict[str, str] = await redis.hgetall(keys.OUTBOXES)
        mine = [(d, int(p)) for d, p in registry.items() if p.isdigit() and int(p) in self.partitions]
        async with redis.pipeline(transaction=False) as pipe:
            for dest, _ in mine:
                pipe.xlen(keys.outbox(dest))
            lengths = await pipe.execute()
        for (dest, part), length in zip(mine, lengths, strict=True):
            if length:
                await ensure_group(redis, keys.outbox(dest))
                current = self._lanes.get(dest)
                if current is None or current[1].done():
                    self._recover[dest] = part
                self._wake(dest, part, redis, router, idle_exit)

    def _dispatch(
        self, result: RouteResult, partition: int, redis: RedisClient, router: Router, idle_exit: float
    ) -> None:
        self.counters["log_entries_routed"] += result.routed
        self.counters["jobs_enqueued"] += result.jobs
        self.counters["unroutable"] += result.unroutable
        for dest in result.destinations:
            self._wake(dest, partition, redis, router, idle_exit)

    def _wake(self, dest: str, partition: int, redis: RedisClient, router: Router, idle_exit: float) -> None:
        """Wake the lane of a destination, starting it if it is not running."""
        current = self._lanes.get(dest)
        if current is not None and not current[1].done():
            current[0].wake.set()
            return
        try:
            ref = ChannelRef.parse(dest)
        except ValueError:
            log.warning("ignoring outbox of an unparsable destination %r", dest)
            return
        adapter = self.destinations.get(ref.platform)
        if adapter is None:
            self.counters["no_adapter"] += 1
            log.debug("no adapter for %s: its outbox waits", dest)
            return
        stats = self.stats.setdefault(dest, LaneStats())
        lane = Lane(
            ref=ref,
            destination=adapter,
            partition=partition,
            users=self._users(redis),
            authors=self._authors(redis),
            redis=redis,
            scripts=router.scripts,
            idmap=IdMap(
                redis,
                router.scripts,
                group=keys.MIRROR_GROUP,
                idempotency_ttl_s=self.idempotency_ttl_s,
                batcher=self._batcher(redis, router, "commit"),
            ),
            config=self.config,
            stats=stats,
            halt=self._halt,
            health=self._health.setdefault(ref.platform, PlatformHealth()),
            takes=self._batcher(redis, router, "take"),
            on_dead=self.on_dead,
        )
        recover = self._recover.pop(dest, None) is not None
        task = asyncio.create_task(self._lane_main(lane, idle_exit, recover), name=f"mirror-lane:{dest}")
        self._lanes[dest] = (lane, task)

    async def _lane_main(self, lane: Lane, idle_exit: float, recover: bool) -> None:
        try:
            await lane.run(idle_exit=idle_exit, recover=recover)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("mirror lane %s crashed; it restarts with the next job", lane.key)
            self._recover[lane.key] = lane.partition
        finally:
            lane.stats.state = "stopped" if self._halt.is_set() else "idle"
            self._lanes.pop(lane.key, None)  # idle destinations keep only their counters

    async def _refresh_loop(self, redis: RedisClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.refresh_metrics(redis)
            except RedisError as err:
                log.debug("metrics refresh failed: %s", err)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.metrics_interval_s)

    async def _shutdown(self, grace: float) -> None:
        """Stop lanes after their current job (waiting up to ``grace`` seconds), then cancel."""
        self._halt.set()
        for lane, _ in self._lanes.values():
            lane.wake.set()  # idle lanes wake up, see the halt and return
        tasks = [task for _, task in self._lanes.values() if not task.done()]
        if tasks and grace > 0:
            await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._lanes.clear()
        for batcher in self._batchers.values():
            await batcher.aclose()
        self._batchers.clear()


def _dest_labels(dest: str) -> tuple[str, str]:
    """``discord:<guild>:<channel>`` → (``discord``, ``<guild>:<channel>``) for metric labels."""
    platform, _, channel = dest.partition(":")
    return platform, channel
