"""The CLI facing an unreachable Redis, bytes that are not UTF-8 and a missing data dir: one clear
line and the documented exit code, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bridge.store.embedded import free_port

EXIT_REPLY_ERROR, EXIT_STORE = 1, 3


def chatbridge(
    *args: str | bytes, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args], env=env, cwd=cwd, capture_output=True, timeout=timeout
    )


def _env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "REDIS_"))}
    return base | extra


def test_exec_with_redis_down_prints_one_line_and_exits_3(tmp_path: Path) -> None:
    dead = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    done = chatbridge("exec", "history general 5", env=_env(REDIS_URL=dead), cwd=tmp_path)
    err = done.stderr.decode()
    assert done.returncode == EXIT_STORE, err
    assert err.count("\n") == 1 and err.startswith("redis error: Redis is unavailable at redis://:***@127.0.0.1")
    assert "hunter2" not in err and "Traceback" not in err


def test_non_utf8_bytes_on_the_command_line_are_refused_clearly(redis_url: str, tmp_path: Path) -> None:
    env = _env(REDIS_URL=redis_url)
    chatbridge("exec", "register ada", env=env, cwd=tmp_path)
    chatbridge("exec", "create general", env=env, cwd=tmp_path)
    for line in (b"post general caf\xe9", b"search caf\xe9", b"profile-set city caf\xe9", b"caf\xe9"):
        done = chatbridge("exec", "--as", "ada", line, env=env, cwd=tmp_path)
        out, err = done.stdout.decode(), done.stderr.decode()
        assert done.returncode == EXIT_REPLY_ERROR, (line, out, err)
        assert "not valid UTF-8" in out and "Traceback" not in err, (line, out, err)
    history = chatbridge("exec", "--as", "ada", "--json", "history general 5", env=env, cwd=tmp_path)
    assert history.returncode == 0 and b"caf" not in history.stdout


def test_run_with_an_external_redis_creates_a_missing_data_dir(redis_url: str, tmp_path: Path) -> None:
    data = tmp_path / "not" / "there" / "yet"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"redis:\n  data_dir: {data}\nhttp:\n  port: 0\n")
    log = (tmp_path / "run.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge", "-c", str(cfg), "run"],
        env=_env(REDIS_URL=redis_url),
        cwd=tmp_path,
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while not (data / "chatbridge-sandbox.json").exists() and proc.poll() is None:
            assert time.monotonic() < deadline, (tmp_path / "run.log").read_text()[-2000:]
            time.sleep(0.1)  # polling another process's file; bounded by the deadline
        assert proc.poll() is None, (tmp_path / "run.log").read_text()[-2000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
    assert proc.returncode == 0, (tmp_path / "run.log").read_text()[-2000:]
    assert "FileNotFoundError" not in (tmp_path / "run.log").read_text()
