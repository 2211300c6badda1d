"""What "healthy" means, part by part: the interface every part of the bridge reports through.

Each part (Redis, the search module, the mirror worker, each adapter) answers
:class:`PartHealth`: is it ``ok``, ``since`` when (unix time of the last change between ok and not
ok), a one-line ``detail`` an operator can act on, and free ``info`` (heartbeat ack, lag, mode...).

Adapters implement :class:`HealthReporter` (a ``health()`` method); this module imports nothing of
the adapters (nor of ``bridge`` at all), so any layer may use it. :class:`StateClock` is the small
helper that keeps ``since`` right: call ``set(ok, detail)`` on every observation, it moves
``since`` only when ``ok`` flips.

:func:`verdict` turns the parts into the ``/healthz`` answer: a part that is not ok for longer than
the grace (``health.grace_s`` in the config) makes the whole bridge unhealthy (HTTP 503) and is
named in ``failing``; a part that just went down is reported (``ok: false``) but does not fail the
check yet, so a reconnect that heals within seconds pages nobody.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class PartHealth:
    name: str
    ok: bool
    since: float
    """Unix time of the last change of ``ok`` (when it went down, or came back)."""
    detail: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        return {
            "ok": self.ok,
            "since": round(self.since, 3),
            "for_s": round(max(0.0, now - self.since), 3),
            "detail": self.detail,
            **({"info": self.info} if self.info else {}),
        }


class HealthReporter(Protocol):
    """Anything that can say how it is: adapters, the worker."""

    def health(self) -> PartHealth: ...


class StateClock:
    """Tracks one part's ok/not-ok state and since when."""

    def __init__(
        self, name: str, *, ok: bool = False, detail: str = "starting", clock: Callable[[], float] = time.time
    ):
        self.name = name
        self._clock = clock
        self.ok = ok
        self.detail = detail
        self.since = clock()

    def set(self, ok: bool, detail: str = "") -> None:
        if ok != self.ok:
            self.since = self._clock()
            self.ok = ok
        self.detail = detail

    def snapshot(self, **info: Any) -> PartHealth:
        return PartHealth(self.name, self.ok, self.since, self.detail, {k: v for k, v in info.items() if v is not None})


@dataclass(frozen=True)
class Verdict:
    ok: bool
    failing: list[str]
    parts: list[PartHealth]

    @property
    def status(self) -> int:
        return 200 if self.ok else 503

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        return {
            "ok": self.ok,
            "failing": self.failing,
            "parts": {p.name: p.to_json(now) for p in self.parts},
        }


def verdict(parts: Iterable[PartHealth], *, grace_s: float, now: float | None = None) -> Verdict:
    """Unhealthy when some part has been down longer than ``grace_s``; ``failing`` names those parts
    with what is wrong (``"discord: gateway disconnected, reconnecting (down 42s)"``)."""
    now = time.time() if now is None else now
    listed = list(parts)
    failing = [
        f"{p.name}: {p.detail or 'down'} (down {now - p.since:.0f}s)"
        for p in listed
        if not p.ok and now - p.since >= grace_s
    ]
    return Verdict(not failing, failing, listed)
