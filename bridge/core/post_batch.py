"""Group commit of single posts: posts issued while the event loop is busy go to Redis together.

Every :meth:`Messages.post` hands its script argument to :class:`PostBatcher`. A post alone (the
usual case when traffic is light) runs ``post.lua`` as before. Posts queued in the same event-loop
turn (50 adapter events handled at once, a burst of commands) run as ONE ``post_many.lua`` call,
up to :data:`BULK_BATCH` per call: one round trip, one script run, and the per-call work (clock,
id allocator, channel and user checks, activity, top-poster and post-record writes) done once per
call instead of once per message. Nothing is held back to wait for company: the queue is sent as
soon as the loop is free (``call_soon``), so a lone post costs what it did.

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

BULK_BATCH = 200
"""Messages per post_many.lua call: big enough that the round trip and the call's own cost vanish,
small enough that one call holds the server for only a few milliseconds."""


class PostBatcher:
    def __init__(self, post: AsyncScript, post_many: AsyncScript) -> None:
        self.post = post
        self.post_many = post_many
        self._queue: list[tuple[str, asyncio.Future[tuple[str, str]]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, args: str) -> tuple[str, str]:
        """(status, value) of one message's post (its POST_ARGS fields joined, see Messages)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[str, str]] = loop.create_future()
        self._queue.append((args, future))
        if len(self._queue) == 1:
            loop.call_soon(self._start_flush)
        # shielded: a caller cancelled while its call is in flight does not cancel the others'
        return await asyncio.shield(future)

    def _start_flush(self) -> None:
        batch, self._queue = self._queue, []
        for start in range(0, len(batch), BULK_BATCH):
            task = asyncio.get_running_loop().create_task(self._flush(batch[start : start + BULK_BATCH]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

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
