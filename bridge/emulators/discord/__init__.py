"""A local, protocol-faithful Discord emulator (REST + gateway) for tests and ``make run`` without
credentials. See :class:`DiscordEmulator`."""

from __future__ import annotations

from .ratelimits import RateLimitRule
from .recorder import RecordedRequest
from .server import DiscordEmulator
from .state import EmulatorConfig, Interaction, UserSpec

__all__ = ["DiscordEmulator", "EmulatorConfig", "Interaction", "RateLimitRule", "RecordedRequest", "UserSpec"]
