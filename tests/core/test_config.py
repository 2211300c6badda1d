"""Configuration: validated once at start, every problem named with its setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge import config
from bridge.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_config_is_valid() -> None:
    cfg = config.load(ROOT / "config.example.yaml")
    assert cfg.redis.appendfsync == "everysec" and cfg.worker.workers == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis:\n  url: redis://<host>:6379\n", "redis.url"),
        ("redis:\n  url: http://x\n", "must start with redis://"),
        ("redis:\n  appendfsync: sometimes\n", "redis.appendfsync"),
        ("redis:\n  server_binary: ''\n", "redis.server_binary: Value error, must not be empty"),
        ("redis:\n  server_binary: <path to valkey-server>\n", "redis.server_binary: Value error, replace"),
        ("redis:\n  module_path: /usr/lib/redis/modules/\n", "redis.module_path: Value error, must be the path"),
        ("redis:\n  module_path: 12\n", "redis.module_path: Input should be a valid string"),
        ("worker:\n  index: 3\n  workers: 2\n", "index must be below workers"),
        ("rooms:\n  - channel: general\n    links: [discord-123]\n", "is not platform:workspace:channel"),
        ("colour: blue\n", "colour: Extra inputs are not permitted"),
        ("discord:\n  token: abc\n", "must not be in the config file"),
        ("discord:\n  command_name: 'Bad Name'\n", "discord.command_name"),
        ("slack:\n  mode: carrier-pigeon\n", "slack.mode"),
        ("slack:\n  post_per_second: 0\n", "slack.post_per_second"),
        ("slack:\n  post_burst: 0\n", "slack.post_burst"),
        ("slack:\n  rate_limit_speed: -1\n", "slack.rate_limit_speed"),
        ("discord:\n  webhook_max_wait_s: 60\n", "discord.webhook_max_wait_s"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("redis: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_settings_are_refused_with_their_path(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as info:
        config.load(path)
    assert expected in str(info.value)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        config.load(tmp_path / "nope.yaml")


def test_redis_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert config.Config().redis_url() == "redis://127.0.0.1:1/0"
