"""A busy Slack channel: its events are recorded in arrival order while their lookups run
concurrently (``room_order``: a group commit per channel), each is acknowledged only once it is in
Redis, and the catch-up anchor moves with the ingest."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from slack_kit import SlackBridge, running_bridge

from bridge.adapters.slack.catch_up import LastSeen
from bridge.core.chat import Chat
from bridge.core.ports import InboundEvent, IngestResult, PlatformUser
from bridge.emulators.slack import SlackEmulator

WITHIN_S = 10.0


@pytest.fixture(params=["socket", "http"])
async def bridge(
    request: pytest.FixtureRequest, emulator_factory: Callable[..., Awaitable[SlackEmulator]], chat: Chat
) -> AsyncIterator[SlackBridge]:
    """conftest's bridge with Slack's own 3 s ack deadline (not the tests' 0.5 s): "acknowledged the
    first time" then means what it does on Slack, not a race with a loaded test machine."""
    mode = str(request.param)
    emu = await emulator_factory(delivery=mode, socket_ack_timeout=3.0, http_timeout=3.0)
    async with running_bridge(chat, emu, mode) as running:
        yield running


def first_lookup_waits_for_a_second(bridge: SlackBridge) -> asyncio.Event:
    """The first users.info lookup (through the directory) does not answer until a second one has
    started: with one event of the channel handled at a time, the second never starts."""
    directory = bridge.adapter.directory
    real = directory.platform_user
    second = asyncio.Event()
    calls = 0

    async def gated(team: str, user: str) -> PlatformUser:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.wait_for(second.wait(), WITHIN_S)
        else:
            second.set()
        return await real(team, user)

    directory.platform_user = gated  # type: ignore[method-assign]
    return second


def first_deliveries_only(bridge: SlackBridge) -> bool:
    """Every event was acknowledged the first time (nothing left for a redelivery)."""
    if bridge.mode == "socket":
        return all(e.retry_attempt == 0 and e.acked for e in bridge.emu.socket.envelopes)
    return all(a.retry_num == 0 and a.ok for a in bridge.emu.http.attempts)


async def test_lookups_run_ahead_and_the_channel_keeps_its_order(bridge: SlackBridge) -> None:
    """The second message's lookups finish first; it is still recorded after the first."""
    await bridge.link("cricket", "cricket")
    second = first_lookup_waits_for_a_second(bridge)
    bridge.emu.user_says(user="alice", channel="cricket", text="first")
    bridge.emu.user_says(user="bob", channel="cricket", text="second")
    await bridge.settled(within=WITHIN_S)
    assert second.is_set()
    assert [m.text for m in await bridge.core_messages("cricket")] == ["first", "second"]
    assert first_deliveries_only(bridge)


async def test_message_edit_and_delete_back_to_back_are_recorded_in_that_order(bridge: SlackBridge) -> None:
    """The edit's lookup runs while the message's still waits: the edit is written after it
    (never refused as early, so never left for a redelivery), and the delete after the edit."""
    await bridge.link("cricket", "cricket")
    first_lookup_waits_for_a_second(bridge)
    message = bridge.emu.user_says(user="alice", channel="cricket", text="v1")
    bridge.emu.user_edits(channel="cricket", ts=message.ts, text="v2")
    bridge.emu.user_deletes(channel="cricket", ts=message.ts)
    await bridge.settled(within=WITHIN_S)
    rooms = bridge.adapter.rooms
    assert rooms.counters["recorded"] == 3 and rooms.counters["retry_later"] == 0
    assert await bridge.core_messages("cricket") == []
    assert first_deliveries_only(bridge)


async def test_many_messages_in_one_channel_are_recorded_in_arrival_order_in_few_commits(bridge: SlackBridge) -> None:
    await bridge.link("cricket", "cricket")
    texts = [f"m{i}" for i in range(40)]
    said = [
        bridge.emu.user_says(user=("alice", "bob", "carol")[i % 3], channel="cricket", text=t)
        for i, t in enumerate(texts)
    ]
    await bridge.settled(within=WITHIN_S)
    recorded = await bridge.core_messages("cricket")
    assert [m.text for m in recorded] == texts
    origin_ids = [await bridge.chat.ctx.redis.hget(f"message:{m.id}", "origin_id") for m in recorded]
    assert origin_ids == [m.ts for m in said]
    assert bridge.adapter.rooms.order.commits < len(texts)  # events that queued up shared a commit
    anchor = await LastSeen(bridge.chat.ctx.redis).of(bridge.team, bridge.ref("cricket").channel_id)
    assert anchor == said[-1].ts
    assert first_deliveries_only(bridge)


async def test_no_event_is_acknowledged_before_its_commit_answered(bridge: SlackBridge) -> None:
    """The message is in Redis, its commit has not returned yet: Slack has no ack."""
    await bridge.link("cricket", "cricket")
    chat = bridge.chat
    real = chat.ingest_many
    written, release = asyncio.Event(), asyncio.Event()

    async def held(events: Sequence[InboundEvent]) -> list[IngestResult | Exception]:
        results = await real(events)
        written.set()
        await asyncio.wait_for(release.wait(), WITHIN_S)
        return results

    chat.ingest_many = held  # type: ignore[method-assign]
    bridge.emu.user_says(user="alice", channel="cricket", text="durable first")
    event_id = bridge.emu.emitted[-1]["event_id"]
    await asyncio.wait_for(written.wait(), WITHIN_S)
    assert [m.text for m in await bridge.core_messages("cricket")] == ["durable first"]
    assert event_id not in bridge.acked_event_ids()
    release.set()
    await bridge.settled(within=WITHIN_S)
    assert event_id in bridge.acked_event_ids()


async def test_a_message_whose_ts_is_not_a_number_crosses_without_moving_the_anchor(
    bridge: SlackBridge, caplog: pytest.LogCaptureFixture
) -> None:
    """Bad input: an event whose ``ts`` is no Slack timestamp is still mirrored (the sender's words
    cross); the anchor is not set to it (a WARNING says so), and the next message moves it."""
    await bridge.link("cricket", "cricket")
    chan = bridge.emu.workspace.channel("cricket")
    alice = bridge.emu.workspace.user("alice")
    assert chan is not None and alice is not None
    with caplog.at_level(logging.WARNING, logger="bridge.core"):
        bridge.emu.emit(
            {"type": "message", "channel": chan.id, "user": alice.id, "text": "odd ts", "ts": "not-a-ts"},
            channel=chan,
        )
        await bridge.settled(within=WITHIN_S)
    assert "not a decimal number" in caplog.text
    last_seen = LastSeen(bridge.chat.ctx.redis)
    assert await last_seen.of(bridge.team, chan.id) is None
    message = bridge.emu.user_says(user="alice", channel="cricket", text="normal")
    await bridge.settled(within=WITHIN_S)
    assert [m.text for m in await bridge.core_messages("cricket")] == ["odd ts", "normal"]
    assert await last_seen.of(bridge.team, chan.id) == message.ts
