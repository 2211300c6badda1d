"""Group commit of single posts: posts issued while the event loop is busy go to Redis together.

Every :meth:`Messages.post` hands its script argument to :class:`PostBatcher`. A post alone (the
usual case when traffic is light) runs ``post.lua`` as before. Posts queued in the same event-loop
turn (50 adapter events handled at once, a burst of commands, an adapter's group commit of a
room's events: :meth:`PostBatcher.run_many`) run as ONE ``post_many.lua`` call, up to
:data:`BULK_BATCH` per call (a longer queue: consecutive calls, one after the other): one round
trip, one script run, and the per-call work (clock, id allocator, channel and user checks,
activity, top-poster and post-record writes) done once per call instead of once per message.
Nothing is held back to wait for company: the queue is sent as soon as the loop is free
(``call_soon``), so a lone post costs what it did.

Each message is still written exactly as ``post.lua`` writes it (the same ``post_message`` in
``_post.lua``), in the order the posts were made, and gets its own reply: a check that fails (no
channel, a duplicate) or a Redis error on one message is that caller's alone (``post_one``); the
other messages of the call are written. Only a failure of the call itself (Redis unreachable)
reaches every caller of that call, as it would have reached each of their own calls.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.commands.core import AsyncScript

from bridge.tasks import TaskSet

BULK_BATCH = 200
"""Messages per post_many.lua call: big enough that the round trip and the call's own cost vanish,
small enough that one call holds the server for only a few milliseconds."""


class PostBatcher:
    def __init__(self, post: AsyncScript, post_many: AsyncScript) -> None:
        self.post = post
        self.post_many = post_many
        self._queue: list[tuple[str, asyncio.Future[tuple[str, str]]]] = []
        self._tasks: TaskSet[None] = TaskSet()

    async def run(self, args: str) -> tuple[str, str]:
        """(status, value) of one message's post (its POST_ARGS fields joined, see Messages): queued
        as run_many queues it, awaited on its own future (no gather, no shield: a caller cancelled
        meanwhile cancels only its own future, which the flush then leaves alone; the message is
        written all the same, as with run_many)."""
        future: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
        if not self._queue:
            asyncio.get_running_loop().call_soon(self._start_flush)
        self._queue.append((args, future))
        return await future

    async def run_many(self, many: list[str]) -> list[tuple[str, str]]:
        """(status, value) of each of several posts, written in this order: queued together, they
        are in the same call, or in consecutive calls of the same flush, which run one after the
        other (an adapter's group commit keeps a room's order through this)."""
        if not many:
            return []
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[tuple[str, str]]] = [loop.create_future() for _ in many]
        if not self._queue:
            loop.call_soon(self._start_flush)
        self._queue.extend(zip(many, futures, strict=True))
        # shielded: a caller cancelled while its call is in flight does not cancel the others'
        return list(await asyncio.shield(asyncio.gather(*futures)))

    def _start_flush(self) -> None:
        batch, self._queue = self._queue, []
        self._tasks.spawn(self._flush_all(batch))

    async def _flush_all(self, batch: list[tuple[str, asyncio.Future[tuple[str, str]]]]) -> None:
        """The queue, :data:`BULK_BATCH` posts a call, one call after the other (in queue order)."""
        for start in range(0, len(batch), BULK_BATCH):
            await self._flush(batch[start : start + BULK_BATCH])

    async def _flush(self, batch: list[tuple[str, asyncio.Future[tuple[str, str]]]]) -> None:
        try:
            if len(batch) == 1:
                status, value = await self.post(keys=[], args=[batch[0][0]])
                replies: list[Any] = [status, value]
            else:
                replies = await self.post_many(keys=[], args=[args for args, _ in batch])
        except Exception as err:
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
            return
        for i, (_, future) in enumerate(batch):
            if not future.done():
                future.set_result((str(replies[2 * i]), str(replies[2 * i + 1])))
