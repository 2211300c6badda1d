"""`chatbridge run` with one platform's credentials set and that platform unreachable (DNS failure):
the process keeps running, says so in one line (no traceback), and the other side (its emulator)
still mirrors to and from the core and the CLI. Runs the real entry point in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from bridge_process import SANDBOX_FILE, bridge_process, wait_for

BOOT_TIMEOUT = 60.0


class Run:
    def __init__(self, tmp: Path, proc: subprocess.Popen[bytes]) -> None:
        self.tmp, self.proc, self.cfg = tmp, proc, tmp / "config.yaml"

    def log(self) -> str:
        return (self.tmp / "run.log").read_text()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bridge", "-c", str(self.cfg), *args],
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=60,
            env=_clean_env(),
        )


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "REDIS_URL"))}


def start(tmp: Path, extra_config: str, env: dict[str, str]) -> Iterator[Run]:
    data = tmp / "data"
    (tmp / "config.yaml").write_text(f"redis:\n  data_dir: {data}\nhttp:\n  port: 0\n{extra_config}")
    ready = (data / SANDBOX_FILE).exists
    with bridge_process(tmp / "config.yaml", tmp, {**_clean_env(), **env}, tmp / "run.log", ready=ready) as proc:
        yield Run(tmp, proc)


@pytest.fixture
def discord_unreachable(tmp_path: Path) -> Iterator[Run]:
    env = {
        "DISCORD_TOKEN": "MTIz.not-reachable.anyway",
        "DISCORD_API_BASE": "http://discord.invalid/api/v10",  # .invalid never resolves (RFC 2606)
        "DISCORD_GATEWAY_URL": "ws://discord.invalid/gateway",
    }
    yield from start(tmp_path, "discord:\n  reconnect_min_s: 0.5\n  reconnect_max_s: 2\n", env)


@pytest.fixture
def slack_unreachable(tmp_path: Path) -> Iterator[Run]:
    env = {"SLACK_BOT_TOKEN": "xoxb-not-reachable", "SLACK_APP_TOKEN": "xapp-not-reachable"}
    extra = "slack:\n  api_base_url: http://slack.invalid/api/\n  reconnect_min_s: 0.5\n  reconnect_max_s: 2\n"
    yield from start(tmp_path, extra, env)


@pytest.mark.parametrize(
    ("away", "here", "person"), [("discord", "slack", "bob"), ("slack", "discord", "alice")], ids=["discord", "slack"]
)
def test_run_keeps_going_with_one_side_unreachable_and_the_other_mirrors(
    request: pytest.FixtureRequest, away: str, here: str, person: str
) -> None:
    run: Run = request.getfixturevalue(f"{away}_unreachable")
    name = away.capitalize()
    wait_for(lambda: run.log().count(f"cannot reach {name}") >= 2, 30, "two retries logged")
    assert "Traceback" not in run.log(), run.log()[-3000:]
    assert run.cli("sandbox", "say", here, person, f"hello while {name} is away").returncode == 0
    wait_for(lambda: f"hello while {name} is away" in run.cli("exec", "history general 10").stdout, 30, "history")
    assert run.cli("exec", "register carol").returncode == 0
    posted = run.cli("exec", "--as", "carol", f"post general from the CLI while {name} is away")
    assert posted.returncode == 0, posted.stdout + posted.stderr
    wait_for(lambda: "from the CLI while" in run.cli("sandbox", "log", here).stdout, 30, f"the post on {here}")
    assert run.proc.poll() is None
