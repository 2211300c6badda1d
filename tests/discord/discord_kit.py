"""Test helpers shared by the Discord tests (imported by bare name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord
import pytest

from bridge.emulators.discord import DiscordEmulator

StartClient = Callable[[discord.Client, asyncio.Event], Awaitable[discord.Client]]


class RecordingClient(discord.Client):
    """A plain discord.py client that keeps what it receives, for emulator tests."""

    def __init__(self, **kwargs: Any) -> None:
        intents = kwargs.pop("intents", None) or discord.Intents.default()
        intents.message_content = kwargs.pop("message_content", True)
        super().__init__(intents=intents, guild_ready_timeout=0.05, **kwargs)
        self.tree = discord.app_commands.CommandTree(self)
        self.events: list[tuple[str, Any]] = []
        self.changed = asyncio.Event()
        self.ready_event = asyncio.Event()

    def _record(self, name: str, value: Any) -> None:
        self.events.append((name, value))
        self.changed.set()

    async def wait_for_events(self, predicate: Callable[[list[tuple[str, Any]]], bool], within: float = 5) -> None:
        """Wait (at most ``within`` seconds) until ``predicate(self.events)`` holds."""
        async with asyncio.timeout(within):
            while not predicate(self.events):
                self.changed.clear()
                await self.changed.wait()

    async def on_ready(self) -> None:
        self.ready_event.set()

    async def on_message(self, message: discord.Message) -> None:
        self._record("message", message)

    async def on_message_edit(self, before: discord.Message, after: discord.Message) -> None:
        self._record("edit", after)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        self._record("raw_edit", payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self._record("raw_delete", payload)

    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        self._record("channel_create", channel)

    async def on_resumed(self) -> None:
        self._record("resumed", None)


HOOK_POST = r"/webhooks/\d+/[^/]+"


def limit_the_nth_post(
    emulator: DiscordEmulator, monkeypatch: pytest.MonkeyPatch, n: int, *, retry_after: float, times: int
) -> None:
    """From the ``n``-th webhook execute on, the emulator answers ``times`` 429s of ``retry_after``."""
    posts = 0
    real = emulator._rate_limited

    def limited(record: Any) -> Any:
        nonlocal posts
        if record.method == "POST" and re.fullmatch(HOOK_POST, record.path):
            posts += 1
            if posts == n:
                emulator.rate_limit("POST", HOOK_POST, retry_after=retry_after, times=times)
        return real(record)

    monkeypatch.setattr(emulator, "_rate_limited", limited)
