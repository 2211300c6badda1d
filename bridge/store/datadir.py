"""One embedded Redis per data dir, whatever happened to the process that started it.

Two servers on one AOF lose data, so a data dir has exactly one owner at a time:

- **The lock.** ``chatbridge.lock`` in the data dir is held with ``flock`` (exclusive, never
  blocking) by the process that owns the dir's server (``chatbridge run``, or a one-off command
  that needed a temporary server). The kernel drops an flock when its holder dies for any reason
  (SIGKILL, OOM, a machine crash: locks do not outlive a boot), so a lock left behind is *stale*
  by construction: the file's text (pid, host, role, time) is only for the message that says so.
  The redis-server child never inherits the lock (``subprocess`` closes inherited descriptors).
- **The server record.** ``chatbridge-redis.json`` names the owner's server: pid, port, the
  server's ``run_id`` (random per server start, from ``INFO server``) and its data dir. A record
  is trusted only when a server answers on that port with the same ``process_id``, the same
  ``run_id`` and ``CONFIG GET dir`` equal to this data dir: a reused pid or port is not ours.
- **Adopt.** The owner of a freshly taken lock that finds a verified record (its server outlived
  a SIGKILLed ``chatbridge run``) adopts that server instead of starting a second one: same
  process, same memory, nothing acknowledged is lost. It stops it on exit like its own.
- **Share.** While another process owns the lock, commands (``exec``, ``seed``, ``dlq``…) use
  the owner's verified server; a second ``chatbridge run`` is refused with the owner's pid.

Local filesystems only (flock on NFS is not reliable).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Literal

import redis

from bridge.errors import StoreError
from bridge.store.embedded import EmbeddedRedis

log = logging.getLogger(__name__)

LOCK_FILE = "chatbridge.lock"
SERVER_FILE = "chatbridge-redis.json"
Role = Literal["run", "command"]


@dataclass(frozen=True)
class ServerRecord:
    pid: int
    port: int
    run_id: str
    dir: str

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def read_record(data_dir: Path) -> ServerRecord | None:
    try:
        raw = json.loads((data_dir / SERVER_FILE).read_text())
        return ServerRecord(int(raw["pid"]), int(raw["port"]), str(raw["run_id"]), str(raw["dir"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _identity(port: int) -> tuple[int, str, str] | None:
    """(process_id, run_id, dir) of the server on 127.0.0.1:port, or None if none answers."""
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=1, decode_responses=True)
    try:
        info = client.info("server")
        folder = client.config_get("dir").get("dir", "")
        return int(info["process_id"]), str(info["run_id"]), os.path.realpath(str(folder))
    except (redis.RedisError, OSError, KeyError, ValueError):
        return None
    finally:
        client.close()


def verified(record: ServerRecord | None, data_dir: Path) -> bool:
    """True when the record's server is alive and really the one this data dir's owner started."""
    if record is None:
        return False
    found = _identity(record.port)
    return found == (record.pid, record.run_id, os.path.realpath(data_dir))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DataDirLock:
    """The exclusive flock on ``<data_dir>/chatbridge.lock``."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._file: IO[str] | None = None

    def holder(self) -> dict[str, object]:
        try:
            value = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def try_acquire(self, role: Role) -> bool:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        previous = self.holder()
        if previous.get("pid") and previous.get("pid") != os.getpid():
            log.warning(
                "stale data dir lock %s from pid %s on %s (%s since %s): that process is gone "
                "(killed, or the machine restarted); taking over",
                self.path,
                previous.get("pid"),
                previous.get("host"),
                previous.get("role"),
                previous.get("since"),
            )
        handle.seek(0)
        handle.truncate()
        me = {"pid": os.getpid(), "host": socket.gethostname(), "role": role, "since": time.strftime("%FT%TZ")}
        handle.write(json.dumps(me))
        handle.flush()
        self._file = handle
        return True

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()


class AdoptedServer:
    """A server started by a previous owner that died; stopped by pid (it is not our child)."""

    def __init__(self, record: ServerRecord) -> None:
        self.record = record

    def stop(self, timeout: float = 10.0) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.record.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(self.record.pid) and time.monotonic() < deadline:
            time.sleep(0.02)  # waiting for another process to exit; bounded by the deadline
        if _pid_alive(self.record.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.record.pid, signal.SIGKILL)


@dataclass
class DataDirServer:
    """The data dir's embedded server as this process holds it."""

    url: str
    data_dir: Path
    mode: Literal["started", "adopted", "shared"]
    _lock: DataDirLock | None = None
    _server: EmbeddedRedis | AdoptedServer | None = None

    @property
    def owner(self) -> bool:
        return self.mode != "shared"

    def stop(self) -> None:
        """Owners stop the server (started or adopted), drop the record, then release the lock."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._lock is not None:
            (self.data_dir / SERVER_FILE).unlink(missing_ok=True)
            self._lock.release()
            self._lock = None


def open_server(
    data_dir: Path, start: Callable[[], EmbeddedRedis], *, role: Role, wait_s: float = 30.0
) -> DataDirServer:
    """The one server of ``data_dir``: adopt a verified orphan, else start one (``start`` builds
    the :class:`EmbeddedRedis`), or share the current owner's. A ``run`` is refused while another
    ``run`` owns the dir; anything else waits up to ``wait_s`` for the owner's server to be up."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = DataDirLock(data_dir)
    deadline = time.monotonic() + wait_s
    while True:
        if lock.try_acquire(role):
            return _own(data_dir, lock, start)
        holder = lock.holder()
        if role == "run" and holder.get("role") == "run":
            raise StoreError(
                f"the data dir {data_dir} is in use by another `chatbridge run` (pid {holder.get('pid')} on "
                f"{holder.get('host')}); stop it first, or give this one its own redis.data_dir"
            )
        record = read_record(data_dir)
        # a one-off command's temporary server stops when that command ends: wait for its lock
        if role == "command" and holder.get("role") == "run" and verified(record, data_dir):
            assert record is not None
            return DataDirServer(record.url, data_dir, "shared")
        if time.monotonic() > deadline:
            raise StoreError(
                f"the data dir {data_dir} is locked by pid {holder.get('pid')} ({holder.get('role')}) "
                f"and its Redis did not come up within {wait_s:.0f}s"
            )
        time.sleep(0.05)  # the owner is starting its server or finishing a command; bounded above


def _own(data_dir: Path, lock: DataDirLock, start: Callable[[], EmbeddedRedis]) -> DataDirServer:
    try:
        record = read_record(data_dir)
        if verified(record, data_dir):
            assert record is not None
            log.warning(
                "adopting redis-server pid %s (run_id %s) on 127.0.0.1:%s: it outlived the chatbridge "
                "process that started it; no second server is started on %s",
                record.pid,
                record.run_id[:12],
                record.port,
                data_dir,
            )
            return DataDirServer(record.url, data_dir, "adopted", lock, AdoptedServer(record))
        if record is not None:
            log.warning("server record of pid %s is stale (no such server any more); starting a new one", record.pid)
        server = start()
        url = server.start()
        found = _identity(server.port)
        if server.process is None or found is None:
            server.stop()
            raise StoreError(f"the embedded Redis on 127.0.0.1:{server.port} did not answer INFO after starting")
        mine = ServerRecord(server.process.pid, server.port, found[1], found[2])
        tmp = data_dir / (SERVER_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(mine)))
        tmp.replace(data_dir / SERVER_FILE)
        return DataDirServer(url, data_dir, "started", lock, server)
    except BaseException:
        lock.release()
        raise
