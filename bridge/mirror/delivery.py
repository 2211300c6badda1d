"""Delivery stage: one lane (an asyncio task) per destination, draining its outbox in order.

A destination is one linked platform channel (``ChannelRef.key()``). Its lane reads the outbox
``cb:outbox:<destination>`` through the ``cb-mirror`` consumer group, one job at a time, so a room's
events reach each destination in the order of the room stream. On start it first claims and
re-reads whatever was pending (a crash between the platform call and the ack), and skips any job
whose idempotency record ``cb:delivered:<entry>:<destination>`` exists. After a successful platform
call one script writes the id map, the idempotency record and the XACK (``mirror_commit.lua``).

Failures only hold up their own lane: ``DeliveryError.retry_after`` is waited exactly (not counted
as an attempt); ``DeliveryError.needs_admin`` (a missing permission: the adapter told an admin) backs
off up to ``backoff_cap_s`` (or waits its ``retry_after`` when the adapter gave one, or until its
``fixed`` event is set: the adapter learnt the cause is gone) for as long as it takes, never
counted and booked as ``held``, not ``rate_limited``; other errors back off exponentially with
jitter; after ``max_attempts`` or a permanent error the job goes to the dead-letter stream and is
acknowledged. Failures are not counted while no destination of the same platform has succeeded
since the job started failing (the platform or the network is down, not this message), for up to
``outage_hold_s``: an outage leaves the backlog queued in order, to be
delivered when the platform is back. A lane with nothing
to do exits after ``idle_exit`` seconds; the router starts it again when a job arrives.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from redis.exceptions import RedisError

from bridge import metrics
from bridge.core.messages import mentioned_usernames
from bridge.core.ports import ChannelRef, Destination, OutboundMessage, attachments_from_json
from bridge.core.users import Users
from bridge.errors import DeliveryError
from bridge.mirror import dlq
from bridge.mirror.idmap import Commit, IdMap, ScriptBatcher
from bridge.mirror.lanestate import Authors, LaneStats, PlatformHealth, backoff
from bridge.mirror.reaction_sync import reconcile
from bridge.mirror.router import claim_all
from bridge.store import keys, replication
from bridge.store.connection import RedisClient
from bridge.store.scripts import Scripts

log = logging.getLogger(__name__)

DeadHook = Callable[[ChannelRef, dict[str, str], str], Awaitable[None]]
"""``on_dead(destination, job, error)`` after a job went to the dead-letter stream."""

JOIN_LEAVE_TEXT = {"join": "_{name} joined_", "leave": "_{name} left_"}


@dataclass(frozen=True)
class DeliveryConfig:
    consumer: str
    max_attempts: int = 8
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 60.0
    batch: int = 64
    show_join_leave: bool = True
    call_timeout_s: float | None = 300.0
    """A platform call that has not answered by then counts as a failed attempt (None: no limit)."""
    outage_hold_s: float = 3600.0
    """While no destination of a platform has succeeded since a job started failing (the platform or
    the network is down, not this message), its failures are not counted toward ``max_attempts`` for
    up to this long: a platform outage leaves the backlog queued in order instead of dead-lettered."""
    wait_replicas: int = 0
    """The intent must reach this many replicas before the platform call (``redis.wait``): a
    failover then keeps it, and the new primary reconciles instead of posting a second copy."""
    wait_timeout_ms: int = 500


@dataclass(frozen=True)
class Prefetched:
    delivered: bool
    body: dict[str, str] | None
    """username, message, reply_to, channel of the message a job carries ({} if it is gone)."""
    linked: bool = True
    """The destination is still linked to the job's room (an unlinked one gets nothing more)."""


@dataclass(frozen=True)
class Job:
    id: str
    fields: dict[str, str]
    pre: Prefetched


_SLOT = "\x00"
"""Placeholder cut out of a key built by ``keys`` to give the take script its prefix and suffix."""


def _entry_of(job: dict[str, str]) -> str:
    """The room entry a job delivers (its idempotency key): the message id, or the edit/delete/
    join/leave event id."""
    return job.get("entry") or job.get("core") or ""


