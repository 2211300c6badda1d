"""The emulator's gateway faults (op 7, op 9 true/false, close 4009, zombie connections, at random)
against a plain discord.py client: what the client does is discord.py's own handling of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from discord_kit import RecordingClient, StartClient

from bridge.emulators.discord import DiscordEmulator
from bridge.emulators.discord.state import EmulatorConfig


class QuickClient(RecordingClient):
    """discord.py waits 5 s before each IDENTIFY but the first (``before_identify_hook``); not here."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


@pytest.fixture
async def client(run_client: StartClient) -> RecordingClient:
    bot = QuickClient()
    await run_client(bot, bot.ready_event)
    return bot


def _said(client: RecordingClient) -> list[str]:
    return [m.content for kind, m in client.events if kind == "message"]


def _count(client: RecordingClient, kind: str) -> int:
    return sum(1 for k, _ in client.events if k == kind)


async def _say_seen(emulator: DiscordEmulator, client: RecordingClient, text: str) -> None:
    await emulator.say("alice", "general", text)
    await client.wait_for_events(lambda ev: text in _said(client))


@pytest.mark.parametrize("fault", ["reconnect", "invalid_resumable", "close_4000"])
async def test_resumable_faults_replay_what_was_said_meanwhile(
    client: RecordingClient, emulator: DiscordEmulator, fault: str
) -> None:
    await _say_seen(emulator, client, "before")
    assert await emulator.gateway.fault(fault) == 1
    await emulator.say("bob", "general", "during")  # buffered: the session has no socket
    await client.wait_for_events(lambda ev: _count(client, "resumed") == 1 and "during" in _said(client))
    await _say_seen(emulator, client, "after")
    assert _said(client) == ["before", "during", "after"]
    assert emulator.gateway.identifies == 1 and emulator.gateway.resumes == 1
    assert emulator.gateway.faults[fault] == 1


@pytest.mark.parametrize("fault", ["invalid_session", "close_4009"])
async def test_ended_sessions_identify_anew_and_miss_the_gap(
    client: RecordingClient, emulator: DiscordEmulator, fault: str
) -> None:
    bot = client
    await _say_seen(emulator, bot, "before")
    await emulator.outage(True)  # the client cannot come back yet: what is said now has no session
    assert await emulator.gateway.fault(fault) == (1 if fault == "invalid_session" else 0)
    assert emulator.gateway.sessions == {}
    await emulator.say("bob", "general", "in the gap")
    bot.ready_event.clear()
    await emulator.outage(False)
    await emulator.wait_until(lambda: emulator.gateway.identifies == 2, timeout=15)
    await _say_seen(emulator, bot, "after")
    assert _said(bot) == ["before", "after"]  # a new session does not get the missed dispatches
    resumes = [p for p in emulator.gateway.received if p["op"] == 6]
    assert len(resumes) == 1 and emulator.gateway.resumes == 0  # the RESUME was refused with op 9 false


async def test_live_invalid_session_identifies(client: RecordingClient, emulator: DiscordEmulator) -> None:
    await _say_seen(emulator, client, "before")
    client.ready_event.clear()
    assert await emulator.gateway.fault("invalid_session") == 1
    await emulator.wait_until(lambda: emulator.gateway.identifies == 2)
    await client.ready_event.wait()
    await _say_seen(emulator, client, "after")
    assert _count(client, "resumed") == 0 and emulator.gateway.resumes == 0


async def test_a_4009_close_on_a_live_socket_starts_a_new_session(
    client: RecordingClient, emulator: DiscordEmulator
) -> None:
    await _say_seen(emulator, client, "before")
    old = set(emulator.gateway.sessions)
    assert await emulator.gateway.fault("close_4009") == 1
    await emulator.wait_until(lambda: emulator.gateway.identifies == 2)
    assert not old & set(emulator.gateway.sessions)
    await _say_seen(emulator, client, "after")


