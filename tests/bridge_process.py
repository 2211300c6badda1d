"""``chatbridge run`` as a subprocess, the way an operator starts it: boot, then SIGTERM (must exit 0).

Shared by the tests that drive a whole bridge process (sandbox e2e, ops, platforms unreachable).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

BOOT_TIMEOUT = 60.0
SANDBOX_FILE = "chatbridge-sandbox.json"


def wait_for(cond: Callable[[], object], timeout: float, what: str = "condition") -> None:
    """Poll another process's state (its log, its files, its answers) until ``cond()`` is truthy."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)  # polling another process's output; bounded by the deadline


def cli(cfg: Path, cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``chatbridge -c cfg <args>`` beside the running bridge; its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "bridge", "-c", str(cfg), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _tail(log_path: Path) -> str:
    return log_path.read_text(errors="replace")[-3000:]


@contextmanager
def bridge_process(
    cfg: Path, cwd: Path, env: dict[str, str], log_path: Path, *, args: tuple[str, ...] = (), ready: Callable[[], bool]
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``chatbridge -c cfg [args] run``, wait for ``ready()`` (or the process to end: then fail
    with its log), yield it; on the way out SIGTERM it (SIGKILL after 30 s) and require exit 0."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "-c", str(cfg), *args, "run"], env=env, cwd=cwd, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + BOOT_TIMEOUT
            while not (ready() or proc.poll() is not None):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"chatbridge run not ready within {BOOT_TIMEOUT}s:\n{_tail(log_path)}")
                time.sleep(0.05)  # polling another process; bounded by the deadline
            assert proc.poll() is None, _tail(log_path)
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, _tail(log_path)
