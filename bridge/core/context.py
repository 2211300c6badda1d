"""What every core service shares: the Redis clients, the scripts, the search module and settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.store import keys
from bridge.store.connection import RedisClient
from bridge.store.scripts import Scripts
from bridge.store.search import SearchModule


@dataclass(frozen=True)
class CoreSettings:
    stream_maxlen: int = 0
    """Approximate MAXLEN of channel streams (0 keeps every entry; the message hashes stay either way)."""
    dedupe_ttl_s: int = 7 * 24 * 3600
    """How long a platform event key is remembered (Slack retries for hours, Discord replays minutes)."""
    link_code_ttl_s: int = 600
    history_max: int = 200
    show_join_leave: bool = True
    mirror_partitions: int = 8
    """Partitions of the mirror log (``cb:log:<n>``); more partitions let more workers share rooms."""
    mirror_log_maxlen: int = 1_000_000
    max_message_chars: int = 40_000
    """Longest message the core records (Slack's limit; above it the sender is told)."""
    wait_replicas: int = 0
    """Platform events are acknowledged once their writes reached this many replicas (0: no WAIT)."""
    wait_timeout_ms: int = 500
    backfill_default: int = 0
    """N of ``link`` without ``--backfill`` (0: link without importing history)."""


@dataclass
class CoreContext:
    redis: RedisClient
    module: SearchModule
    scripts: Scripts
    settings: CoreSettings = field(default_factory=CoreSettings)
    clock: Callable[[], float] = time.time

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def log_args(self, channel: str) -> tuple[str, int]:
        """The mirror-log key and MAXLEN the write scripts append a room event to."""
        part = keys.partition_of(channel, self.settings.mirror_partitions)
        return keys.mirror_log(part), self.settings.mirror_log_maxlen

    @property
    def index_flag(self) -> str:
        return "1" if self.module.explicit else "0"
