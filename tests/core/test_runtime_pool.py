"""The runtime's shared Redis client waits for a free connection instead of failing: redis-py's
default pool raises MaxConnectionsError past 100 connections, which the outage hold reads as Redis
being away."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from generations import Generation
from redis.asyncio import BlockingConnectionPool

from bridge.runtime import RUNTIME_CONNECTIONS, open_runtime


async def test_a_burst_of_commands_waits_for_the_pool_instead_of_failing(
    tmp_path: Path, generation: Generation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    cfg = generation.embedded_config(tmp_path / "data")
    async with open_runtime(cfg) as rt:
        pool = rt.redis.connection_pool
        assert isinstance(pool, BlockingConnectionPool) and pool.max_connections == RUNTIME_CONNECTIONS
        # 300 at once: every one takes a connection before any gives one back
        answers = await asyncio.gather(*(rt.redis.incr("burst") for _ in range(300)))
        assert sorted(answers) == list(range(1, 301))
        info = await rt.redis.info("clients")
        assert int(info["connected_clients"]) <= RUNTIME_CONNECTIONS + 2  # (+ this INFO's, the probe's)
