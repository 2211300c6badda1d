"""Helpers for the Slack tests: emulator settings with short timers, and a real slack-bolt AsyncApp run
against the emulator in Socket Mode or HTTP mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bridge.adapters.slack import SlackAdapter, SlackConfig, SlackSecrets
from bridge.core.chat import Chat
from bridge.core.models import Message
from bridge.core.ports import ChannelRef
from bridge.emulators.slack import CommandRun, EmulatorConfig, SlackEmulator


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


@dataclass
class SlackBridge:
    """An emulator, the real Slack adapter connected to it, and the real core behind the adapter."""

    emu: SlackEmulator
    adapter: SlackAdapter
    chat: Chat
    mode: str

    @property
    def team(self) -> str:
        return self.emu.workspace.team_id

    def ref(self, channel: str) -> ChannelRef:
        chan = self.emu.workspace.channel(channel)
        assert chan is not None
        return ChannelRef("slack", self.team, chan.id)

    async def command(self, user: str, channel: str, text: str) -> CommandRun:
        """Type ``/chat <text>``; return once the app acked and finished answering."""
        run = self.emu.slash_command(user=user, channel=channel, text=text)
        await self.emu.wait_for(lambda: run.acked, what=f"the ack of /chat {text}")
        await self.adapter.drain()
        await self.emu.wait_for(lambda: run.responses, what=f"an answer to /chat {text}")
        return run

    async def answer(self, user: str, channel: str, text: str) -> str:
        run = await self.command(user, channel, text)
        return "\n".join(str(r.get("text", "")) for r in run.responses)

    def acked_event_ids(self) -> set[str]:
        if self.mode == "socket":
            return {e.event_id for e in self.emu.socket.envelopes if e.acked and e.event_id}
        return {a.event_id for a in self.emu.http.attempts if a.ok and a.event_id}

    async def settled(self, within: float = 5.0) -> None:
        """Wait until the adapter acknowledged every event the emulator emitted (acked, or a 2xx)."""

        def done() -> bool:
            acked = self.acked_event_ids()
            return all(p["event_id"] in acked for p in self.emu.emitted)

        await self.emu.wait_for(done, within=within, what="every event acknowledged")

    async def core_messages(self, channel: str) -> list[Message]:
        return [m for m in await self.chat.messages.history(channel, 50) if m.kind == "message"]

    async def link(self, channel: str, core: str) -> None:
        """Create core channel ``core`` (if needed) and link the Slack channel to it, as an admin."""
        if not await self.chat.channels.exists(core):
            await self.chat.channels.create(core)
        await self.chat.channels.link(core, self.ref(channel))


def adapter_for(chat: Chat, emu: SlackEmulator, mode: str, **config: Any) -> SlackAdapter:
    cfg = SlackConfig(mode=mode, api_base_url=emu.api_url, http_host="127.0.0.1", http_port=0, **config)  # type: ignore[arg-type]
    secrets = SlackSecrets(
        bot_token=emu.config.bot_token,
        app_token=emu.config.app_token if mode == "socket" else None,
        signing_secret=emu.config.signing_secret if mode == "http" else None,
    )
    return SlackAdapter(chat=chat, config=cfg, secrets=secrets)


@asynccontextmanager
async def running_bridge(chat: Chat, emu: SlackEmulator, mode: str, **config: Any) -> AsyncIterator[SlackBridge]:
    adapter = adapter_for(chat, emu, mode, **config)
    await adapter.start()
    try:
        if mode == "http":
            emu.config.request_url = f"http://127.0.0.1:{adapter.http_port}{adapter.config.http_path}"
        else:
            await emu.wait_for(lambda: emu.socket.connected, what="the adapter's socket")
        yield SlackBridge(emu, adapter, chat, mode)
    finally:
        await adapter.stop()
