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
