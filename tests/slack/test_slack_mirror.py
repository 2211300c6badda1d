"""Two Slack channels linked to one core channel, mirrored by the real worker through the real
adapter: messages arrive as their author, edits/deletes/threads follow, nothing echoes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from slack_kit import SlackBridge

from bridge.emulators.slack import Injected
from bridge.mirror.worker import Worker


def worker_for(bridge: SlackBridge, redis_url: str) -> Worker:
    return Worker(
        chat=bridge.chat,
        redis_url=redis_url,
        destinations={"slack": bridge.adapter.destination},
        backoff_base_s=0.01,
        metrics_interval_s=0.05,
    )


@asynccontextmanager
async def running_worker(bridge: SlackBridge, redis_url: str) -> AsyncIterator[Worker]:
    """:func:`worker_for` running in a task for the block, stopped at its end."""
    worker = worker_for(bridge, redis_url)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await running


async def test_slack_to_slack_message_edit_thread_delete(bridge: SlackBridge, redis_url: str) -> None:
    emu = bridge.emu
    await bridge.link("cricket", "cricket")
    await bridge.link("random", "cricket")
    worker = worker_for(bridge, redis_url)

    root = emu.user_says(user="bob", channel="cricket", text="what a *match*")
    await bridge.settled()
    await worker.drain(10)
    [copy] = emu.history("random")
    assert copy.text == "what a *match*" and copy.subtype == "bot_message"
    assert copy.username == "bob" and copy.icon_url == emu.workspace.users["U0BOB00001"].image_72
    assert [m.text for m in emu.history("cricket")] == ["what a *match*"]  # not echoed to the origin

    # a thread reply on the origin side lands in the thread of the mirrored copy
    answer = emu.user_says(user="carol", channel="cricket", text="indeed", thread_ts=root.ts)
    emu.user_edits(channel="cricket", ts=root.ts, text="what a _match_!")
    await bridge.settled()
    await worker.drain(10)
    await bridge.settled()  # the bridge's own posts come back as events: acknowledged, ignored
    assert [(m.text, m.thread_ts, m.username) for m in emu.history("random")] == [
        ("what a _match_!", copy.ts, "bob"),
        ("indeed", copy.ts, "carol"),
    ]
    assert len(await bridge.core_messages("cricket")) == 2  # nothing was recorded twice
    # a reply on the other side, in the thread of the copy, reaches the origin channel
    emu.user_says(user="alice", channel="random", text="sure was", thread_ts=copy.ts)
    await bridge.settled()
    await worker.drain(10)
    assert [m.text for m in emu.history("cricket")][-1] == "sure was"

    emu.user_deletes(channel="cricket", ts=answer.ts)
    await bridge.settled()
    await worker.drain(10)
    assert [m.text for m in emu.history("random")] == ["what a _match_!", "sure was"]
    assert [m.text for m in await bridge.core_messages("cricket")] == ["what a *match*!", "sure was"]


async def test_mentions_of_linked_people_ping_and_mass_mentions_do_not(bridge: SlackBridge, redis_url: str) -> None:
    emu = bridge.emu
    await bridge.link("cricket", "cricket")
    await bridge.link("random", "cricket")
    await bridge.answer("carol", "general", "register carol")
    emu.user_says(user="bob", channel="cricket", text="<!channel> <@U0CAROL001> look &lt;!here&gt;")
    await bridge.settled()
    await worker_for(bridge, redis_url).drain(10)
    [copy] = emu.history("random")
    assert copy.text == "@\u200bchannel <@U0CAROL001> look &lt;!here&gt;"


async def test_rate_limited_destination_is_waited_out(bridge: SlackBridge, redis_url: str) -> None:
    emu = bridge.emu
    await bridge.link("cricket", "cricket")
    await bridge.link("random", "cricket")
    emu.limiter.inject("chat.postMessage", Injected(error="ratelimited", count=1, status=429, retry_after=1))
    emu.user_says(user="bob", channel="cricket", text="patience")
    await bridge.settled()
    worker = worker_for(bridge, redis_url)
    await worker.drain(10)
    assert [m.text for m in emu.history("random")] == ["patience"]
    assert emu.throttled == [("chat.postMessage", 429)]
    assert len(emu.requests_for("chat.postMessage")) == 2


@pytest.mark.parametrize("error", ["is_archived", "restricted_action"])  # channel access: held (channel_access)
async def test_permanent_error_goes_to_dead_letters(bridge: SlackBridge, redis_url: str, error: str) -> None:
    emu = bridge.emu
    await bridge.link("cricket", "cricket")
    await bridge.link("random", "cricket")
    emu.limiter.inject("chat.postMessage", Injected(error=error, count=1))
    emu.user_says(user="bob", channel="cricket", text="lost?")
    await bridge.settled()
    worker = worker_for(bridge, redis_url)
    await worker.drain(10)
    assert emu.history("random") == []
    assert len(emu.requests_for("chat.postMessage")) == 1  # not retried
    metrics = worker.metrics()
    assert metrics["dead_lettered"] == 1
    assert metrics["destinations"]["slack:T0EMULATOR:C0RANDOM01"]["dead_lettered"] == 1


async def test_metrics(bridge: SlackBridge, redis_url: str) -> None:
    emu = bridge.emu
    await bridge.link("cricket", "cricket")
    await bridge.link("random", "cricket")
    emu.limiter.inject("chat.postMessage", Injected(error="ratelimited", count=1, status=429, retry_after=1))
    emu.user_says(user="bob", channel="cricket", text="counted")
    emu.user_says(user="bob", channel="general", text="not linked")
    await bridge.settled()
    await worker_for(bridge, redis_url).drain(10)
    await bridge.settled()
    await bridge.answer("bob", "general", "help")
    await bridge.answer("bob", "general", "fly")
    m = bridge.adapter.metrics()
    assert m["mode"] == bridge.mode and m["connected"] and m["team"] == "T0EMULATOR"
    # the unlinked message is skipped; the bridge's own post never reaches the listener (bolt drops it)
    assert m["inbound"] == {"recorded": 1, "skipped": 1}
    assert m["commands"] == {"ok": 1, "refused": 1}
    assert m["outbound"] == {"rate_limited": 1, "chat_postMessage": 1}
