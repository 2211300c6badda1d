"""Socket Mode as Slack runs it: ``disconnect`` frames (``warning``, ``refresh_requested``,
``too_many_websockets``, ``link_disabled``) then the server closing the socket, periodic refreshes,
at most 10 connections per app — and the adapter through all of it: nothing lost or doubled across a
refresh, no tight reconnect loop when Socket Mode is turned off."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from slack_kit import adapter_for, web_client
from waiting import until

from bridge.adapters.slack import SlackAdapter
from bridge.adapters.slack.socket_client import LINK_DISABLED
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.emulators.slack import SlackEmulator
from bridge.emulators.slack.socket_faults import SocketTimers

Factory = Callable[..., Awaitable[SlackEmulator]]
FAST = {"reconnect_min_s": 0.05, "reconnect_max_s": 0.2, "bad_token_retry_s": 0.5, "socket_ping_interval_s": 0.2}


async def raw_socket(emu: SlackEmulator, http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    """A bare WebSocket as an app would open it (no SDK), after its ``hello``."""
    opened = await web_client(emu, token=emu.config.app_token).apps_connections_open(app_token=emu.config.app_token)
    ws = await http.ws_connect(str(opened["url"]))
    return ws


async def frames(ws: aiohttp.ClientWebSocketResponse, within: float = 5.0) -> list[dict[str, Any]]:
    """Every JSON frame until the server closes the socket."""
    out = []
    async with asyncio.timeout(within):
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                out.append(json.loads(msg.data))
    return out


@asynccontextmanager
async def supervised(chat: Chat, emu: SlackEmulator, **config: Any) -> AsyncIterator[SlackAdapter]:
    adapter = adapter_for(chat, emu, "socket", **{**FAST, **config})
    adapter.launch()
    try:
        assert await adapter.link.wait_up(10)
        yield adapter
    finally:
        await adapter.stop()


async def test_a_refresh_warns_then_asks_then_the_server_closes(emulator_factory: Factory) -> None:
    emu = await emulator_factory(socket_timers=SocketTimers(warning_lead_s=0.1, close_after_s=0.1))
    async with aiohttp.ClientSession() as http:
        ws = await raw_socket(emu, http)
        await emu.wait_for(lambda: emu.socket.connected, what="the socket")
        await emu.socket.faults.disconnect(None, "warning")
        got = await frames(ws)
    assert [f["type"] for f in got] == ["hello", "disconnect", "disconnect"]
    assert [f["reason"] for f in got[1:]] == ["warning", "refresh_requested"]
    assert all(f["debug_info"]["host"] for f in got[1:]) and emu.socket.faults.server_closed == [0]


async def test_connections_are_refreshed_periodically(emulator_factory: Factory) -> None:
    emu = await emulator_factory(
        socket_timers=SocketTimers(refresh_after_s=0.2, warning_lead_s=0.05, close_after_s=0.05)
    )
    async with aiohttp.ClientSession() as http:
        ws = await raw_socket(emu, http)
        got = await frames(ws)
    assert got[0]["debug_info"]["approximate_connection_time"] == 0  # int(0.2): the refresh period, in seconds
    assert [f.get("reason") for f in got[1:]] == ["warning", "refresh_requested"]


async def test_one_connection_over_the_limit_is_refused(emulator_factory: Factory) -> None:
    emu = await emulator_factory(socket_timers=SocketTimers(max_connections=2, close_after_s=0.05))
    async with aiohttp.ClientSession() as http:
        first, second = await raw_socket(emu, http), await raw_socket(emu, http)
        await emu.wait_for(lambda: emu.socket.connection_count == 2, what="two connections")
        third = await raw_socket(emu, http)
        got = await frames(third)
        assert [f.get("reason") for f in got] == ["too_many_websockets"]
        assert not first.closed and not second.closed and emu.socket.connection_count == 2


async def test_the_control_route_injects_each_reason(emulator_factory: Factory) -> None:
    emu = await emulator_factory(socket_timers=SocketTimers(warning_lead_s=0.05, close_after_s=0.05))
    async with aiohttp.ClientSession() as http:
        for reason in ("refresh_requested", "too_many_websockets", "random", "link_disabled"):
            ws = await raw_socket(emu, http)
            await emu.wait_for(lambda: emu.socket.connected, what="the socket")
            async with http.post(f"{emu.url}/_emulator/socket/disconnect", json={"reason": reason}) as r:
                answer = await r.json()
            assert answer["ok"] and answer["connections"], answer
            got = await frames(ws)
            assert got[1]["reason"] == (answer["reason"] if reason == "random" else reason)  # got[0]: hello
        refused = await raw_socket(emu, http)  # link_disabled lasts until Socket Mode is turned on again
        assert [f["reason"] for f in await frames(refused)] == ["link_disabled"]
        async with http.delete(f"{emu.url}/_emulator/socket/link_disabled") as r:
            assert (await r.json())["link_disabled"] is False
        async with http.post(f"{emu.url}/_emulator/socket/disconnect", json={"reason": "sideways"}) as r:
            assert r.status == 400
        async with http.get(f"{emu.url}/_emulator/socket") as r:
            state = await r.json()
        assert [f["reason"] for f in state["frames"]][-1] == "link_disabled"


@pytest.mark.parametrize("ack", ["on_the_new_connection", "while_no_connection"])
async def test_an_event_in_flight_across_a_refresh_is_recorded_once(
    emulator_factory: Factory, chat: Chat, ack: str
) -> None:
    emu = await emulator_factory(socket_ack_timeout=1.5, socket_timers=SocketTimers(close_after_s=0.05))
    async with supervised(chat, emu) as adapter:
        await chat.channels.create("cricket")
        await chat.channels.link("cricket", ChannelRef("slack", "T0EMULATOR", "C0CRICKET1"))
        gate = asyncio.Event()
        person = adapter.directory.person

        async def slow_person(user_id: str) -> Any:  # holds the listener (and so the ack) until released
            await gate.wait()
            return await person(user_id)

        adapter.directory.person = slow_person  # type: ignore[method-assign]
        msg = emu.user_says(user="bob", channel="cricket", text="in flight")
        first = await emu.wait_for(
            lambda: next((e for e in emu.socket.envelopes if e.sent_on is not None and not e.acked), None),
            what="the envelope on the first connection",
        )
        assert await emu.socket.faults.disconnect(first.sent_on, "refresh_requested") == [first.sent_on]
        if ack == "while_no_connection":
            await emu.socket.outage(True)  # and no new connection for now
        await emu.wait_for(lambda: first.sent_on in emu.socket.faults.server_closed or not emu.socket.connected)
        if ack == "while_no_connection":
            gate.set()  # the ack has no socket to go over: Slack redelivers
            await emu.wait_for(lambda: len([e for e in emu.socket.envelopes if e.retry_attempt]) >= 1, within=5)
            await emu.socket.outage(False)
        else:
            await emu.wait_for(lambda: emu.socket.connection_count >= 2 and emu.socket.connected, within=5)
            gate.set()
        await emu.wait_for(
            lambda: any(e.acked for e in emu.socket.envelopes if e.event_id == first.event_id), within=10
        )
        await until(lambda: adapter.rooms.counters["recorded"] == 1, what="the message recorded")
    messages = [m for m in await chat.messages.history("cricket", 10) if m.kind == "message"]
    assert [m.text for m in messages] == ["in flight"] and msg.ts
    attempts = [e for e in emu.socket.envelopes if e.event_id == first.event_id]
    if ack == "while_no_connection":
        assert attempts[-1].retry_attempt >= 1 and attempts[-1].retry_reason == "timeout"
        assert attempts[-1].sent_on != first.sent_on  # redelivered on the new connection


async def test_link_disabled_is_an_operator_error_without_a_reconnect_loop(
    emulator_factory: Factory, chat: Chat
) -> None:
    emu = await emulator_factory()
    async with supervised(chat, emu) as adapter:
        opened = len(emu.requests_for("apps.connections.open"))
        await emu.socket.faults.disconnect(None, "link_disabled")
        await until(lambda: not adapter.health().ok, what="the adapter down")
        assert adapter.health().detail == LINK_DISABLED and "Socket Mode" in LINK_DISABLED
        await until(lambda: len(emu.requests_for("apps.connections.open")) > opened, timeout=5, what="one slow retry")
        retried_at = emu.requests_for("apps.connections.open")[-1].at
        first_try = emu.requests_for("apps.connections.open")[opened].at
        assert len(emu.requests_for("apps.connections.open")) - opened <= 2
        assert retried_at - first_try < 5
        emu.socket.faults.enable_link()
        await until(lambda: adapter.health().ok, timeout=10, what="connected again once Socket Mode is on")
    gaps = [b.at - a.at for a, b in itertools.pairwise(emu.requests_for("apps.connections.open")[opened:])]
    assert all(g >= 0.4 for g in gaps), gaps  # bad_token_retry_s = 0.5 (jittered), never a tight loop


async def test_too_many_websockets_backs_off(emulator_factory: Factory, chat: Chat) -> None:
    emu = await emulator_factory(socket_timers=SocketTimers(max_connections=1, close_after_s=0.0))

    def refused() -> int:
        return len([r for _, r in emu.socket.faults.sent if r == "too_many_websockets"])

    async with supervised(chat, emu, reconnect_min_s=0.2, reconnect_max_s=0.4) as adapter:
        async with aiohttp.ClientSession() as http:
            await emu.socket.faults.disconnect(None, "too_many_websockets")  # said to the adapter's socket
            await emu.wait_for(lambda: not emu.socket.connected, what="the adapter's socket closed")
            squatter = await raw_socket(emu, http)  # another process takes the only slot meanwhile
            before = len(emu.requests_for("apps.connections.open"))
            await until(lambda: refused() >= 3, timeout=10, what="the adapter refused twice more")
            opens = [r.at for r in emu.requests_for("apps.connections.open")[before - 1 :]]
            await squatter.close()
        await until(lambda: adapter.health().ok and emu.socket.connected, timeout=10, what="connected again")
    gaps = [b - a for a, b in itertools.pairwise(opens)]
    assert gaps and all(g >= 0.15 for g in gaps), gaps  # paced (reconnect_min_s 0.2 doubling), not a tight loop
