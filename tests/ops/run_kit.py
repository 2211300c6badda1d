"""A real ``chatbridge run`` in a subprocess (embedded Redis, both emulators, both adapters), and the
helpers the ops tests drive it with: the CLI, the emulators' control routes and the bridge's HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bridge_process import SANDBOX_FILE, bridge_process

BOOT_TIMEOUT = 60.0
T = TypeVar("T")


@dataclass
class Run:
    cfg: Path
    cwd: Path
    log_path: Path
    proc: subprocess.Popen[bytes]

    @property
    def info(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.cwd / "data" / "chatbridge-sandbox.json").read_text())
        return data

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli(self.cfg, self.cwd, *args)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def http(self, path: str) -> tuple[int, Any]:
        return http_json("GET", f"{self.info['http']}{path}")

    def emulator(self, platform: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return http_json(method, f"{self.info[platform]['url']}/_emulator{path}", body)


def cli(cfg: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", "-c", str(cfg), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def http_json(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    text = raw.decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def wait_for(cond: Callable[[], T | None], timeout: float, what: str = "condition") -> T:
    """Poll ``cond`` (another process's state) until it returns something truthy, or fail."""
    deadline = time.monotonic() + timeout
    while True:
        found = cond()
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met within {timeout}s")
        time.sleep(0.1)  # polling another process; bounded by the deadline


@contextmanager
def bridge_run(tmp: Path, config: str = "", args: tuple[str, ...] = ()) -> Iterator[Run]:
    """``chatbridge [args] run`` with no platform credentials; stopped with SIGTERM (must exit 0)."""
    data = tmp / "data"
    cfg = tmp / "config.yaml"
    cfg.write_text(f"redis:\n  data_dir: {data}\nhttp:\n  port: 0\n{config}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "REDIS_URL"))}
    log_path = tmp / "run.log"
    ready = (data / SANDBOX_FILE).exists
    with bridge_process(cfg, tmp, env, log_path, args=args, ready=ready) as proc:
        yield Run(cfg, tmp, log_path, proc)
