"""One embedded Redis per data dir: the flock, adopting a server that outlived a SIGKILLed owner,
stale locks and records after a crash, and a second `chatbridge run` refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from bridge_process import cli as bridge_cli
from generations import Generation

from bridge.errors import StoreError
from bridge.store.datadir import LOCK_FILE, SERVER_FILE, DataDirServer, open_server, read_record
from bridge.store.embedded import EmbeddedRedis, free_port

BOOT_TIMEOUT = 60.0
SERVERS = ("redis-server", "valkey-server")  # the comm of either generation's server


def servers_on(data_dir: Path) -> list[int]:
    """Pids of every embedded server process working in this data dir (the server rewrites its
    command line, so its working directory, which is its --dir, tells)."""
    want = os.path.realpath(data_dir)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in SERVERS and os.readlink(entry / "cwd") == want:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_for(cond: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)  # polling other processes; bounded by the deadline


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


@pytest.fixture
def servers() -> Iterator[list[DataDirServer]]:
    held: list[DataDirServer] = []
    yield held
    for server in held:
        server.stop()


def _start(data_dir: Path, generation: Generation) -> Callable[[], EmbeddedRedis]:
    return lambda: generation.server(data_dir, appendfsync="always")


ORPHAN_MAKER = """
import sys, pathlib
from bridge.store.datadir import open_server
from bridge.store.embedded import EmbeddedRedis
d = pathlib.Path(sys.argv[1])
s = open_server(d, lambda: EmbeddedRedis(data_dir=d, server_binary=sys.argv[2], module_path=sys.argv[3]), role="run")
print(s.url, flush=True)
sys.stdin.read()
"""


def test_a_server_left_by_a_killed_owner_is_adopted_not_doubled(
    data_dir: Path, servers: list[DataDirServer], caplog: pytest.LogCaptureFixture, generation: Generation
) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_MAKER, str(data_dir), generation.server_binary, generation.module_path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    url = owner.stdout.readline().strip()
    client = redis.Redis.from_url(url, decode_responses=True)
    for i in range(100):
        client.xadd("acked", {"n": str(i)})  # acknowledged writes, then the owner dies
    first = read_record(data_dir)
    assert first is not None and servers_on(data_dir) == [first.pid]
    owner.send_signal(signal.SIGKILL)
    owner.communicate()
    assert alive(first.pid)  # the orphan: what used to become a second server on the same AOF

    adopted = open_server(data_dir, _start(data_dir, generation), role="run")
    servers.append(adopted)
    assert adopted.mode == "adopted" and adopted.url == url
    assert servers_on(data_dir) == [first.pid]
    assert client.xlen("acked") == 100
    assert "adopting redis-server pid" in caplog.text and "stale data dir lock" in caplog.text
    client.close()
    adopted.stop()
    assert not alive(first.pid) and not (data_dir / SERVER_FILE).exists()

    again = open_server(data_dir, _start(data_dir, generation), role="run")  # a clean restart reads the AOF
    servers.append(again)
    assert again.mode == "started"
    with redis.Redis.from_url(again.url, decode_responses=True) as fresh:
        assert fresh.xlen("acked") == 100


def test_a_second_run_is_refused_and_commands_share_the_owners_server(
    data_dir: Path, servers: list[DataDirServer], generation: Generation
) -> None:
    owner = open_server(data_dir, _start(data_dir, generation), role="run")
    servers.append(owner)
    with pytest.raises(StoreError, match=r"in use by another `chatbridge run` \(pid \d+"):
        open_server(data_dir, _start(data_dir, generation), role="run")
    shared = open_server(data_dir, _start(data_dir, generation), role="command")
    assert shared.mode == "shared" and shared.url == owner.url
    shared.stop()  # a sharer never stops the owner's server
    with redis.Redis.from_url(owner.url) as client:
        assert client.ping()
    assert len(servers_on(data_dir)) == 1


def test_a_stale_lock_and_record_after_a_machine_crash_are_detected(
    data_dir: Path,
    servers: list[DataDirServer],
    redis_server: EmbeddedRedis,
    caplog: pytest.LogCaptureFixture,
    generation: Generation,
) -> None:
    """After a crash the lock file still names the dead owner and the record may point at a pid or
    port that now belongs to someone else (here: this test process, and the suite's own Redis,
    which has another run id and data dir). Neither is trusted; a new server starts."""
    data_dir.mkdir(parents=True)
    (data_dir / LOCK_FILE).write_text(json.dumps({"pid": 4_000_000, "host": "before-crash", "role": "run"}))
    assert redis_server.process is not None
    for pid, port in ((os.getpid(), free_port()), (redis_server.process.pid, redis_server.port)):
        record = {"pid": pid, "port": port, "run_id": "0" * 40, "dir": str(data_dir.resolve())}
        (data_dir / SERVER_FILE).write_text(json.dumps(record))
        server = open_server(data_dir, _start(data_dir, generation), role="run")
        servers.append(server)
        assert server.mode == "started" and server.url != redis_server.url
        assert "stale data dir lock" in caplog.text and "is stale" in caplog.text
        server.stop()
        servers.remove(server)
    assert redis_server.process.poll() is None  # the stranger's server was left alone


@pytest.mark.timeout(180)  # three `chatbridge run`s and eight CLI processes: over a minute on a loaded machine
def test_chatbridge_run_killed_then_restarted_adopts_its_redis(tmp_path: Path, generation: Generation) -> None:
    data = tmp_path / "data"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"redis:\n  data_dir: {data}\n  appendfsync: always\n{generation.config_yaml()}http:\n  port: 0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "REDIS_"))}

    def run() -> tuple[subprocess.Popen[bytes], Path]:
        log = tmp_path / f"run{len(list(tmp_path.glob('run*.log')))}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bridge", "-c", str(cfg), "run"], env=env, cwd=tmp_path, stdout=out, stderr=out
            )
        return proc, log

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return bridge_cli(cfg, tmp_path, *args, env=env)

    first, log1 = run()
    try:
        wait_for(lambda: (data / "chatbridge-sandbox.json").exists() or first.poll() is not None, BOOT_TIMEOUT, "boot")
        assert first.poll() is None, log1.read_text()[-2000:]
        assert cli("exec", "register ada").returncode == 0
        for i in range(5):
            assert cli("exec", "--as", "ada", f"post general acknowledged {i}").returncode == 0
        second_run = subprocess.run(
            [sys.executable, "-m", "bridge", "-c", str(cfg), "run"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
        )
        assert second_run.returncode == 3 and b"in use by another `chatbridge run`" in second_run.stderr
        orphan = servers_on(data)
        assert len(orphan) == 1
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert alive(orphan[0])

    again, log2 = run()
    try:
        wait_for(lambda: "chatbridge is running" in log2.read_text() or again.poll() is not None, BOOT_TIMEOUT, "boot")
        assert again.poll() is None, log2.read_text()[-2000:]
        assert "adopting redis-server pid" in log2.read_text()
        assert servers_on(data) == orphan
        history = cli("exec", "history general 20")
        for i in range(5):
            assert f"acknowledged {i}" in history.stdout
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(30)
    assert again.returncode == 0, log2.read_text()[-2000:]
    assert servers_on(data) == [] and not (data / SERVER_FILE).exists()
