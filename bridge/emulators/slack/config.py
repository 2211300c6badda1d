"""Settings of the Slack emulator (all have working defaults; tests shorten the timers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bridge.emulators.slack.socket_faults import SocketTimers
from bridge.emulators.slack.state import Workspace


@dataclass
class RateLimit:
    """At most ``limit`` calls of a method per ``window`` seconds (per channel when ``per_channel``)."""

    limit: int
    window: float = 1.0
    retry_after: int = 1
    per_channel: bool = True


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    update_keeps_persona: bool = True
    """Whether ``chat.update`` keeps a post's custom username/icon when the call does not send them
    again (undocumented; see webapi.chat_update)."""
    bot_token: str = "xoxb-emulator-bot-token"
    scopes: tuple[str, ...] = (
        "channels:history", "channels:join", "channels:read", "chat:write", "chat:write.customize", "commands",
        "emoji:read", "files:read", "files:write", "groups:history", "groups:read", "im:write",
        "reactions:read", "reactions:write", "users:read",
    )  # fmt: skip
    """Scopes the emulated app was installed with (sent as ``x-oauth-scopes``, as Slack does)."""
    app_token: str = "xapp-emulator-app-token"
    signing_secret: str = "emulator-signing-secret"
    delivery: Literal["socket", "http"] = "socket"
    """Where events and slash commands go: the Socket Mode connection, or ``request_url`` over HTTP."""
    request_url: str | None = None
    """Events API request URL (HTTP delivery)."""
    command_url: str | None = None
    """Slash command request URL (HTTP delivery); defaults to ``request_url``."""
    socket_ack_timeout: float = 3.0
    """Seconds an envelope may stay un-acked before Slack redelivers it with ``retry_attempt`` + 1."""
    socket_max_retries: int = 3
    socket_timers: SocketTimers = field(default_factory=SocketTimers)
    """Refresh period, disconnect delays and the connection limit of Socket Mode (``socket_faults``)."""
    http_timeout: float = 3.0
    """Seconds Slack waits for a 2xx from the request URL before it counts an ``http_timeout``."""
    http_retry_delays: tuple[float, ...] = (0.0, 60.0, 300.0)
    """Delay before each Events API retry (Slack: nearly at once, after 1 minute, after 5 minutes)."""
    command_timeout: float = 3.0
    """Seconds a slash command may take to be acknowledged before the user sees a timeout."""
    max_text_chars: int = 40_000
    rate_limits: dict[str, RateLimit] = field(default_factory=dict)
    workspace: Workspace = field(default_factory=Workspace.default)
