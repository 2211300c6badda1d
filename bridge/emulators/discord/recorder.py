"""Request log and condition waiting (tests wait on conditions, never sleep)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class RecordedRequest:
    """One REST call as the emulator saw it. ``path`` is relative to the API base (``/channels/1/...``)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    status: int = 0
    at: float = field(default_factory=time.time)
    answer: Any = None
    """The JSON body the emulator answered (for the contract tests)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "json": self.json,
            "headers": self.headers,
            "status": self.status,
            "at": self.at,
        }


class Notifier:
    """Wake every waiter when something changes; waiters re-check their condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def poke(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_until(self, predicate: Callable[[], T | None], timeout: float = 5.0) -> T:  # noqa: ASYNC109 - tests pass a plain timeout; asyncio.timeout inside
        """Return the first truthy value of ``predicate()``; raise ``TimeoutError`` after ``timeout`` s."""
        async with asyncio.timeout(timeout):
            while True:
                event = self._event
                value = predicate()
                if value:
                    return value
                await event.wait()


class Recorder:
    """Every REST request, in arrival order."""

    def __init__(self, notifier: Notifier) -> None:
        self.requests: list[RecordedRequest] = []
        self._notifier = notifier

    def add(self, request: RecordedRequest) -> None:
        self.requests.append(request)
        self._notifier.poke()

    def matching(self, method: str, path_regex: str, *, since: int = 0) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        return [
            r
            for r in self.requests[since:]
            if r.method == method.upper() and pattern.fullmatch(r.path) and r.status != 0
        ]

    async def wait_for(
        self,
        method: str,
        path_regex: str,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a plain timeout for tests; asyncio.timeout inside
        since: int = 0,
    ) -> RecordedRequest:
        """The first finished request matching ``method`` and ``path_regex`` (full match)."""

        def find() -> RecordedRequest | None:
            found = self.matching(method, path_regex, since=since)
            return found[0] if found else None

        return await self._notifier.wait_until(find, timeout)
