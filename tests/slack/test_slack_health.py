"""The Slack adapter's health() (bridge.health.PartHealth) in both modes, and inbound events counted
by kind: a real adapter against the emulator."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from slack_kit import SlackBridge, adapter_for, running_bridge

from bridge import metrics
from bridge.core.chat import Chat
from bridge.emulators.slack import SlackEmulator
from bridge.health import PartHealth


def counted(kind: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value("chatbridge_inbound_events_total", {"platform": "slack", "kind": kind}) or 0.0
    )


async def test_health_follows_the_adapter_in_either_mode(bridge: SlackBridge, chat: Chat) -> None:
    health = bridge.adapter.health()
    assert health.name == "slack" and health.ok, health
    port = bridge.adapter.http_port
    expected = "Socket Mode connected" if bridge.mode == "socket" else f"HTTP mode listening on :{port}/slack/events"
    assert health.detail == expected
    assert health.info["mode"] == bridge.mode and health.info["team"] == bridge.emu.workspace.team_id
    before = counted("message")
    await bridge.link("cricket", "cricket")
    bridge.emu.user_says(user="U0BOB00001", channel="C0CRICKET1", text="counted")
    await bridge.settled()
    assert counted("message") == before + 1
    assert bridge.adapter.health().info["last_event_at"] is not None


async def test_health_is_down_before_start_after_stop_and_while_the_socket_is_dropped(
    emulator_factory: Callable[..., Awaitable[SlackEmulator]], chat: Chat
) -> None:
    emu = await emulator_factory()
    first = adapter_for(chat, emu, "socket").health()
    assert not first.ok and first.detail == "not started"
    async with running_bridge(chat, emu, "socket", socket_ping_interval_s=0.2) as running:
        adapter = running.adapter

        def state(ok: bool) -> PartHealth | None:
            health = adapter.health()
            return health if health.ok is ok else None

        frames = asyncio.Event()  # slack_sdk calls this for every frame the new socket receives

        async def on_frame(_: object) -> None:
            frames.set()

        assert adapter._socket is not None
        adapter._socket.client.on_message_listeners.append(on_frame)
        up = adapter.health()
        assert up.ok and up.since >= first.since
        assert await emu.socket.outage(True) == 1
        down = await emu.wait_for(lambda: state(False), what="the adapter down")
        assert down.detail == "Socket Mode disconnected" and down.since >= up.since
        await emu.wait_for(lambda: emu.socket.refused >= 1, what="a refused reconnect")
        assert not adapter.health().ok
        frames.clear()
        await emu.socket.outage(False)
        await asyncio.wait_for(frames.wait(), 30)  # the new socket's hello
        back = adapter.health()
        assert back.ok and back.since >= down.since and back.detail == "Socket Mode connected"
    stopped = adapter.health()
    assert not stopped.ok and stopped.detail == "stopped"
