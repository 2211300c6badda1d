"""Discord adapter (discord.py 2.7.1): ``/chat`` slash commands, room traffic in and out."""

from __future__ import annotations

from .client import DiscordAdapter
from .config import DiscordConfig
from .endpoints import apply_endpoints
from .outbound import DiscordDestination

__all__ = ["DiscordAdapter", "DiscordConfig", "DiscordDestination", "apply_endpoints"]
