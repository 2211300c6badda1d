"""``link <channel> --backfill N``: a requested backfill, queued in Redis and run by ``chatbridge run``.

The command runs in the core, which knows no platform, and may be typed where no platform client
exists (``chatbridge exec`` is its own process). So :func:`request` only records the request: one
``MULTI`` writes the channel's state hash and a ``cb:backfill:jobs`` entry, or nothing. The
:class:`BackfillRunner` in ``chatbridge run`` holds each adapter's :class:`HistorySource`, reads the
jobs with a consumer group, fetches the channel's last N messages (oldest first, with thread replies),
records them with :func:`bridge.core.backfill.backfill` and acknowledges the job only when that is
done. Hence:

- safe to repeat: every message is deduplicated by platform id (``cb:pmsg:*``), against live traffic
  and earlier backfills, so a second ``--backfill`` (or a message that also arrives live) writes
  nothing twice;
- safe to interrupt: a job whose run was killed stays pending in the group and the next
  ``chatbridge run`` runs it again from the start (fetching again is cheap next to a duplicate, and the
  already recorded part is skipped by platform id);
- never mirrored: the origin room saw these messages when they were new, and the room's other
  channels get no flood of old messages; they go to history and search only;
- progress: the state hash is updated after every fetched page and recorded batch (``chatbridge
  exec`` prints it as it changes), the person who asked on a platform gets a DM when it starts, at
  most every ``tell_every_s`` while it runs and when it ends, and each step is an INFO log line;
- no silent gap: what the source could not read (:attr:`HistoryRead.left_out`, e.g. Discord private
  archived threads without Manage Threads) is in the state hash (``left_out``), in the closing line
  the person who asked gets, and a WARNING each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.exceptions import RedisError, ResponseError

from bridge.core.backfill import backfill
from bridge.core.ports import ChannelRef, HistorySource, Invocation
from bridge.errors import Conflict, HistoryError, InvalidInput, UserError
from bridge.store import keys
from bridge.store.connection import RedisClient
from bridge.tasks import TaskSet

if TYPE_CHECKING:
    from bridge.core.chat import Chat

log = logging.getLogger(__name__)

MAX_BACKFILL = 10_000
"""The largest N of one ``link --backfill``. Slack allows about 50 ``conversations.history`` calls a
minute (Tier 3, 200 messages each) and as many ``conversations.replies`` calls (one per thread):
10,000 channel messages are ~1 minute, plus a minute per 50 threads among them; Discord reads 100
messages a call. Older or larger history: ``chatbridge import``."""
ACTIVE = ("queued", "running")
Tell = Callable[[Mapping[str, str], str], Awaitable[None]]
"""How the runner reaches the person who asked: (the job's fields, text)."""


def check_count(value: int) -> int:
    if value < 1 or value > MAX_BACKFILL:
        raise InvalidInput(f"`backfill` must be between 1 and {MAX_BACKFILL:,} messages (got {value}).")
    return value


@dataclass(frozen=True)
class Ticket:
    job: str
    channel_key: str
    count: int
    runner_up: bool
    """A ``chatbridge run`` that can read this platform's history is up (else the job waits for one)."""


async def request(chat: Chat, ref: ChannelRef, count: int, inv: Invocation) -> Ticket:
    """Queue a backfill of ``ref``'s last ``count`` messages; refused while one is under way."""
    check_count(count)
    if ref.platform == "cli":
        raise InvalidInput("Only a Discord or Slack channel has a history to import.")
    redis = chat.ctx.redis
    state_key = keys.backfill_state(ref.key())
    current = await redis.hgetall(state_key)
    if current.get("status") in ACTIVE:
        raise Conflict(
            f"A backfill of {ref.key()} is already {current['status']} "
            f"({current.get('fetched', '0')} of {current.get('count', '?')} fetched); it goes on."
        )
    by = inv.user
    fields = {
        "channel": ref.key(),
        "count": str(count),
        "by_platform": inv.platform,
        "by_workspace": by.workspace if by else "",
        "by_user": by.user_id if by else "",
        "by_name": (by.display_name if by else inv.username) or "",
        "requested_ms": str(chat.ctx.now_ms()),
    }
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(keys.BACKFILL_JOBS, fields)
        pipe.delete(state_key)
        pipe.hset(state_key, mapping={**fields, "status": "queued", "fetched": "0", "recorded": "0"})
        pipe.exists(keys.backfill_runner(ref.platform))
        job, _, _, alive = await pipe.execute()
    await redis.hset(state_key, "job", str(job))
    log.info("backfill of %s (%d messages) requested by %s:%s", ref.key(), count, inv.platform, fields["by_name"])
    return Ticket(str(job), ref.key(), count, bool(alive))


def describe(state: Mapping[str, str]) -> str:
    """One line for a person: where a backfill is."""
    where = state.get("channel", "?")
    count = state.get("count", "?")
    status = state.get("status", "")
    if status == "done":
        line = (
            f"Backfill of {where} done: {state.get('recorded', '0')} messages recorded, "
            f"{state.get('duplicates', '0')} already known, {state.get('refused', '0')} refused "
            f"(of {state.get('fetched', '0')} read)."
        )
        return f"{line} Not read: {state['left_out']}" if state.get("left_out") else line
    if status == "error":
        return f"Backfill of {where} failed: {state.get('error', 'unknown error')}"
    if status == "queued":
        return f"Backfill of {where}: queued ({count} messages)."
    return (
        f"Backfill of {where}: {state.get('fetched', '0')} of {count} messages read, "
        f"{state.get('recorded', '0')} recorded."
    )


async def follow(
    redis: RedisClient,
    ticket: Ticket,
    say: Callable[[str], None],
    *,
    poll_s: float = 0.5,
    give_up_s: float = 30.0,
) -> Mapping[str, str]:
    """Print the job's progress until it ends (``chatbridge exec``). Without a runner, or when the
    state did not change for ``give_up_s`` while queued, it says so and returns: the job stays queued."""
    state_key = keys.backfill_state(ticket.channel_key)
    if not ticket.runner_up:
        say(
            f"Backfill of {ticket.channel_key} queued: no `chatbridge run` is reading "
            f"{ticket.channel_key.split(':', 1)[0]} history now; it runs when one starts."
        )
        found: dict[str, str] = await redis.hgetall(state_key)
        return found
    last = ""
    unchanged_since = time.monotonic()
    while True:
        state: dict[str, str] = await redis.hgetall(state_key)
        if state.get("job") not in (None, ticket.job):
            say(f"Backfill of {ticket.channel_key}: a newer request took over.")
            return state
        line = describe(state)
        if line != last:
            say(line)
            last, unchanged_since = line, time.monotonic()
        if state.get("status") not in ACTIVE:
            return state
        if state.get("status") == "queued" and time.monotonic() - unchanged_since > give_up_s:
            say("Still queued; `chatbridge run` will run it (see its log).")
            return state
        await asyncio.sleep(poll_s)


class BackfillRunner:
    """Runs the queued backfills (one at a time) in ``chatbridge run``."""

    def __init__(
        self,
        chat: Chat,
        sources: Mapping[str, HistorySource],
        *,
        tell: Tell | None = None,
        consumer: str = "runner",
        poll_s: float = 1.0,
        heartbeat_s: float = 10.0,
        tell_every_s: float = 15.0,
        retry_s: float = 5.0,
        attempts: int = 5,
    ) -> None:
        self.chat = chat
        self.sources = dict(sources)
        self.tell = tell
        self.consumer = consumer
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.tell_every_s = tell_every_s
        self.retry_s = retry_s
        self.attempts = attempts
        self.finished = 0
        """Jobs ended (done or failed) since start, for tests and health."""

    @property
    def redis(self) -> RedisClient:
        return self.chat.ctx.redis

    async def run(self, stop: asyncio.Event) -> None:
        pending_first = True
        next_beat = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_beat:
                    await self._heartbeat()
                    next_beat = time.monotonic() + self.heartbeat_s
                await self._ensure_group()
                # after a start or an outage, this consumer's unacknowledged jobs (cut short) first
                entries = await self.redis.xreadgroup(
                    keys.BACKFILL_GROUP, self.consumer, {keys.BACKFILL_JOBS: "0" if pending_first else ">"}, count=1
                )
                batch = entries[0][1] if entries else []
                if pending_first and not batch:
                    pending_first = False
                    continue
                for entry_id, fields in batch:
                    try:
                        await self._run_job(str(entry_id), fields, stop)
                    except RedisError:
                        raise
                    except Exception:  # a bug must not stop the runner (nor be retried forever)
                        log.exception("backfill job %s failed (%r)", entry_id, dict(fields))
                        await self._end(str(entry_id), fields, status="error", error="internal error (logged)")
            except RedisError as err:
                log.warning("backfill runner: Redis error (%s); retrying", err)
                pending_first = True
            if not pending_first:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_s)
        with contextlib.suppress(RedisError):
            for platform in self.sources:
                await self.redis.delete(keys.backfill_runner(platform))

    async def _heartbeat(self) -> None:
        ttl = max(3, int(self.heartbeat_s * 3))
        for platform in self.sources:
            await self.redis.set(keys.backfill_runner(platform), self.consumer, ex=ttl)

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(keys.BACKFILL_JOBS, keys.BACKFILL_GROUP, id="0", mkstream=True)
        except ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise

    async def _run_job(self, entry_id: str, fields: Mapping[str, str], stop: asyncio.Event) -> None:
        key = fields.get("channel", "")
        state_key = keys.backfill_state(key)
        state = await self.redis.hgetall(state_key)
        if state.get("job") not in (None, entry_id) or state.get("status") not in ACTIVE:
            # a newer request for this channel replaced it, or it ended before a crash hid the ack
            await self.redis.xack(keys.BACKFILL_JOBS, keys.BACKFILL_GROUP, entry_id)
            return
        try:
            ref = ChannelRef.parse(key)
            count = check_count(int(fields.get("count", "0")))
        except (ValueError, UserError) as err:
            await self._end(entry_id, fields, status="error", error=f"malformed request: {err}")
            return
        source = self.sources.get(ref.platform)
        if source is None:
            await self._end(entry_id, fields, status="error", error=f"this bridge has no {ref.platform} adapter")
            return
        progress = _Progress(self, entry_id, fields)
        await progress.start()
        read = None
        for attempt in range(1, self.attempts + 1):
            try:
                read = await source.latest(ref, count, progress.fetched)
                break
            except HistoryError as err:
                if stop.is_set():  # shutting down: the job stays pending, the next run resumes it
                    return
                if err.permanent or attempt == self.attempts:
                    await progress.flush()
                    await self._end(entry_id, fields, status="error", error=str(err))
                    return
                log.warning("backfill of %s: %s (attempt %d, retrying)", key, err, attempt)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.retry_s * attempt)
        assert read is not None
        history = read.messages
        for line in read.left_out:
            log.warning("backfill of %s: not read: %s", key, line)
        await progress.flush()
        try:
            result = await backfill(self.chat, ref, history, progress=progress.recorded)
        except UserError as err:  # unlinked meanwhile
            await self._end(entry_id, fields, status="error", error=str(err))
            return
        finally:
            await progress.flush()
        for line in result.refused[:20]:
            log.warning("backfill of %s: refused %s", key, line)
        await self._end(
            entry_id,
            fields,
            status="done",
            fetched=str(len(history)),
            recorded=str(result.recorded),
            duplicates=str(result.duplicates),
            refused=str(len(result.refused)),
            left_out="; ".join(read.left_out),
        )

    async def _end(self, entry_id: str, fields: Mapping[str, str], *, status: str, **values: str) -> None:
        state_key = keys.backfill_state(fields.get("channel", ""))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(state_key, mapping={"status": status, "finished_ms": str(self.chat.ctx.now_ms()), **values})
            pipe.xack(keys.BACKFILL_JOBS, keys.BACKFILL_GROUP, entry_id)
            pipe.xdel(keys.BACKFILL_JOBS, entry_id)
            pipe.hgetall(state_key)
            *_, state = await pipe.execute()
        self.finished += 1
        line = describe(state)
        (log.warning if status == "error" else log.info)("%s", line)
        await self._tell(fields, line)

    async def _tell(self, fields: Mapping[str, str], text: str) -> None:
        if self.tell is None or fields.get("by_platform") not in ("discord", "slack") or not fields.get("by_user"):
            return
        try:
            await self.tell(fields, text)
        except Exception as err:  # a DM that fails must not fail the backfill; the log has the line
            log.warning("backfill: could not tell %s (%s)", fields.get("by_name"), err)


