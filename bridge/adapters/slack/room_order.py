"""A Slack channel's events recorded in the order they arrived, without each waiting for the round
trips of the one before it: a group commit per channel.

The events of one channel are recorded in arrival order (an edit or delete never overtakes the
message it changes; the core keeps the channel's messages in Slack's order). A per-channel lock
around the whole handling (users.info, route lookup, ingest script, anchor write, WAIT) gave that,
but one channel then took in one event per handful of round trips: at 50 messages/s into one
channel on a loaded machine it fell behind Slack's 3 s ack deadline, and messages were lost after
Slack's three retries (``bench/slack_inbound.py``).

Here an event takes its place in its channel's queue the moment it arrives (:meth:`RoomOrder.enter`,
before any await: bolt starts the listeners in arrival order), its lookups run at once, concurrently
with the other events' (``RoomTraffic.to_inbound``), and a channel's writer hands everything ready
at the head of the queue to ONE commit (``Chat.ingest_many``: the consecutive messages in one script
call, an edit or delete after what came before it, one WAIT). While that commit is in flight the
next events queue up and get ready; the next commit takes them all. One commit in flight per channel
keeps the order; a channel takes in as many events per round trip as arrived meanwhile. An event's
handler returns, and bolt acknowledges it, only once its commit answered (in Redis, and on the
replicas with ``redis.wait``); a commit that fails for Redis being away is ridden out by the caller's
commit function (``OutageHold.ride``), so the events behind it keep waiting, in order.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bridge.core.ports import InboundEvent, IngestResult

T = TypeVar("T")
MAX_GROUP = 100
"""Events of one channel per commit (a longer queue: the next commit takes the rest)."""

Commit = Callable[[str, list[InboundEvent]], Awaitable[list[IngestResult | Exception]]]
"""(channel, its events in order) → each event's result, or its own error."""


class Turn:
    """One event's place in its channel's queue: an event to commit, or an action of its own (a
    reaction) to run once everything before it is committed."""

    __slots__ = ("action", "event", "future", "ready")

    def __init__(self, future: asyncio.Future[Any]) -> None:
        self.event: InboundEvent | None = None
        self.action: Callable[[], Awaitable[Any]] | None = None
        self.ready = False
        self.future = future


class RoomOrder:
    def __init__(self, commit: Commit, *, max_group: int = MAX_GROUP) -> None:
        self._commit = commit
        self.max_group = max_group
        self._queues: dict[str, collections.deque[Turn]] = {}
        self._writers: dict[str, asyncio.Task[None]] = {}
        self.commits = 0
        """Commits made (for tests and figures: events per commit = events / commits)."""

    def enter(self, channel: str) -> Turn:
        """Take the next place in ``channel``'s order (call it before any await)."""
        turn = Turn(asyncio.get_running_loop().create_future())
        self._queues.setdefault(channel, collections.deque()).append(turn)
        return turn

    async def commit(self, channel: str, turn: Turn, event: InboundEvent) -> IngestResult:
        """Hand in ``turn``'s prepared event; its result once everything before it in the channel
        was committed and its own commit answered (the commit's error, or the event's own, raised)."""
        turn.event, turn.ready = event, True
        self._start(channel)
        result: IngestResult = await asyncio.shield(turn.future)  # a cancelled handler: its group goes on
        return result

    async def run(self, channel: str, turn: Turn, action: Callable[[], Awaitable[T]]) -> T:
        """Run ``action`` in ``turn``'s place: once everything before it was committed, and before
        anything after it (a reaction never overtakes the message it is on)."""
        turn.action, turn.ready = action, True
        self._start(channel)
        result: T = await asyncio.shield(turn.future)
        return result

    def skip(self, channel: str, turn: Turn) -> None:
        """Give ``turn``'s place up (nothing to record, or its preparation failed)."""
        turn.ready = True
        turn.future.cancel()
        self._start(channel)

    def _start(self, channel: str) -> None:
        queue = self._queues.get(channel)
        if channel in self._writers or not queue or not queue[0].ready:
            return
        self._writers[channel] = asyncio.get_running_loop().create_task(self._write(channel, queue))

    async def _write(self, channel: str, queue: collections.deque[Turn]) -> None:
        try:
            while queue and queue[0].ready:
                if queue[0].action is not None:
                    await self._act(queue.popleft())
                    continue
                group: list[Turn] = []
                while queue and queue[0].ready and queue[0].action is None and len(group) < self.max_group:
                    turn = queue.popleft()
                    if turn.event is not None:
                        group.append(turn)
                if group:
                    await self._run(channel, group)
        finally:
            del self._writers[channel]
            if not queue:
                self._queues.pop(channel, None)

    @staticmethod
    async def _act(turn: Turn) -> None:
        assert turn.action is not None
        try:
            result = await turn.action()
        except Exception as err:
            if not turn.future.done():
                turn.future.set_exception(err)
            return
        except BaseException:
            turn.future.cancel()
            raise
        if not turn.future.done():
            turn.future.set_result(result)

    async def _run(self, channel: str, group: list[Turn]) -> None:
        self.commits += 1
        try:
            results = await self._commit(channel, [t.event for t in group if t.event is not None])
        except Exception as err:
            for turn in group:
                if not turn.future.done():
                    turn.future.set_exception(err)
            return
        except BaseException:  # the writer cancelled (shutdown): its events are not acknowledged
            for turn in group:
                turn.future.cancel()
            raise
        for turn, result in zip(group, results, strict=True):
            if turn.future.done():
                continue
            if isinstance(result, Exception):
                turn.future.set_exception(result)
            else:
                turn.future.set_result(result)
