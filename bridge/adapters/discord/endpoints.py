"""Pointing discord.py at another Discord (the local emulator).

discord.py 2.7.1 has no constructor argument or environment variable for its URLs. Two class
attributes decide them, process-wide:

* ``discord.http.Route.BASE``: every REST route (bot calls, webhooks, interaction callbacks and
  followups) is ``BASE + path``, computed when the ``Route`` is built, so it must be set before the
  client starts. Never call ``discord.http._set_api_version``: it overwrites ``BASE``.
* ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``: the first gateway connection of a plain
  ``Client`` (it never asks ``GET /gateway``). Reconnects use READY's ``resume_gateway_url``, which
  the emulator points at itself.

:func:`apply_endpoints` sets both and returns the previous values so a caller can restore them.
"""

from __future__ import annotations

from dataclasses import dataclass

import discord
import yarl


@dataclass(frozen=True)
class Endpoints:
    api_base: str
    gateway_url: str


def current_endpoints() -> Endpoints:
    return Endpoints(discord.http.Route.BASE, str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY))


def apply_endpoints(*, api_base: str | None, gateway_url: str | None) -> Endpoints:
    """Set discord.py's REST base and/or gateway URL (``None`` keeps the current value)."""
    previous = current_endpoints()
    if api_base is not None:
        discord.http.Route.BASE = api_base.rstrip("/")
    if gateway_url is not None:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    return previous


def restore_endpoints(previous: Endpoints) -> None:
    apply_endpoints(api_base=previous.api_base, gateway_url=previous.gateway_url)


def jump_url(guild_id: str, channel_id: str, message_id: str) -> str:
    """The link Discord clients open to jump to a message."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"
