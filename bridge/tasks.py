"""Background tasks a component starts and must not lose.

asyncio keeps only a weak reference to a running task ("Save a reference to the result of this
function, to avoid a task disappearing mid-execution": docs.python.org, ``asyncio.create_task``), so
each one is held here until it is done. When the component stops it waits for them (:meth:`drain`)
or cancels them (:meth:`cancel`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class TaskSet(Generic[T]):
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[T]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until every task is done, those started meanwhile too (each handles its own errors:
        what one raises is not raised here)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel every task and wait until they have stopped."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