def entry_ms(entry_id: str) -> int:
    head, _, _ = entry_id.partition("-")
    return int(head) if head.isdigit() else 0


class Lane:
    def __init__(
        self,
        *,
        ref: ChannelRef,
        destination: Destination,
        partition: int,
        users: Users,
        authors: Authors,
        redis: RedisClient,
        scripts: Scripts,
        idmap: IdMap,
        config: DeliveryConfig,
        stats: LaneStats,
        halt: asyncio.Event,
        health: PlatformHealth | None = None,
        takes: ScriptBatcher | None = None,
        on_dead: DeadHook | None = None,
    ) -> None:
        self.ref = ref
        self.key = ref.key()
        self.outbox = keys.outbox(self.key)
        self.destination = destination
        self.partition = partition
        self.users = users
        self.authors = authors
        self.redis = redis
        self.scripts = scripts
        self.idmap = idmap
        self.config = config
        self.stats = stats
        self.halt = halt
        self.health = health or PlatformHealth()
        self.takes = takes or ScriptBatcher(redis, scripts.mirror_take)
        self.on_dead = on_dead
        """Called after a job is dead-lettered (``app.py`` tells the message's sender); never fatal."""
        self.wake = asyncio.Event()
        self._refused: set[str] = set()
        """Entries whose last platform call in this process was refused with a 429."""
        self._recent: deque[str] = deque(maxlen=64)
        """Entries this lane delivered lately: a repeated job in the same batch is not sent twice."""

    # --- the loop ----------------------------------------------------------------------------------
    async def run(self, *, idle_exit: float, recover: bool = True) -> None:
        """Deliver until the outbox is empty and nothing arrives for ``idle_exit`` seconds.

        ``recover``: first claim and re-read whatever is pending in the outbox (any consumer's), as
        after a crash. The worker asks for it for the outboxes it finds with entries at start and
        after a lane failed; a lane it starts for a job it just routed has nothing pending."""
        recovering, failures = recover, 0
        while not self.halt.is_set():
            self.wake.clear()
            try:
                if recovering:
                    await claim_all(self.redis, self.outbox, self.config.consumer, self.config.batch)
                jobs = await self._read("0" if recovering else ">")
                failures = 0
            except RedisError as err:
                recovering, failures = True, failures + 1
                log.warning("%s: redis error reading the outbox: %s", self.key, err)
                if await self._pause(backoff(failures, 0.1, 5.0), "redis"):
                    return
                continue
            if jobs:
                if not await self._run_jobs(jobs):
                    recovering = True
                    continue
                if recovering or len(jobs) >= self.config.batch or self.wake.is_set():
                    continue
                # A short batch and no job routed here since the read: the outbox is empty.
            elif recovering:
                recovering = False
                continue
            self.stats.state = "idle"
            if self.wake.is_set():
                continue
            if idle_exit <= 0:
                return
            try:
                await asyncio.wait_for(self.wake.wait(), idle_exit)
            except TimeoutError:
                if not self.wake.is_set():  # the router may have woken us as the timeout fired
                    return

    async def _read(self, start: str) -> list[Job]:
        """The next batch of jobs with their idempotency flag and message fields (one script)."""
        dpre, dsuf = keys.delivered(_SLOT, self.key).split(_SLOT)
        mpre, msuf = keys.message(_SLOT).split(_SLOT)
        group, consumer, count = keys.MIRROR_GROUP, self.config.consumer, str(self.config.batch)
        route = keys.route(self.key)
        raw = await self.takes.run([self.outbox, group, consumer, count, start, dpre, dsuf, mpre, msuf, route])
        linked_to = raw[0] if raw else ""
        jobs: list[Job] = []
        for head, text in zip(raw[1::2], raw[2::2], strict=True):
            eid, kind, core, entry, user, channel, done, has, username, reply_to, msg_channel, *more = head.split("\n")
            job = {"type": kind, "core": core, "entry": entry, "channel": channel}
            if user:
                job["user"] = user
            body = {"username": username, "message": text, "reply_to": reply_to, "channel": msg_channel}
            body.update(zip(("files", "origin_channel", "origin_id", "thread", "broadcast"), more, strict=False))
            pre = Prefetched(done == "1", body if has == "1" else {}, linked=channel == linked_to)
            jobs.append(Job(eid, job, pre))
        return jobs

    async def _run_jobs(self, jobs: list[Job]) -> bool:
        """Handle a batch in order; False when Redis failed (the rest is re-read as pending)."""
        try:
            for job in jobs:
                if self.halt.is_set():
                    return True
                await self._handle(job.id, job.fields, job.pre)
        except RedisError as err:
            log.warning("%s: redis error while delivering: %s", self.key, err)
            await self._pause(backoff(1, 0.1, 5.0), "redis")
            return False
        return True

    async def _pause(self, delay: float, state: str, *, until: asyncio.Event | None = None) -> bool:
        """Wait ``delay`` seconds (this lane only), or until ``until`` is set; True if the worker is
        stopping meanwhile."""
        self.stats.state = state
        if until is not None:
            waits = {asyncio.ensure_future(self.halt.wait()), asyncio.ensure_future(until.wait())}
            _, pending = await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            return self.halt.is_set()
        try:
            await asyncio.wait_for(self.halt.wait(), delay)
        except TimeoutError:
            return False
        return True

    # --- one job -----------------------------------------------------------------------------------
    async def _handle(self, eid: str, job: dict[str, str], pre: Prefetched | None) -> None:
        entry = _entry_of(job) or eid
        idem = keys.delivered(entry, self.key)
        done = pre.delivered if pre is not None else await self.idmap.delivered(idem)
        if done or entry in self._recent:
            self.stats.duplicates += 1
            self._count("dropped", "duplicate")
            await self.idmap.commit(self.ref, Commit(eid))
            await self._forget_intent(entry)  # recorded, then the process died before this
            return
        if pre is not None and not pre.linked:
            self.stats.skipped += 1
            self._count("dropped", "unlinked")
            await self.idmap.commit(self.ref, Commit(eid))
            return
        self.stats.head_ms = entry_ms(eid)
        self.stats.state = "sending"
        attempts, failures, first_failure, held = 0, 0, 0.0, 0
        while True:
            try:
                body = pre.body if pre is not None and failures == 0 else None
                async with asyncio.timeout(self.config.call_timeout_s):
                    change = await self._apply(eid, job, idem, body)
                self.health.ok()
                metrics.DELIVERY_LATENCY.labels(platform=self.ref.platform).observe(
                    max(0.0, time.time() - (entry_ms(entry) or entry_ms(eid)) / 1000)
                )
                break
            except DeliveryError as err:
                if err.permanent:
                    await self._dead(eid, job, f"permanent: {err}", attempts + 1, reason="permanent")
                    return
                if err.needs_admin or err.retry_after is not None:  # not counted as an attempt
                    held += 1 if err.needs_admin else 0
                    if await self._wait_out(err, entry, held):
                        return
                    continue
                error: Exception = err
                reason = "platform_error"
            except RedisError:
                raise
            except TimeoutError:
                error = DeliveryError(f"no answer from {self.ref.platform} within {self.config.call_timeout_s}s")
                reason = "timeout"
            except Exception as err:  # an adapter bug must not kill the lane: count it as a failure
                log.exception("%s: unexpected error from the %s adapter", self.key, self.ref.platform)
                error = err
                reason = "adapter_error"
            now = time.monotonic()
            failures += 1
            first_failure = first_failure or now
            outage = self.health.down_since(first_failure) and now - first_failure < self.config.outage_hold_s
            if not outage:
                attempts += 1
            self.stats.last_error = f"{type(error).__name__}: {error}"
            if attempts >= self.config.max_attempts:
                await self._dead(eid, job, self.stats.last_error, attempts, reason="max_attempts")
                return
            self.stats.retries += 1
            self._count("retried", "outage" if outage else reason)
            delay = backoff(failures, self.config.backoff_base_s, self.config.backoff_cap_s)
            if await self._pause(delay, "down" if outage else "backoff"):
                return
        await self._commit(change)
        await self._forget_intent(entry)
        self._recent.append(entry)
        self.stats.head_ms = 0

    async def _wait_out(self, err: DeliveryError, entry: str, held: int) -> bool:
        """A refusal that says when to retry (429), or that waits for an admin (``needs_admin``: the adapter
        told them; backoff, never dead-lettered). True if the worker is stopping meanwhile."""
        self._refused.add(entry)  # a definite no: nothing landed, the retry need not look first
        if err.needs_admin:  # the adapter's own retry time if it gave one (a held Slack room), else backoff
            self.stats.held += 1
            self._count("held", "needs_admin")
            self.stats.last_error = f"held: {err}"
            wait = err.retry_after
            if wait is None:
                wait = backoff(held, self.config.backoff_base_s, self.config.backoff_cap_s)
            return await self._pause(wait, "held", until=err.fixed)
        self.stats.rate_limited += 1
        self._count("rate_limited", "retry_after")
        self.stats.last_error = f"429: {err}"
        return await self._pause(max(0.0, err.retry_after or 0.0), "throttled")

    async def _forget_intent(self, entry: str) -> None:
        """The delivery is recorded: its intent goes (if Redis fails now, the next attempt at this
        entry finds it delivered and removes the intent then)."""
        try:
            await self.redis.hdel(keys.intents(self.key), entry)
        except RedisError as err:
            log.warning("%s: could not remove the intent of %s: %s", self.key, entry, err)

    async def _commit(self, change: Commit) -> None:
        """Record a done job; Redis errors are retried here (the platform call is never repeated)."""
        failures = 0
        while True:
            try:
                await self.idmap.commit(self.ref, change)
                return
            except RedisError as err:
                failures += 1
                log.warning("%s: redis error recording a delivery (retrying): %s", self.key, err)
                if await self._pause(backoff(failures, 0.1, 5.0), "redis"):
                    raise
        # unreachable

    async def _dead(self, eid: str, job: dict[str, str], error: str, attempts: int, *, reason: str) -> None:
        log.warning("%s: dead-lettering %s after %d attempt(s): %s", self.key, job.get("entry"), attempts, error)
        await dlq.dead_letter(
            self.redis,
            self.scripts,
            destination=self.key,
            partition=self.partition,
            outbox_id=eid,
            job=job,
            error=error,
            attempts=attempts,
        )
        self.stats.dead_lettered += 1
        self._count("dead_lettered", reason)
        self.stats.head_ms = 0
        if self.on_dead is not None and job.get("type") == "message":
            try:
                await self.on_dead(self.ref, job, error)
            except Exception:
                log.warning("%s: the dead-letter hook failed for %s", self.key, job.get("entry"), exc_info=True)

    async def _apply(self, eid: str, job: dict[str, str], idem: str, body: dict[str, str] | None) -> Commit:
        """Make the platform call for one job; returns what to record. Jobs with nothing to do (the
        message is gone, or was never mirrored here) are acknowledged without a call. ``body`` is
        the message hash when the batch prefetched it."""
        kind, core = job.get("type", ""), job.get("core", "")
        skip = Commit(eid, idem)
        if body is None and kind in ("message", "edit"):
            body = await self.redis.hgetall(keys.message(core))
        entry = _entry_of(job) or eid
        if kind == "message":
            if not body:
                return self._skipped(skip, "message_gone")
            out = await self._outbound(core, body, job)
            ids = await self.destination.send(self.ref, await self._intent(entry, out))
            return self._done(kind, Commit(eid, idem, core, [str(i) for i in ids]))
        if kind == "edit":
            old = await self.idmap.ids(core, self.ref)
            if not old or not body:
                return self._skipped(skip, "never_mirrored" if not old else "message_gone")
            out = await self._outbound(core, body, job)
            ids = await self.destination.edit(self.ref, old, await self._intent(entry, out))
            return self._done(kind, Commit(eid, idem, core, [str(i) for i in ids] or old, tuple(old)))
        if kind == "delete":
            old = await self.idmap.ids(core, self.ref)
            if not old:
                return self._skipped(skip, "never_mirrored")
            await self.destination.delete(self.ref, old)
            return self._done(kind, Commit(eid, idem, core, [], tuple(old)))
        if kind == "reaction":
            done = await reconcile(
                redis=self.redis, idmap=self.idmap, destination=self.destination, ref=self.ref, core_id=core
            )
            return self._skipped(skip, done.skipped) if done.skipped else self._done(kind, skip)
        if kind in JOIN_LEAVE_TEXT and self.config.show_join_leave:
            name, _ = await self.authors.get(job.get("user", ""))
            text = JOIN_LEAVE_TEXT[kind].format(name=name)
            msg = OutboundMessage(core_id=entry, channel=job.get("channel", ""), text=text, author_name="chatbridge")
            ids = await self.destination.send(self.ref, await self._intent(entry, msg))
            return self._done(kind, Commit(eid, idem, core, [str(i) for i in ids]))
        return self._skipped(skip, "join_leave_hidden" if kind in JOIN_LEAVE_TEXT else "unknown_type")

    async def _intent(self, entry: str, message: OutboundMessage) -> OutboundMessage:
        """Record the intent (entry, this destination) before the platform call, in one round trip
        with reading an earlier one back. An earlier intent means an attempt may have reached the
        platform unrecorded (the process died, or the call timed out): the message then asks the
        destination to reconcile with what it shows since that attempt before resending."""
        key = keys.intents(self.key)
        replicas, timeout_ms = self.config.wait_replicas, self.config.wait_timeout_ms
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hsetnx(key, entry, str(int(time.time() * 1000)))
            pipe.hget(key, entry)
            if replicas:
                replication.queue_wait(pipe, replicas, timeout_ms)
            created, first, *waited = await pipe.execute()
        if waited:
            try:
                replication.check(waited[-1], replicas, timeout_ms)
            except replication.NotReplicated:
                self._refused.add(entry)  # no platform call was made: the retry need not reconcile
                raise
        if created:
            return message
        if entry in self._refused:  # this process's last attempt was refused (429): nothing landed
            self._refused.discard(entry)  # (parts of it that did are kept by the adapter in memory)
            return message
        self.stats.reconciled += 1
        return replace(message, reconcile_since_ms=int(first or 0) or 1)

    def _skipped(self, change: Commit, reason: str) -> Commit:
        self.stats.skipped += 1
        self._count("dropped", reason)
        return change

    def _count(self, outcome: str, reason: str = "") -> None:
        metrics.delivery(self.ref.platform, f"{self.ref.workspace}:{self.ref.channel_id}", outcome, reason)

    def _done(self, kind: str, change: Commit) -> Commit:
        self.stats.delivered += 1
        self._count("delivered")
        self.stats.by_type[kind] = self.stats.by_type.get(kind, 0) + 1
        self.stats.last_error = None
        return change

    async def _outbound(self, core: str, body: dict[str, str], job: dict[str, str]) -> OutboundMessage:
        """The message as the author: display name and avatar, native mentions of people linked on
        this destination's workspace, and the ids of the parent message here (replies)."""
        username = body.get("username", "")
        name, avatar = await self.authors.get(username)
        text = body.get("message", "")
        mentions: dict[str, str] = {}
        for mentioned in mentioned_usernames(text):
            pid = await self.users.platform_id(mentioned, self.ref.platform, self.ref.workspace)
            if pid:
                mentions[mentioned] = pid
        parent = body.get("reply_to", "")
        reply = await self.idmap.reply_ids(parent, self.ref) if parent else []
        root = body.get("thread", "")
        root = "" if root == core else root  # a thread root is posted as itself
        return OutboundMessage(
            core_id=core,
            channel=body.get("channel") or job.get("channel", ""),
            text=text,
            author_name=name,
            avatar_url=avatar,
            reply_to=reply,
            mentions=mentions,
            files=attachments_from_json(body.get("files")),
            origin_channel=body.get("origin_channel", ""),
            origin_id=body.get("origin_id", ""),
            username=username,
            thread=await self.idmap.here(root, self.ref) if root else [],
            thread_root=root,
            thread_title=str(await self.redis.hget(keys.message(root), "message") or "") if root else "",
            broadcast=bool(root) and body.get("broadcast") == "1",
        )
