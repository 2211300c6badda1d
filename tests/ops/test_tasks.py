"""bridge.tasks.TaskSet: a task is held until it is done, drain waits for late ones too, cancel stops them."""

from __future__ import annotations

import asyncio

from bridge.tasks import TaskSet


async def test_a_task_is_held_until_done_and_drain_waits_for_those_started_meanwhile() -> None:
    tasks: TaskSet[str] = TaskSet()
    gate = asyncio.Event()
    done: list[str] = []

    async def later(name: str) -> str:
        await gate.wait()
        done.append(name)
        if name == "first":
            tasks.spawn(later("started by the first"))
        return name

    first = tasks.spawn(later("first"), name="first")
    assert len(tasks) == 1 and first.get_name() == "first"
    gate.set()
    await tasks.drain()
    assert done == ["first", "started by the first"] and len(tasks) == 0


async def test_drain_does_not_raise_what_a_task_raised_and_cancel_stops_the_rest() -> None:
    tasks: TaskSet[object] = TaskSet()

    async def fails() -> None:
        raise RuntimeError("its own error")

    failing = tasks.spawn(fails())
    await tasks.drain()
    assert isinstance(failing.exception(), RuntimeError)
    forever = tasks.spawn(asyncio.Event().wait())
    await tasks.cancel()
    assert forever.cancelled() and len(tasks) == 0