@pytest.fixture
async def fast_beats() -> AsyncIterator[DiscordEmulator]:
    async with DiscordEmulator(EmulatorConfig(heartbeat_interval_ms=200)) as emu:
        yield emu


async def test_a_zombie_connection_gets_no_acks_and_nothing_else(fast_beats: DiscordEmulator) -> None:
    """The emulator side of a zombie: heartbeats unanswered, dispatches kept for the RESUME."""
    emu = fast_beats
    async with aiohttp.ClientSession() as http, http.ws_connect(emu.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": emu.token, "intents": 1 << 9 | 1 << 15, "properties": {}}})
        ready = await ws.receive_json()
        assert ready["t"] == "READY"
        assert (await ws.receive_json())["t"] == "GUILD_CREATE"
        await ws.send_json({"op": 1, "d": ready["s"]})
        assert (await ws.receive_json())["op"] == 11
        assert await emu.gateway.fault("zombie") == 1
        await ws.send_json({"op": 1, "d": ready["s"]})
        await emu.say("alice", "general", "unseen")
        await emu.wait_until(lambda: emu.gateway.unanswered_heartbeats == 1)
        with pytest.raises(TimeoutError):
            await ws.receive_json(timeout=0.3)  # nothing comes: no ACK, no MESSAGE_CREATE
    async with aiohttp.ClientSession() as http, http.ws_connect(emu.gateway_url) as ws:
        await ws.receive_json()
        resume = {"token": emu.token, "session_id": ready["d"]["session_id"], "seq": ready["s"] + 1}
        await ws.send_json({"op": 6, "d": resume})
        replayed = await ws.receive_json()
        assert replayed["t"] == "MESSAGE_CREATE" and replayed["d"]["content"] == "unseen"
        assert (await ws.receive_json())["t"] == "RESUMED"


async def _control(emu: DiscordEmulator, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{emu.base_url}/_emulator/gateway{path}", json=body) as resp,
    ):
        return resp.status, await resp.json()


async def test_control_routes_inject_faults_and_chaos(client: RecordingClient, emulator: DiscordEmulator) -> None:
    status, body = await _control(emulator, "POST", "/faults", {"fault": "reconnect"})
    assert status == 200 and body == {"fault": "reconnect", "sessions": 1}
    await client.wait_for_events(lambda ev: _count(client, "resumed") == 1)
    status, body = await _control(emulator, "POST", "/chaos", {"every_s": 0.05, "faults": ["reconnect"], "seed": 7})
    assert status == 200 and body["running"] and body["faults"] == ["reconnect"]
    await client.wait_for_events(lambda ev: _count(client, "resumed") >= 3, within=15)
    status, body = await _control(emulator, "DELETE", "/chaos")
    assert status == 200 and not body["running"] and body["injected"] >= 2
    status, state = await _control(emulator, "GET", "")
    assert state["faults"]["reconnect"] == 1 + body["injected"] and state["chaos"]["running"] is False
    await _say_seen(emulator, client, "still delivered")


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("/faults", {"fault": "explode"}, "unknown gateway fault 'explode'"),
        ("/faults", {}, "unknown gateway fault ''"),
        ("/chaos", {"every_s": 0}, "every_s must be a positive"),
        ("/chaos", {}, "every_s (seconds between faults"),
        ("/chaos", {"every_s": 1, "faults": ["zombie", "nope"]}, "faults must be some of"),
        ("/chaos", {"every_s": 1, "faults": "zombie"}, "faults must be a list"),
        ("/chaos", [1, 2], "expected a JSON object"),
    ],
)
async def test_bad_fault_requests_are_refused_clearly(
    emulator: DiscordEmulator, path: str, body: Any, error: str
) -> None:
    status, answer = await _control(emulator, "POST", path, body)
    assert status == 400 and error in answer["message"]
    status, state = await _control(emulator, "GET", "")
    assert status == 200 and not state["chaos"]["running"] and sum(state["faults"].values()) == 0
