"""Settings of the Slack adapter (``slack:`` in the config file) and its secrets (environment only)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bridge.errors import ConfigError

BOT_TOKEN_ENV = "SLACK_BOT_TOKEN"
APP_TOKEN_ENV = "SLACK_APP_TOKEN"
SIGNING_SECRET_ENV = "SLACK_SIGNING_SECRET"


class SlackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["socket", "http"] = "socket"
    """``socket``: Socket Mode with the app token (no public URL needed). ``http``: Events API and
    slash commands POSTed to ``http_path`` on ``http_host:http_port``, checked with the signing secret."""
    api_base_url: str | None = None
    """Web API base URL; only for the local emulator (e.g. ``http://127.0.0.1:8765/api/``)."""
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=3000, ge=0, le=65535)
    http_path: str = "/slack/events"
    command: str = "/chat"
    admin_users: tuple[str, ...] = ()
    """Slack user ids (``U…``) allowed to run admin commands besides workspace admins and owners."""
    max_message_chars: int = Field(default=4000, ge=100, le=40_000)
    """Longer mirrored messages are split into several posts (Slack truncates text above 40,000)."""
    profile_cache_seconds: float = Field(default=300.0, ge=0)
    post_per_second: float = Field(default=1.0, gt=0, le=100)
    """Mirrored posts per second per channel: Slack allows "one message per second per channel"
    (api.slack.com/apis/rate-limits); a backlog drains at this pace instead of in 429s."""
    post_burst: int = Field(default=2, ge=1, le=50)
    """Posts a quiet channel may take at once ("short bursts >1 allowed")."""
    rate_limit_speed: float = Field(default=1.0, gt=0)
    """Multiplies every paced rate. Only for an emulator whose limits run that much faster (its
    ``rate_limit_speed``, in a test or bench that floods); Slack's own limits never change."""
    socket_ping_interval_s: float = Field(default=10.0, gt=0, le=300)
    """Socket Mode: how often slack_sdk pings the socket and, after a drop, retries to reconnect
    (slack_sdk's ``ping_interval``; a socket silent for 4 intervals counts as stale)."""
    reconnect_min_s: float = Field(default=1.0, gt=0.0)
    """Slack unreachable at start: retry after about this long, doubling (jittered) …"""
    reconnect_max_s: float = Field(default=300.0, gt=0.0)
    """… up to this long between attempts."""
    bad_token_retry_s: float = Field(default=600.0, gt=0.0)
    """Slack refused a token: one error line, then a retry this slowly."""
    early_edit_hold_s: float = Field(default=420.0, gt=0.0)
    """An edit/delete of a message not seen yet is left un-acked (Slack delivers it again) while the
    message is younger than this: Slack retries an event immediately, after 1 minute and after 5
    more (api.slack.com/apis/events-api#retries; each after a 3 s timeout), so the message itself
    can still arrive about 6 min 12 s after it was posted; 7 minutes leaves room for clock skew."""
    admin_fix_retry_s: float = Field(default=300.0, gt=0.0)
    """A room held because its channel refuses the app (``channel_access``): retried this often."""

    @field_validator("api_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("http_path", "command")
    @classmethod
    def _slash(cls, value: str) -> str:
        if not value.startswith("/") or " " in value:
            raise ValueError("must start with / and contain no spaces")
        return value

    @field_validator("admin_users")
    @classmethod
    def _user_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for uid in value:
            if uid[:1] not in ("U", "W") or not uid.isalnum() or not uid.isupper():
                raise ValueError(f"{uid!r} is not a Slack user id (U… or W…)")
        return value


@dataclass(frozen=True)
class SlackSecrets:
    bot_token: str
    app_token: str | None = None
    signing_secret: str | None = None

    @classmethod
    def from_env(cls, mode: Literal["socket", "http"], env: Mapping[str, str] | None = None) -> SlackSecrets:
        """Read the tokens the mode needs; a missing or malformed one is a :class:`ConfigError`."""
        env = os.environ if env is None else env
        bot = env.get(BOT_TOKEN_ENV, "").strip()
        if not bot.startswith("xoxb-"):
            raise ConfigError(f"{BOT_TOKEN_ENV} must be set to the bot token (xoxb-…) of the Slack app")
        if mode == "socket":
            app = env.get(APP_TOKEN_ENV, "").strip()
            if not app.startswith("xapp-"):
                raise ConfigError(
                    f"{APP_TOKEN_ENV} must be set to an app-level token (xapp-…, scope connections:write) "
                    "for Socket Mode, or set slack.mode: http"
                )
            return cls(bot_token=bot, app_token=app)
        secret = env.get(SIGNING_SECRET_ENV, "").strip()
        if not secret:
            raise ConfigError(f"{SIGNING_SECRET_ENV} must be set for slack.mode: http (Basic Information page)")
        return cls(bot_token=bot, signing_secret=secret)

    def __repr__(self) -> str:
        return "SlackSecrets(<redacted>)"
