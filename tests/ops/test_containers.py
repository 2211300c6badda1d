"""docker-compose.yml and the Dockerfile, checked with what runs here (no container engine): the
compose file's YAML, the environment it passes, and the config the image carries, through the same
schema ``chatbridge run`` validates at start."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bridge import config
from bridge.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
VAR = re.compile(r"\$\{(\w+)(?::?[?-][^}]*)?\}")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line]
    return {k.strip(): v for k, v in pairs if not k.startswith("#")}


def interpolate(value: str, env: dict[str, str]) -> str:
    return VAR.sub(lambda m: env[m.group(1)], value)


def test_every_variable_compose_reads_is_in_the_env_example_and_none_is_filled_in() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = {m.group(1) for m in VAR.finditer(text)}
    example = env_example()
    assert used <= set(example), used - set(example)
    assert {"DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"} <= set(example)
    assert all(v == "" for v in example.values()), "the example must not carry secrets"
    assert ".env" in (ROOT / ".gitignore").read_text().split() and ".env" in (ROOT / ".dockerignore").read_text()


def test_the_bridge_service_passes_a_config_the_schema_accepts() -> None:
    services = compose()["services"]
    bridge = services["bridge"]
    assert (ROOT / bridge["build"]["context"] / bridge["build"]["dockerfile"]).is_file()
    assert bridge["env_file"] == [".env"]
    env = {k: "example-pass" for k in env_example()}
    url = interpolate(bridge["environment"]["REDIS_URL"], env)
    assert url == "redis://:example-pass@redis:6379/0"
    parsed = config.parse({"redis": {"url": url}})
    assert parsed.redis_url() == url
    args = build_parser().parse_args(bridge["command"])
    assert args.command == "run" and args.log_format == "json"
    assert bridge["depends_on"]["redis"]["condition"] == "service_healthy"

    # the config the image carries (Dockerfile COPY → a path chatbridge reads by default)
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = re.search(r"^COPY (\S+) (/etc/chatbridge/config\.yaml)$", dockerfile, re.M)
    assert copied is not None and copied.group(2) in config.DEFAULT_PATHS
    image_cfg = config.load(ROOT / copied.group(1))
    assert image_cfg.http.host == "0.0.0.0" and str(image_cfg.redis.data_dir) == "/data"
    assert image_cfg.redis.url is None  # embedded unless REDIS_URL is set (compose sets it)
    port = str(image_cfg.http.port)
    assert f"EXPOSE {port}" in dockerfile and f"127.0.0.1:{port}/healthz" in dockerfile
    assert any(str(p).endswith(f":{port}") for p in bridge["ports"])
    assert 'VOLUME ["/data"]' in dockerfile and any(v.endswith(":/data") for v in bridge["volumes"])


def test_the_redis_service_persists_with_aof_and_a_password() -> None:
    redis = compose()["services"]["redis"]
    command = [str(c) for c in redis["command"]]
    assert command[0] == "redis-server"
    flags = dict(zip(command[1::2], command[2::2], strict=True))
    assert flags["--appendonly"] == "yes" and flags["--appendfsync"] in ("everysec", "always")
    assert VAR.fullmatch(flags["--requirepass"]) and "REDIS_PASSWORD" in flags["--requirepass"]
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert set(compose()["volumes"]) >= {v.split(":")[0] for v in redis["volumes"]}
    assert redis["image"].startswith(("redis:8", "redis/redis-stack"))
