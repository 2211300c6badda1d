"""``chatbridge run`` configured with only a Sentinel group (``redis.sentinel``, ``redis.wait``):
the whole process — adapters, worker, notifier, ``/healthz``, the CLI beside it — on the group's
primary, and through a SIGKILL of that primary. The sandbox emulators stand in for the platforms,
driven with ``chatbridge sandbox`` as an operator would (tests/e2e/test_make_run_sandbox.py)."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from bridge_process import SANDBOX_FILE, bridge_process, cli, wait_for
from generations import Generation
from sentinel_cluster import MASTER, SentinelGroup


def _emulator(info: dict[str, Any], platform: str, path: str, body: dict[str, str] | None = None) -> Any:
    """One call to an emulator's control routes (what ``chatbridge sandbox`` uses), without starting
    a CLI process per poll."""
    request = urllib.request.Request(
        f"{info[platform]['url'].rstrip('/')}/_emulator{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def _say(info: dict[str, Any], platform: str, person: str, text: str) -> None:
    key = "content" if platform == "discord" else "text"
    _emulator(info, platform, "/messages", {"user": person, "channel": "general", key: text})


def _shown(info: dict[str, Any], platform: str) -> list[str]:
    """#general's texts as the platform stores them."""
    general = info[platform]["general"]
    if platform == "discord":
        rows = _emulator(info, "discord", f"/channels/{general}/messages?threads=1")
        rows = rows if isinstance(rows, list) else rows.get("messages", [])
        return [str(m.get("content", "")) for m in rows]
    rows = _emulator(info, "slack", f"/messages?channel={general}")["messages"]
    return [str(m.get("text", "")) for m in rows if not m.get("deleted")]


# CLI processes beside the bridge, each a full Python start: more than 60 s on a loaded machine
@pytest.mark.timeout(360)
def test_chatbridge_run_on_a_sentinel_group_rides_a_killed_primary(tmp_path: Path, generation: Generation) -> None:
    group = SentinelGroup(generation, tmp_path / "group")
    try:
        group.start()
        data = tmp_path / "data"
        cfg = tmp_path / "config.yaml"
        settings = {
            "redis": {"data_dir": str(data), "sentinel": group.settings(), "wait": {"replicas": 1, "timeout_ms": 300}},
            "http": {"port": 0},
        }
        cfg.write_text(yaml.safe_dump(settings))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "REDIS_"))}

        with bridge_process(cfg, tmp_path, env, tmp_path / "run.log", ready=(data / SANDBOX_FILE).exists):
            info = json.loads((data / SANDBOX_FILE).read_text())
            assert info["redis"] == group.url
            _say(info, "discord", "alice", "before-kill")
            wait_for(lambda: "before-kill" in _shown(info, "slack"), 60, "the first message on Slack")

            old = group.primary_port()
            assert old is not None
            killed = group.kill_primary()
            _say(info, "discord", "alice", "during-d")
            _say(info, "slack", "bob", "during-s")
            group.wait_promoted(old)
            group.rejoin(killed)  # redis.wait.replicas 1 needs a replica again

            wait_for(lambda: "during-d" in _shown(info, "slack"), 60, "the Discord message said during the failover")
            wait_for(lambda: "during-s" in _shown(info, "discord"), 60, "the Slack message said during the failover")
            assert _shown(info, "slack").count("during-d") == 1 and _shown(info, "discord").count("during-s") == 1
            history = cli(cfg, tmp_path, "exec", "history general 20", env=env).stdout
            assert history.count("during-d") == 1 and history.count("during-s") == 1, history

            def healthz() -> dict[str, dict[str, object]]:
                with urllib.request.urlopen(f"{info['http']}/healthz", timeout=10) as answer:
                    parts: dict[str, dict[str, object]] = json.loads(answer.read())["parts"]
                    return parts

            redis_part = healthz()["redis"]
            assert redis_part["ok"] and f"up at {group.url}" == redis_part["detail"], redis_part
            wait_for(lambda: bool(healthz()["worker"]["ok"]), 30, "the worker healthy after the failover")
            # doctor names the primary the sentinels name, and its replica. Usually the promoted replica; on a
            # loaded machine the sentinels (down-after 1000 ms) may fail over once more after the rejoin
            # (a fresh clone's run saw the rejoined node primary again, its replica not yet connected),
            # so doctor is asked again until the group has settled
            doctors: list[str] = []

            def doctor_names_the_primary() -> bool:
                doctors.append(cli(cfg, tmp_path, "doctor", env=env).stdout)
                named = f"(Sentinel group {MASTER}: primary at 127.0.0.1:{group.primary_port()})"
                return f"1 replica(s) connected {named}" in doctors[-1]

            try:
                wait_for(doctor_names_the_primary, 90, "doctor to name the primary and its replica")
            except TimeoutError:
                raise AssertionError(doctors[-1]) from None
    finally:
        group.stop()
