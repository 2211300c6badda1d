"""Slack's Events API retry schedule (api.slack.com/apis/events-api#retries: "immediately", "after
1 minute", "after 5 minutes", each with ``X-Slack-Retry-Num`` / ``X-Slack-Retry-Reason``), and the
adapter's wait for an edit that arrives before its message, sized to that schedule; the profile
name fallbacks."""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from slack_kit import running_bridge

from bridge.adapters.slack import SlackConfig
from bridge.adapters.slack.directory import _person
from bridge.core.chat import Chat
from bridge.emulators.slack import EmulatorConfig, SlackEmulator

Factory = Callable[..., Awaitable[SlackEmulator]]


def test_the_emulator_retries_on_slacks_schedule_by_default() -> None:
    config = EmulatorConfig()
    assert config.http_retry_delays == (0.0, 60.0, 300.0) and config.http_timeout == 3.0


def test_the_early_edit_wait_outlasts_the_last_retry_of_its_message() -> None:
    """The message can still arrive (its last retry) this long after it was posted: every delay,
    plus a timed-out attempt before each retry; the adapter must wait at least as long."""
    emu = EmulatorConfig()
    last_chance = sum(emu.http_retry_delays) + len(emu.http_retry_delays) * emu.http_timeout
    assert SlackConfig().early_edit_hold_s > last_chance
    assert emu.socket_max_retries * emu.socket_ack_timeout < SlackConfig().early_edit_hold_s


async def test_retries_follow_the_configured_delays_with_their_headers(slack_http: SlackEmulator) -> None:
    delays = (0.0, 0.2, 0.4)
    slack_http.http.retry_delays = delays
    slack_http.config.request_url = "http://127.0.0.1:9/nothing-listens-here"  # refused: connection_failed
    slack_http.user_says(user="alice", channel="general", text="nobody home")
    await slack_http.wait_for(lambda: len(slack_http.http.attempts) == 4, within=10, what="four attempts")
    attempts = slack_http.http.attempts
    assert [a.retry_num for a in attempts] == [0, 1, 2, 3]
    assert [a.retry_reason for a in attempts] == [None, "connection_failed", "connection_failed", "connection_failed"]
    gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
    assert all(gap >= delay for gap, delay in zip(gaps, delays, strict=True)), gaps


def _early_edit(emu: SlackEmulator, posted_ago: float) -> tuple[dict[str, Any], str]:
    chan = emu.workspace.channels["C0CRICKET1"]
    ts = f"{time.time() - posted_ago:.6f}"
    original = {"type": "message", "user": "U0BOB00001", "text": "fisrt", "ts": ts, "channel": chan.id}
    edited = {**original, "text": "first", "edited": {"user": "U0BOB00001", "ts": emu.clock.next()}}
    changed = {
        "type": "message", "subtype": "message_changed", "hidden": True, "channel": chan.id,
        "ts": emu.clock.next(), "message": edited, "previous_message": original,
    }  # fmt: skip
    return original, emu.emit(changed, channel=chan)


@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_an_edit_of_a_message_posted_minutes_ago_still_waits_for_it(
    mode: str, emulator_factory: Factory, chat: Chat
) -> None:
    """Posted 200 s ago (its first deliveries failed): its retry at +5 min can still bring it, so
    the edit that came first waits (the old 120 s window dropped it)."""
    emu = await emulator_factory(delivery=mode, http_retry_delays=(0.3, 0.3, 0.3), socket_ack_timeout=0.3)
    async with running_bridge(chat, emu, mode) as bridge:
        await bridge.link("cricket", "cricket")
        original, _edit_id = _early_edit(emu, posted_ago=200.0)
        await emu.wait_for(lambda: bridge.adapter.rooms.counters["retry_later"] >= 1, what="the edit refused once")
        emu.emit({**original, "event_ts": original["ts"]}, channel=emu.workspace.channels["C0CRICKET1"])
        await bridge.settled()
        [msg] = await bridge.core_messages("cricket")
        assert msg.text == "first" and msg.edited_ts


@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_an_early_edit_is_reported_on_slacks_last_retry_not_dropped_silently(
    mode: str, emulator_factory: Factory, chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    emu = await emulator_factory(delivery=mode, http_retry_delays=(0.05, 0.05, 0.05), socket_ack_timeout=0.3)
    async with running_bridge(chat, emu, mode) as bridge:
        await bridge.link("cricket", "cricket")
        _, edit_id = _early_edit(emu, posted_ago=1.0)
        await bridge.settled(within=10)  # the last retry is acknowledged
    assert bridge.adapter.rooms.counters["retry_later"] == 3
    assert any("slack/early_edit" in r.getMessage() and edit_id in r.getMessage() for r in caplog.records)


async def test_an_early_reaction_is_reported_on_slacks_last_retry(
    emulator_factory: Factory, chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    emu = await emulator_factory(delivery="http", http_retry_delays=(0.05, 0.05, 0.05))
    async with running_bridge(chat, emu, "http") as bridge:
        await bridge.link("cricket", "cricket")
        chan = emu.workspace.channels["C0CRICKET1"]
        ts = f"{time.time() - 1:.6f}"  # a message whose own event has not come (yet)
        item = {"type": "message", "channel": chan.id, "ts": ts}
        event_id = emu.emit(
            {"type": "reaction_added", "user": "U0BOB00001", "reaction": "wave", "item": item, "event_ts": ts},
            channel=chan,
        )
        await bridge.settled(within=10)
    assert [a.ok for a in emu.http.attempts if a.event_id == event_id] == [False, False, False, True]
    assert any("slack/early_edit" in r.getMessage() and event_id in r.getMessage() for r in caplog.records)


def test_an_empty_display_name_falls_back_to_the_real_name_then_the_name() -> None:
    base: dict[str, Any] = {"id": "U0X", "name": "xavier", "profile": {"display_name": "", "real_name": "Xavier X"}}
    assert _person(base).display_name == "Xavier X"
    base["profile"] = {"display_name": "", "real_name": ""}
    assert _person({**base, "real_name": "Top Level"}).display_name == "Top Level"
    assert _person(base).display_name == "xavier"
    assert _person({"id": "U0Y"}).display_name == "U0Y"
