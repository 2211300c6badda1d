"""Reading N messages costs a bounded number of round trips to Redis, never N+1."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.core.chat import Chat
from bridge.core.ports import Invocation
from bridge.store.connection import RedisClient


class RoundTrips:
    """Counts round trips on the real client: each awaited command, and each pipeline execute."""

    def __init__(self, client: RedisClient) -> None:
        self.client = client
        self.count = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if name == "pipeline":
            return self._pipeline
        if not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await attr(*args, **kwargs)

        return call

    def _pipeline(self, *args: Any, **kwargs: Any) -> Any:
        pipe = self.client.pipeline(*args, **kwargs)
        execute = pipe.execute

        async def counted(*a: Any, **k: Any) -> Any:
            self.count += 1
            return await execute(*a, **k)

        pipe.execute = counted
        return pipe


@pytest.mark.parametrize("n", [5, 50, 200])
async def test_history_and_unread_cost_the_same_round_trips_for_any_n(chat: Chat, n: int) -> None:
    cli = Invocation(platform="cli")
    await chat.commands.execute(cli, "register ada")
    await chat.commands.execute(cli, "create tech")
    for i in range(n):
        await chat.messages.post("tech", "ada", f"message {i}")
    # a script's first EVALSHA on a server is NOSCRIPT + SCRIPT LOAD + EVALSHA: once, not per N (run
    # alone, or first, this test met seen.lua unloaded and counted 6)
    await chat.ctx.redis.script_load(chat.ctx.scripts.seen.script)
    spy = RoundTrips(chat.ctx.redis)
    chat.ctx.redis = spy
    try:
        items = await chat.messages.history("tech", n)
        assert len(items) == n
        assert spy.count == 2  # XREVRANGE, then one pipeline of HGETALLs
        spy.count = 0
        unread, _ = await chat.messages.unread("tech", "ada", n)
        assert len(unread) == n
        assert spy.count == 4  # HGET last seen, XREAD, HSET last seen, one pipeline of HGETALLs
    finally:
        chat.ctx.redis = spy.client
