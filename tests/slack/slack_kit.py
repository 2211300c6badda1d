"""Helpers for the Slack tests: emulator settings with short timers, and a real slack-bolt AsyncApp run
against the emulator in Socket Mode or HTTP mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bridge.emulators.slack import EmulatorConfig, SlackEmulator


def fast_config(**overrides: Any) -> EmulatorConfig:
    """Emulator settings with Slack's timers shortened for tests."""
    values: dict[str, Any] = {
        "socket_ack_timeout": 0.5,
        "http_timeout": 0.5,
        "http_retry_delays": (0.0, 0.05, 0.05),
        "command_timeout": 3.0,
    }
    values.update(overrides)
    return EmulatorConfig(**values)


def web_client(emu: SlackEmulator, **kwargs: Any) -> AsyncWebClient:
    kwargs.setdefault("token", emu.config.bot_token)
    return AsyncWebClient(base_url=emu.api_url, **kwargs)


def bolt_app(emu: SlackEmulator, **kwargs: Any) -> AsyncApp:
    return AsyncApp(client=web_client(emu), signing_secret=emu.config.signing_secret, **kwargs)


@asynccontextmanager
async def socket_mode(app: AsyncApp, emu: SlackEmulator) -> AsyncIterator[AsyncSocketModeHandler]:
    """Connect ``app`` to the emulator over Socket Mode for the duration of the block."""
    handler = AsyncSocketModeHandler(app, app_token=emu.config.app_token)
    await handler.connect_async()
    try:
        await emu.wait_for(lambda: emu.socket.connected, what="a socket mode connection")
        yield handler
    finally:
        await handler.close_async()


@asynccontextmanager
async def http_mode(app: AsyncApp, emu: SlackEmulator, path: str = "/slack/events") -> AsyncIterator[str]:
    """Serve ``app`` over HTTP on 127.0.0.1 and point the emulator's request URL at it."""
    runner = web.AppRunner(app.web_app(path=path), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}{path}"
    emu.config.request_url = url
    try:
        yield url
    finally:
        await runner.cleanup()
