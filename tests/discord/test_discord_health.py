"""The Discord adapter's health() (bridge.health.PartHealth): gateway state, heartbeat ACKs, an outage
(the emulator drops the socket and refuses reconnects) and the RESUME after it; dispatches counted."""

from __future__ import annotations

import discord
import pytest
import yarl

from bridge import metrics
from bridge.adapters.discord import DiscordAdapter, DiscordConfig
from bridge.core.chat import Chat
from bridge.emulators.discord import DiscordEmulator
from bridge.emulators.discord.state import EmulatorConfig


def dispatched(kind: str) -> float:
    sample = metrics.REGISTRY.get_sample_value("chatbridge_inbound_events_total", {"platform": "discord", "kind": kind})
    return sample or 0.0


async def test_health_tracks_the_gateway_through_an_outage(chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    async with DiscordEmulator(EmulatorConfig(heartbeat_interval_ms=200)) as emu:
        monkeypatch.setattr(discord.http.Route, "BASE", emu.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(emu.gateway_url))
        config = DiscordConfig(api_base=emu.api_base, gateway_url=emu.gateway_url, guild_ids=(int(emu.guild_id),))
        adapter = DiscordAdapter(chat=chat, config=config)
        before = adapter.health()
        assert before.name == "discord" and not before.ok and before.detail == "not connected yet"
        readies, resumes = dispatched("ready"), dispatched("resumed")
        await adapter.start(emu.token, ready_within=10)
        try:
            up = adapter.health()
            assert up.ok and up.detail == "gateway connected" and up.info["guilds"] == 1
            assert dispatched("ready") == readies + 1
            first_ack = float(up.info["last_heartbeat_ack_at"])
            await emu.wait_until(lambda: float(adapter.health().info["last_heartbeat_ack_at"]) > first_ack)

            assert await emu.outage(True) == 1
            down = await emu.wait_until(lambda: (h := adapter.health()) and (None if h.ok else h))
            assert "disconnected" in down.detail and down.since >= up.since
            await emu.wait_until(lambda: emu.gateway.refused >= 1)
            assert not adapter.health().ok

            await emu.outage(False)
            back = await emu.wait_until(lambda: (h := adapter.health()) and (h if h.ok else None), timeout=40)
            assert back.detail == "gateway connected (resumed)" and back.since >= down.since
            assert emu.gateway.resumes == 1 and dispatched("resumed") == resumes + 1
        finally:
            await adapter.close()
        closed = adapter.health()
        assert not closed.ok and closed.detail == "client closed"
