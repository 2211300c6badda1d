"""Shared fixtures for the Slack emulator and adapter tests (helpers live in ``slack_kit``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from slack_kit import SlackBridge, fast_config, running_bridge

from bridge.core.chat import Chat
from bridge.emulators.slack import SlackEmulator

EmulatorFactory = Callable[..., Awaitable[SlackEmulator]]


@pytest.fixture
async def emulator_factory() -> AsyncIterator[EmulatorFactory]:
    started: list[SlackEmulator] = []

    async def make(**overrides: Any) -> SlackEmulator:
        emu = SlackEmulator(config=fast_config(**overrides))
        await emu.start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        await emu.stop()


@pytest.fixture
async def slack(emulator_factory: EmulatorFactory) -> SlackEmulator:
    """An emulator delivering over Socket Mode."""
    return await emulator_factory()


@pytest.fixture
async def slack_http(emulator_factory: EmulatorFactory) -> SlackEmulator:
    """An emulator delivering events and commands over HTTP (set ``config.request_url``)."""
    return await emulator_factory(delivery="http")


@pytest.fixture(params=["socket", "http"])
async def bridge(
    request: pytest.FixtureRequest, emulator_factory: EmulatorFactory, chat: Chat
) -> AsyncIterator[SlackBridge]:
    """The real Slack adapter on the real core, against the emulator, in Socket Mode and in HTTP mode."""
    mode = str(request.param)
    emu = await emulator_factory(delivery=mode)
    async with running_bridge(chat, emu, mode) as running:
        yield running
