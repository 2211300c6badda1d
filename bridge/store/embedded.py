"""An embedded ``redis-server`` with the RediSearch module, started when no Redis URL is configured.

It binds to 127.0.0.1 on a free port, keeps its data and AOF in the configured data dir, and is
stopped (SIGTERM, then SIGKILL) by pid. The test suite starts its servers the same way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bridge.errors import StoreError

log = logging.getLogger("bridge.store.embedded")

DEFAULT_MODULE = "/usr/lib/redis/modules/redisearch.so"
INSTALL_HINT = (
    "Debian/Ubuntu: apt-get install -y redis-server redis-redisearch. "
    "Or set redis.url in the config (or REDIS_URL) to a Redis that has RediSearch loaded."
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_binaries(module_path: str = DEFAULT_MODULE) -> tuple[str, str]:
    server = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if server is None:
        raise StoreError(f"redis-server is not installed. {INSTALL_HINT}")
    if not Path(module_path).is_file():
        raise StoreError(f"The RediSearch module is missing ({module_path}). {INSTALL_HINT}")
    return server, module_path


@dataclass
class EmbeddedRedis:
    data_dir: Path
    appendonly: bool = True
    appendfsync: str = "everysec"
    port: int = 0
    module_path: str = DEFAULT_MODULE
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> str:
        server, module = find_binaries(self.module_path)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        args = [
            server,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--loadmodule", module,
            "--dir", str(self.data_dir.resolve()),
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", self.appendfsync,
            "--logfile", "redis.log",
            "--daemonize", "no",
            *self.extra_args,
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.data_dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                logfile = self.data_dir / "redis.log"
                tail = logfile.read_text(errors="replace")[-800:] if logfile.exists() else ""
                raise StoreError(f"redis-server exited at start ({self.process.returncode}): {err}{tail}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                log.info(
                    "embedded redis-server pid %s on 127.0.0.1:%s, data in %s",
                    self.process.pid,
                    self.port,
                    self.data_dir,
                )
                return self.url
            time.sleep(0.02)  # polling a socket that is not open yet; bounded by the deadline
        self.stop()
        raise StoreError(f"redis-server did not accept connections on 127.0.0.1:{self.port} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
        if proc.stderr:
            proc.stderr.close()

    def kill(self) -> None:
        """SIGKILL the server (tests of crash recovery)."""
        if self.process is not None:
            os.kill(self.process.pid, 9)
            self.process.wait()
            if self.process.stderr:
                self.process.stderr.close()
            self.process = None
