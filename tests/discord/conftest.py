"""Shared fixtures for the Discord emulator and adapter tests: a running emulator, discord.py pointed
at it, and a small recording discord.py client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest
import yarl
from discord_kit import RecordingClient, StartClient

from bridge.adapters.discord import DiscordAdapter, DiscordConfig
from bridge.core.chat import Chat
from bridge.emulators.discord import DiscordEmulator


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    async with DiscordEmulator() as emu:
        yield emu


@pytest.fixture
def discord_endpoints(emulator: DiscordEmulator, monkeypatch: pytest.MonkeyPatch) -> DiscordEmulator:
    """Point the process-global discord.py endpoints at the emulator (restored after the test)."""
    monkeypatch.setattr(discord.http.Route, "BASE", emulator.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(emulator.gateway_url))
    return emulator


@pytest.fixture
async def run_client(discord_endpoints: DiscordEmulator) -> AsyncIterator[StartClient]:
    """Start discord.py clients against the emulator; close them (and check they ended cleanly) after."""
    running: list[tuple[discord.Client, asyncio.Task[None]]] = []

    async def start(client: discord.Client, ready: asyncio.Event) -> discord.Client:
        task = asyncio.create_task(client.start(discord_endpoints.token))
        running.append((client, task))
        ready_wait = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({task, ready_wait}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if ready_wait not in done:
            ready_wait.cancel()
            if task in done:
                task.result()  # re-raise why the client died
            raise TimeoutError("discord.py client did not become ready")
        return client

    yield start
    for client, task in running:
        await client.close()
        await asyncio.wait_for(task, timeout=10)


@pytest.fixture
async def client(run_client: StartClient) -> RecordingClient:
    bot = RecordingClient()
    await run_client(bot, bot.ready_event)
    return bot


@pytest.fixture
def adapter_config(discord_endpoints: DiscordEmulator) -> DiscordConfig:
    """Adapter config for the emulator; the URLs are applied by the adapter (restored by monkeypatch)."""
    return DiscordConfig(
        api_base=discord_endpoints.api_base,
        gateway_url=discord_endpoints.gateway_url,
        guild_ids=(int(discord_endpoints.guild_id),),
    )


@pytest.fixture
async def adapter(
    chat: Chat, adapter_config: DiscordConfig, emulator: DiscordEmulator
) -> AsyncIterator[DiscordAdapter]:
    bridge = DiscordAdapter(chat=chat, config=adapter_config)
    await bridge.start(emulator.token, ready_within=10)
    yield bridge
    await bridge.close()
