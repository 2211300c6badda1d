"""Redis Sentinel and WAIT settings: validated at start, each bad value named; one Redis at a time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import config
from bridge.errors import ConfigError
from bridge.store import sentinel

GOOD = "redis:\n  sentinel:\n    master: chat\n    addresses: ['127.0.0.1:26379', 'sentinel-2:26380']\n"


def _load(tmp_path: Path, text: str) -> config.Config:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return config.load(path)


@pytest.fixture(autouse=True)
def _no_redis_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "REDIS_SENTINELS", "REDIS_SENTINEL_MASTER"):
        monkeypatch.delenv(name, raising=False)


def test_a_sentinel_group_from_the_file_becomes_its_url(tmp_path: Path) -> None:
    cfg = _load(tmp_path, GOOD + "  wait:\n    replicas: 1\n    timeout_ms: 200\n")
    url = cfg.redis_url()
    assert url == "redis+sentinel://127.0.0.1:26379,sentinel-2:26380/chat"
    assert url is not None and sentinel.parse_url(url).addresses == (("127.0.0.1", 26379), ("sentinel-2", 26380))
    settings = cfg.core_settings()
    assert (settings.wait_replicas, settings.wait_timeout_ms) == (1, 200)


def test_a_sentinel_group_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_SENTINELS", "10.0.0.1:26379, 10.0.0.2:26379,[::1]:26381")
    monkeypatch.setenv("REDIS_SENTINEL_MASTER", "mymaster")
    url = config.Config().redis_url()
    assert url == "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379,[::1]:26381/mymaster"
    assert sentinel.parse_url(url).addresses[2] == ("::1", 26381)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis:\n  sentinel:\n    addresses: ['h:1']\n", "redis.sentinel.master: Field required"),
        ("redis:\n  sentinel:\n    master: m\n", "redis.sentinel.addresses: Field required"),
        ("redis:\n  sentinel:\n    master: m\n    addresses: []\n", "at least one sentinel address"),
        ("redis:\n  sentinel:\n    master: m\n    addresses: [h]\n", "'h' is not host:port"),
        ("redis:\n  sentinel:\n    master: m\n    addresses: ['h:0']\n", "port must be a number from 1 to 65535"),
        ("redis:\n  sentinel:\n    master: m\n    addresses: ['h:99999']\n", "port must be a number from 1"),
        ("redis:\n  sentinel:\n    master: m\n    addresses: ['h:port']\n", "port must be a number"),
        ("redis:\n  sentinel:\n    master: m\n    addresses: ['bad host:1']\n", "is not a host name"),
        ("redis:\n  sentinel:\n    master: m\n    addresses: ['h:1', 'h:1']\n", "listed twice"),
        ("redis:\n  sentinel:\n    master: m\n    addresses: 'h:1'\n", "Input should be a valid list"),
        ("redis:\n  sentinel:\n    master: 'two words'\n    addresses: ['h:1']\n", "is not a master name"),
        ("redis:\n  sentinel:\n    master: ''\n    addresses: ['h:1']\n", "is not a master name"),
        ("redis:\n  sentinel:\n    master: m\n    addresses: ['h:1']\n    port: 3\n", "Extra inputs"),
        ("redis:\n  url: redis://h:1/0\n" + GOOD.removeprefix("redis:\n"), "set either url or sentinel, not both"),
        ("redis:\n  url: redis+sentinel://h:1/m\n", "a Sentinel group: redis.sentinel"),
        ("redis:\n  wait:\n    replicas: -1\n", "redis.wait.replicas"),
        ("redis:\n  wait:\n    replicas: 17\n", "redis.wait.replicas"),
        ("redis:\n  wait:\n    replicas: one\n", "redis.wait.replicas"),
        ("redis:\n  wait:\n    timeout_ms: 0\n", "redis.wait.timeout_ms"),
        ("redis:\n  wait:\n    timeout_ms: 2501\n", "redis.wait.timeout_ms"),
        ("redis:\n  wait:\n    timeout: 5\n", "redis.wait.timeout: Extra inputs"),
    ],
)
def test_bad_sentinel_and_wait_settings_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"REDIS_SENTINELS": "h:26379"}, "REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER is not"),
        ({"REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINEL_MASTER is set but REDIS_SENTINELS is not"),
        ({"REDIS_SENTINELS": "h", "REDIS_SENTINEL_MASTER": "m"}, "'h' is not host:port"),
        ({"REDIS_SENTINELS": ",", "REDIS_SENTINEL_MASTER": "m"}, "is not host:port"),
        ({"REDIS_SENTINELS": "h:1", "REDIS_SENTINEL_MASTER": "a/b"}, "is not a master name"),
        ({"REDIS_SENTINELS": "h:1", "REDIS_SENTINEL_MASTER": "m", "REDIS_URL": "redis://h:2/0"}, "choose one"),
        ({"REDIS_URL": "redis+sentinel://h:1/m"}, "REDIS_URL: a Sentinel group is set with REDIS_SENTINELS"),
    ],
)
def test_bad_sentinel_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        config.Config().redis_url()
    assert expected in str(info.value)


def test_wait_needs_a_redis_with_replicas(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"redis\.wait\.replicas needs a Redis with replicas"):
        _load(tmp_path, "redis:\n  wait:\n    replicas: 1\n").redis_url()
    assert _load(tmp_path, "redis:\n  url: redis://h:1/0\n  wait:\n    replicas: 1\n").redis_url() == "redis://h:1/0"


def test_the_file_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As with redis.url and REDIS_URL: what the file says is used, the environment is the fallback."""
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:1/0")
    assert _load(tmp_path, GOOD).redis_url() == "redis+sentinel://127.0.0.1:26379,sentinel-2:26380/chat"


def test_a_bad_sentinel_environment_is_one_clear_line_at_start(tmp_path: Path) -> None:
    """The CLI's configuration error (exit 2), no traceback, before anything touches Redis."""
    env = {**os.environ, "REDIS_SENTINELS": "127.0.0.1", "REDIS_SENTINEL_MASTER": "m", "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL", None)
    (tmp_path / "config.yaml").write_text(f"redis:\n  data_dir: {tmp_path / 'data'}\n")
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "-c", str(tmp_path / "config.yaml"), "exec", "channels"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "REDIS_SENTINELS / REDIS_SENTINEL_MASTER: '127.0.0.1' is not host:port" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "data").exists()
