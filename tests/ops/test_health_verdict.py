"""The health interface: StateClock keeps ``since`` at the last change; the verdict fails only a part
that has been down longer than the grace, and names it with what is wrong."""

from __future__ import annotations

from bridge.health import PartHealth, StateClock, verdict


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_since_moves_only_when_ok_flips() -> None:
    clock = Clock()
    state = StateClock("discord", detail="starting", clock=clock)
    assert not state.ok and state.since == 1000.0
    clock.now = 1005.0
    state.set(False, "still starting")
    assert state.since == 1000.0 and state.detail == "still starting"
    clock.now = 1010.0
    state.set(True, "gateway connected")
    assert state.ok and state.since == 1010.0
    clock.now = 1020.0
    state.set(True, "gateway connected (resumed)")
    assert state.since == 1010.0
    snap = state.snapshot(latency_ms=41.5, shards=None)
    assert snap == PartHealth("discord", True, 1010.0, "gateway connected (resumed)", {"latency_ms": 41.5})


def test_a_part_down_within_the_grace_is_shown_but_does_not_fail() -> None:
    parts = [
        PartHealth("redis", True, 0.0, "up"),
        PartHealth("slack", False, 95.0, "Socket Mode disconnected"),
    ]
    result = verdict(parts, grace_s=10, now=100.0)
    assert result.ok and result.status == 200 and result.failing == []
    body = result.to_json(now=100.0)
    assert body["parts"]["slack"] == {"ok": False, "since": 95.0, "for_s": 5.0, "detail": "Socket Mode disconnected"}


def test_a_part_down_longer_than_the_grace_fails_and_is_named() -> None:
    parts = [PartHealth("redis", True, 0.0, "up"), PartHealth("discord", False, 50.0, "gateway disconnected")]
    result = verdict(parts, grace_s=10, now=100.0)
    assert not result.ok and result.status == 503
    assert result.failing == ["discord: gateway disconnected (down 50s)"]