class _Progress:
    """Counts while a job runs: the state hash after each page and batch, a DM and a log line at
    most every ``tell_every_s``."""

    def __init__(self, runner: BackfillRunner, entry_id: str, fields: Mapping[str, str]) -> None:
        self.runner = runner
        self.entry_id = entry_id
        self.fields = fields
        self.state_key = keys.backfill_state(fields.get("channel", ""))
        self.values: dict[str, str] = {}
        self.told = 0.0
        self.tasks: TaskSet[None] = TaskSet()

    async def start(self) -> None:
        self.values = {"status": "running", "fetched": "0", "recorded": "0", "started_ms": str(self.now_ms())}
        await self.runner.redis.hset(self.state_key, mapping=self.values)
        text = f"Backfill of {self.fields.get('channel')}: reading its last {self.fields.get('count')} messages…"
        log.info("%s", text)
        await self.runner._tell(self.fields, text)
        self.told = time.monotonic()

    def now_ms(self) -> int:
        return self.runner.chat.ctx.now_ms()

    def fetched(self, count: int) -> None:
        self._update(fetched=str(count))

    def recorded(self, done: int, total: int) -> None:
        self._update(recorded=str(done), fetched=str(total))

    def _update(self, **values: str) -> None:
        self.values.update(values)
        self.tasks.spawn(self._write())

    async def _write(self) -> None:
        with contextlib.suppress(RedisError):
            await self.runner.redis.hset(self.state_key, mapping=dict(self.values))
        if time.monotonic() - self.told >= self.runner.tell_every_s:
            self.told = time.monotonic()
            line = describe({**self.fields, **self.values})
            log.info("%s", line)
            await self.runner._tell(self.fields, line)

    async def flush(self) -> None:
        await self.tasks.drain()
