"""The ``discord:`` section of the config file, validated. Secrets never live in the file.

Keys (all optional)::

    discord:
      application_id: 123456789012345678   # else taken from the login (GET /oauth2/applications/@me)
      guild_ids: [111, 222]                # allow-list; empty = every guild the bot is in (global commands)
      message_content: true                # privileged intent; needed to mirror message text
      admin_role_ids: [333]                # these roles count as admins, besides Manage Channels
      command_name: chat                   # the slash command group: /chat <command>
      webhook_name: chatbridge             # name of the per-channel webhooks the bridge creates
      api_base: http://127.0.0.1:8301/api/v10   # emulator only: REST base URL
      gateway_url: ws://127.0.0.1:8301/gateway  # emulator only: gateway URL
      defer_after: 2.0                     # answer directly if a command finishes sooner, else defer
      max_ratelimit_timeout: 30            # outside deliveries: longer bot-route 429s raise (discord.py)
      webhook_max_wait_s: 2.0              # longer 429s in a delivery (webhook or bot route): rescheduled
                                           # by the worker, not slept
      shards: auto                         # large bots: "auto" (Discord's recommendation) or a count;
                                           # absent = one gateway connection
      identify_delay: 5.0                  # seconds between shard IDENTIFYs (Discord's limit)
      reconnect_min_s: 1.0                 # Discord unreachable: retry after 1 s, doubling (jittered)
      reconnect_max_s: 300.0               #   up to 5 minutes between attempts
      bad_token_retry_s: 600.0             # token refused / intent missing: one error line, retry slowly
      admin_fix_retry_s: 300.0             # a room waiting for an admin (channel has 15 webhooks): retry
      reaction_interval_s: 0.25            # the bot's reactions per channel at most this often
      catch_up_on_start: true              # at start, take in what was said while the bridge was down

The token comes from the environment variable named by ``token_env`` (default ``DISCORD_TOKEN``).
``DISCORD_API_BASE`` / ``DISCORD_GATEWAY_URL`` in the environment override the two URLs (how a
subprocess is pointed at the emulator). See :mod:`bridge.adapters.discord.endpoints` for how they apply.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bridge.errors import ConfigError

_NAME_RE = re.compile(r"^[-_a-z0-9]{1,32}$")


class DiscordConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    application_id: int | None = None
    guild_ids: tuple[int, ...] = ()
    message_content: bool = True
    admin_role_ids: tuple[int, ...] = ()
    command_name: str = "chat"
    webhook_name: str = "chatbridge"
    api_base: str | None = None
    gateway_url: str | None = None
    token_env: str = "DISCORD_TOKEN"
    defer_after: float = Field(default=2.0, ge=0.0, le=2.5)
    shards: int | Literal["auto"] | None = None
    identify_delay: float = Field(default=5.0, ge=0.0)
    max_ratelimit_timeout: float = Field(default=30.0, ge=30.0)
    webhook_max_wait_s: float = Field(default=2.0, ge=0.0, le=30.0)
    """A webhook 429 asking for longer is rescheduled by the worker instead of slept inside the call
    (``webhook_limits``); shorter ones discord.py waits out and retries."""
    reconnect_min_s: float = Field(default=1.0, gt=0.0)
    reconnect_max_s: float = Field(default=300.0, gt=0.0)
    bad_token_retry_s: float = Field(default=600.0, gt=0.0)
    admin_fix_retry_s: float = Field(default=300.0, gt=0.0)
    reaction_interval_s: float = Field(default=0.25, ge=0.0, le=10.0)
    """Pause between two of the bot's reaction calls in one channel (Discord: ~1 per 0.25 s)."""
    catch_up_on_start: bool = True
    """At start, take in what was said while the bridge was down (from each linked channel's anchor)."""

    @field_validator("shards")
    @classmethod
    def _shards(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and value < 1:
            raise ValueError("must be 'auto' or a positive number of shards")
        return value

    @field_validator("command_name")
    @classmethod
    def _command_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("must be 1-32 lowercase letters, digits, '-' or '_' (a Discord command name)")
        return value

    @field_validator("webhook_name")
    @classmethod
    def _webhook_name(cls, value: str) -> str:
        if not 1 <= len(value) <= 80 or "discord" in value.lower() or "clyde" in value.lower():
            raise ValueError("must be 1-80 characters and must not contain 'discord' or 'clyde'")
        return value

    @field_validator("api_base")
    @classmethod
    def _api_base(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8301/api/v10")
        return value.rstrip("/") if value else value

    @field_validator("gateway_url")
    @classmethod
    def _gateway_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^wss?://[^/\s]+(/\S*)?$", value):
            raise ValueError("must be a ws(s) URL such as ws://127.0.0.1:8301/gateway")
        return value

    @classmethod
    def load(cls, data: Mapping[str, Any] | None, *, environ: Mapping[str, str] | None = None) -> DiscordConfig:
        """Validate the ``discord:`` mapping; raise :class:`ConfigError` naming the bad setting."""
        env = os.environ if environ is None else environ
        raw = dict(data or {})
        if "token" in raw:
            raise ConfigError(
                "discord.token: the token must not be in the config file; set DISCORD_TOKEN in the environment"
            )
        if env.get("DISCORD_API_BASE"):
            raw["api_base"] = env["DISCORD_API_BASE"]
        if env.get("DISCORD_GATEWAY_URL"):
            raw["gateway_url"] = env["DISCORD_GATEWAY_URL"]
        try:
            return cls.model_validate(raw)
        except ValidationError as err:
            problems = "; ".join(
                f"discord.{'.'.join(str(p) for p in e['loc']) or '?'}: {e['msg']}" for e in err.errors()
            )
            raise ConfigError(problems) from None

    def token(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The bot token from the environment, or ``None`` when it is not set."""
        env = os.environ if environ is None else environ
        value = env.get(self.token_env, "").strip()
        return value or None

    @property
    def uses_emulator(self) -> bool:
        return self.api_base is not None or self.gateway_url is not None
