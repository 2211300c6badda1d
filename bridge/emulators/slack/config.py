"""Settings of the Slack emulator (all have working defaults; tests shorten the timers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bridge.emulators.slack.socket_faults import SocketTimers
from bridge.emulators.slack.state import Workspace


@dataclass
class RateLimit:
    """A token bucket (``limits.py``): ``limit`` calls at once, refilled at ``limit`` per ``window``
    seconds, per channel when ``per_channel`` (else workspace-wide)."""

    limit: int
    window: float = 1.0
    retry_after: float | None = None
    """``Retry-After`` to answer; None: the seconds until the bucket has a call again, rounded up."""
    per_channel: bool = True


def _tier(per_minute: int) -> RateLimit:
    return RateLimit(limit=per_minute, window=60.0, per_channel=False)


TIER_2, TIER_3, TIER_4 = _tier(20), _tier(50), _tier(100)
"""api.slack.com/apis/rate-limits: Tier 2 "20+ per minute", Tier 3 "50+", Tier 4 "100+" (bursts of that many)."""
TIER_1 = RateLimit(limit=10, window=600.0, per_channel=False)
"""Tier 1 "1+ per minute ... a small amount of burst behavior is tolerated": 1/min, bursts of 10
(``apps.connections.open``: a Socket Mode app reconnecting more often than that waits)."""

SLACK_LIMITS: dict[str, RateLimit | tuple[RateLimit, ...]] = {
    # "one message per second per channel ... short bursts >1 allowed", "while also maintaining a
    # workspace-wide limit" (api.slack.com/apis/rate-limits; the chat.postMessage page: "several
    # hundred messages per minute" across a workspace): a burst of 3, then 1/s per channel, 300/min
    "chat.postMessage": (RateLimit(limit=3, window=3.0), RateLimit(limit=300, window=60.0, per_channel=False)),
    # each method's reference page (docs.slack.dev/reference/methods/<method>, "Rate limits")
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "chat.postEphemeral": TIER_4,
    "reactions.add": TIER_3,
    "reactions.remove": TIER_3,
    "reactions.get": TIER_3,
    "users.info": TIER_4,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "conversations.info": TIER_3,
    "conversations.open": TIER_3,
    "emoji.list": TIER_2,
    "files.info": TIER_4,
    "files.delete": TIER_3,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
    "apps.connections.open": TIER_1,
}
"""The real limits, on by default; ``EmulatorConfig(rate_limits={})`` or ``emu.limiter.off()``: none."""


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
    rate_limits: dict[str, RateLimit | tuple[RateLimit, ...]] = field(default_factory=lambda: dict(SLACK_LIMITS))
    rate_limit_speed: float = 1.0
    """How much faster than real time the rate-limit buckets refill (``limits.py``; tests that flood)."""
    workspace: Workspace = field(default_factory=Workspace.default)
