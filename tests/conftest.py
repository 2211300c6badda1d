"""Shared fixtures: a real redis-server with the RediSearch module on a free port, per session.

No test ever talks to the machine's Redis on 6379 or mocks Redis. A missing ``redis-server`` or
module fails the run with the install command (never a skip).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bridge.core.chat import Chat
from bridge.errors import StoreError
from bridge.store.connection import RedisClient, connect
from bridge.store.embedded import EmbeddedRedis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(data_dir=tmp_path_factory.mktemp("redis"), appendonly=True, appendfsync="always")
    try:
        server.start()
    except StoreError as err:
        pytest.fail(f"cannot start redis-server with RediSearch for the tests: {err}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    return redis_server.url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisClient]:
    client = connect(redis_url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
async def chat(redis: RedisClient) -> Chat:
    """A core on an empty database (FLUSHALL drops RediSearch 1.x indexes too; Chat.open recreates them)."""
    return await Chat.open(redis)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
