"""The durability tests kill and fail over Redis servers under running commands.

redis-py tracks a pool's in-use connections weakly (``ConnectionPool.reset``: a ``WeakSet``), so a
connection whose command was cut by a killed server or a failover can be left to the garbage
collector unclosed. Collected later, in whatever test a GC happens to run, its ``__del__`` warns
("unclosed Connection") with that test's event loop already closed, and the later, unrelated test
fails on the unraisable warning (CI once: a Sentinel connection of these tests, collected during
tests/e2e/test_files_e2e.py). So each test here ends with a collection while its own loop still
runs: what it left behind is closed there, its ResourceWarnings not raised (closing them is the point).
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import AsyncIterator

import pytest


@pytest.fixture(autouse=True)
async def collect_leftover_connections() -> AsyncIterator[None]:
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
