"""`chatbridge run` with no credentials: embedded Redis, both emulators, both adapters, the worker.

Runs the real entry point in a subprocess, then drives it the way the README tells a newcomer to:
`chatbridge sandbox say/log/slash` and `chatbridge exec`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from bridge_process import SANDBOX_FILE, bridge_process, cli, wait_for
from generations import Generation

BOOT_TIMEOUT = 60.0


@pytest.fixture
def sandbox(tmp_path: Path, generation: Generation) -> Iterator[tuple[Path, Path]]:
    data = tmp_path / "data"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"redis:\n  data_dir: {data}\n{generation.config_yaml()}http:\n  port: 0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "REDIS_URL"))}
    with bridge_process(cfg, tmp_path, env, tmp_path / "run.log", ready=(data / SANDBOX_FILE).exists):
        yield cfg, tmp_path
    assert not (data / "chatbridge-sandbox.json").exists()


# a dozen CLI processes, each a full Python start: more than the 60 s default on a loaded machine
@pytest.mark.timeout(240)
def test_a_newcomer_sees_discord_on_slack_and_back_and_runs_commands(sandbox: tuple[Path, Path]) -> None:
    cfg, cwd = sandbox
    said = cli(cfg, cwd, "sandbox", "say", "discord", "alice", "hello from Discord")
    assert said.returncode == 0, said.stderr

    def arrived(platform: str, text: str) -> bool:
        return text in cli(cfg, cwd, "sandbox", "log", platform).stdout

    wait_for(lambda: arrived("slack", "hello from Discord"), 30)
    assert cli(cfg, cwd, "sandbox", "say", "slack", "bob", "and back to Discord").returncode == 0
    wait_for(lambda: arrived("discord", "and back to Discord"), 30)
    info = json.loads((cwd / "data" / "chatbridge-sandbox.json").read_text())
    assert set(info) >= {"discord", "slack", "redis", "http"}

    history = cli(cfg, cwd, "exec", "history general 10")
    assert "hello from Discord" in history.stdout and "and back to Discord" in history.stdout
    answer = cli(cfg, cwd, "sandbox", "slash", "slack", "bob", "search hello")
    assert answer.returncode == 0 and "hello from Discord" in answer.stdout, answer.stdout + answer.stderr
    answer = cli(cfg, cwd, "sandbox", "slash", "discord", "alice", "search back")
    assert answer.returncode == 0 and "and back to Discord" in answer.stdout, answer.stdout + answer.stderr
    for platform in ("slack", "discord"):  # a person the emulator does not know: one line, no traceback
        answer = cli(cfg, cwd, "sandbox", "slash", platform, "nobody-here", "channels")
        assert answer.returncode != 0 and "Traceback" not in answer.stderr, answer.stderr
        assert "refused" in answer.stderr + answer.stdout, answer.stdout + answer.stderr


# a dozen CLI processes, each a full Python start: more than the 60 s default on a loaded machine
@pytest.mark.timeout(240)
def test_a_second_sandbox_run_replaces_the_previous_runs_links(tmp_path: Path, generation: Generation) -> None:
    """Emulators get new ids each run; the old links must not linger (they would dead-letter)."""
    data = tmp_path / "data"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"redis:\n  data_dir: {data}\n{generation.config_yaml()}http:\n  port: 0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "REDIS_URL"))}
    for _ in range(2):
        proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "-c", str(cfg), "run"],
            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for(lambda p=proc: (data / "chatbridge-sandbox.json").exists() or p.poll() is not None, BOOT_TIMEOUT)
            info = json.loads((data / "chatbridge-sandbox.json").read_text())
            channels = cli(cfg, tmp_path, "exec", "--json", "channels")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        general = next(c for c in json.loads(channels.stdout)["data"] if c["name"] == "general")
        assert sorted(general["links"]) == sorted(
            [
                f"discord:{info['discord']['guild']}:{info['discord']['general']}",
                f"slack:{info['slack']['team']}:{info['slack']['general']}",
            ]
        )
