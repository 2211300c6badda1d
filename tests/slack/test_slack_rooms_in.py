"""Room traffic in: Slack messages, edits, deletes and thread replies reach the real core once, in
both modes; the bridge's own posts, unlinked channels and retries are not recorded twice."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import pytest
from slack_kit import SlackBridge, running_bridge

from bridge.core.chat import Chat
from bridge.core.ports import InboundEvent, IngestResult, OutboundMessage
from bridge.emulators.slack import SlackEmulator, sign
from bridge.store import keys


async def test_message_edit_delete_and_thread(bridge: SlackBridge) -> None:
    await bridge.link("cricket", "cricket")
    root = bridge.emu.user_says(user="bob", channel="cricket", text="what a *match* today")
    await bridge.settled()
    [msg] = await bridge.core_messages("cricket")
    assert msg.text == "what a **match** today"
    assert msg.origin == "slack"
    name = await bridge.chat.find_username("slack", bridge.team, "U0BOB00001")
    assert msg.username == name and name
    reply = bridge.emu.user_says(user="carol", channel="cricket", text="agreed", thread_ts=root.ts)
    bridge.emu.user_edits(channel="cricket", ts=root.ts, text="what a _match_ today")
    await bridge.settled()
    first, second = await bridge.core_messages("cricket")
    assert first.text == "what a *match* today" and first.edited_ts
    assert second.text == "agreed" and second.thread == first.id and not second.reply_to
    bridge.emu.user_deletes(channel="cricket", ts=reply.ts)
    await bridge.settled()
    assert [m.text for m in await bridge.core_messages("cricket")] == ["what a *match* today"]


async def test_unlinked_channel_and_dm_are_ignored(bridge: SlackBridge) -> None:
    bridge.emu.user_says(user="bob", channel="random", text="not mirrored")
    await bridge.settled()
    assert await bridge.chat.channels.all() == []
    assert await bridge.chat.find_username("slack", bridge.team, "U0BOB00001") is None


async def test_retried_event_is_recorded_once(bridge: SlackBridge) -> None:
    await bridge.link("cricket", "cricket")
    bridge.emu.user_says(user="bob", channel="cricket", text="only once")
    await bridge.settled()
    event_id = bridge.emu.emitted[-1]["event_id"]
    bridge.emu.redeliver(event_id)  # Slack sends the same event_id again (lost ack)
    bridge.emu.redeliver(event_id)

    def acked_three_times() -> bool:
        if bridge.mode == "socket":
            return sum(e.acked for e in bridge.emu.socket.envelopes if e.event_id == event_id) == 3
        return sum(a.ok for a in bridge.emu.http.attempts if a.event_id == event_id) == 3

    await bridge.emu.wait_for(acked_three_times, what="three acknowledged deliveries")
    assert [m.text for m in await bridge.core_messages("cricket")] == ["only once"]


async def test_event_not_acked_until_recorded(bridge: SlackBridge) -> None:
    """The first ingest fails (Redis outage): the event stays un-acked while the adapter holds it and
    tries again (bridge.adapters.outage), then it is recorded once and acked."""
    await bridge.link("cricket", "cricket")
    chat = bridge.chat
    real_ingest = chat.ingest_many
    calls: list[InboundEvent] = []

    async def failing_once(events: Sequence[InboundEvent]) -> list[IngestResult | Exception]:
        calls.extend(events)
        if len(calls) == 1:
            raise ConnectionError("redis went away")
        return await real_ingest(events)

    chat.ingest_many = failing_once  # type: ignore[method-assign]
    bridge.emu.user_says(user="bob", channel="cricket", text="survives an outage")
    await bridge.settled()
    assert len(calls) == 2 and calls[0].event_key == calls[1].event_key
    assert [m.text for m in await bridge.core_messages("cricket")] == ["survives an outage"]
    if bridge.mode == "socket":
        attempts = [(e.retry_attempt, e.acked) for e in bridge.emu.socket.envelopes]
        assert attempts == [(0, True)]  # held and retried within Slack's 3 s, so acked the first time
    else:
        assert [(a.retry_num, a.status) for a in bridge.emu.http.attempts] == [(0, 200)]


async def test_own_posts_and_edits_are_ignored(bridge: SlackBridge) -> None:
    await bridge.link("cricket", "cricket")
    dest = bridge.adapter.destination
    ref = bridge.ref("cricket")
    out = OutboundMessage(core_id="1-0", channel="cricket", text="from discord", author_name="Dana (discord)")
    [ts] = await dest.send(ref, out)
    await dest.edit(ref, [ts], OutboundMessage("1-0", "cricket", "from discord, edited", "Dana (discord)"))
    await dest.delete(ref, [ts])
    # also a plain bot post (no username override) and an in-channel command answer
    await bridge.adapter.client.chat_postMessage(channel=ref.channel_id, text="bot speaking")
    await bridge.settled()
    subtypes = [p["event"].get("subtype") for p in bridge.emu.emitted]
    assert subtypes == ["bot_message", "message_changed", "message_deleted", None]
    assert await bridge.core_messages("cricket") == []


async def test_mentions_links_and_entities_in(bridge: SlackBridge) -> None:
    await bridge.link("cricket", "cricket")
    await bridge.answer("carol", "general", "register carol")
    text = (
        "hi <@U0CAROL001> and <@U0ALICE001|alice>, see <#C0CRICKET1|cricket> and <#C0RANDOM01|random>: "
        "<https://example.org/a?b=1&amp;c=2|the *site*> &amp; 1 &lt; 2 &gt; 0 "
        "<!channel> <!here> <!everyone> <!subteam^S123|@team>"
    )
    bridge.emu.user_says(user="bob", channel="cricket", text=text)
    await bridge.settled()
    [msg] = await bridge.core_messages("cricket")
    alice = await bridge.chat.find_username("slack", bridge.team, "U0ALICE001")
    assert alice is not None
    assert msg.text.startswith(f"hi @carol and @{alice}, see #cricket and #random: ")
    assert "[the \\*site\\*](https://example.org/a?b=1&c=2) & 1 < 2 > 0" in msg.text
    assert msg.text.endswith("@channel @here @everyone \\@team")  # mass mentions are plain words
    assert "<!" not in msg.text and "<@" not in msg.text


async def test_hostile_content_in(bridge: SlackBridge) -> None:
    await bridge.link("cricket", "cricket")
    rtl = "مرحبا بالعالم \u202eevil\u202c שלום"
    zwj = "family: \U0001f468\u200d\U0001f469\u200d\U0001f467 zero\u200bwidth"
    bridge.emu.user_says(user="bob", channel="cricket", text=rtl)
    bridge.emu.user_says(user="bob", channel="cricket", text=zwj)
    bridge.emu.user_says(user="bob", channel="cricket", text="x" * 40_000)
    await bridge.settled()
    stored = [m.text for m in await bridge.core_messages("cricket")]
    assert stored[0] == "مرحبا بالعالم evil שלום"  # bidi override removed, RTL text kept
    assert stored[1] == zwj  # ZWJ sequences and ZWSP kept
    assert stored[2] == "x" * 40_000  # Slack's own limit: recorded whole
    raw: Any = await bridge.chat.ctx.redis.keys(keys.message("*"))
    assert len(raw) == 3


async def test_a_message_over_the_limit_is_refused_and_the_sender_told(
    bridge: SlackBridge, caplog: pytest.LogCaptureFixture
) -> None:
    await bridge.link("cricket", "cricket")
    bridge.chat.ctx.settings = dataclasses.replace(bridge.chat.ctx.settings, max_message_chars=1000)
    with caplog.at_level(logging.WARNING, logger="bridge.drops"):
        long = bridge.emu.user_says(user="bob", channel="cricket", text="y" * 1001)
        await bridge.settled()
    assert await bridge.core_messages("cricket") == []  # nothing partial
    raw: Any = await bridge.chat.ctx.redis.keys(keys.message("*"))
    assert raw == []
    assert any("slack/refused" in r.getMessage() and long.ts in r.getMessage() for r in caplog.records)
    told = await bridge.emu.wait_for(lambda: [e for e in bridge.emu.ephemeral if e.user == "U0BOB00001"])
    assert "1,001 characters" in told[0].text and "1,000" in told[0].text
    assert told[0].channel == bridge.ref("cricket").channel_id


@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_edit_arriving_before_its_message_is_retried(
    mode: str, emulator_factory: Callable[..., Awaitable[SlackEmulator]], chat: Chat
) -> None:
    emu = await emulator_factory(delivery=mode, http_retry_delays=(0.3, 0.3, 0.3), socket_ack_timeout=0.3)
    async with running_bridge(chat, emu, mode) as bridge:
        await bridge.link("cricket", "cricket")
        chan = emu.workspace.channels["C0CRICKET1"]
        ts = emu.clock.next()
        original = {"type": "message", "user": "U0BOB00001", "text": "fisrt", "ts": ts, "channel": chan.id}
        edited = {**original, "text": "first", "edited": {"user": "U0BOB00001", "ts": emu.clock.next()}}
        changed = {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": chan.id,
            "ts": emu.clock.next(),
            "message": edited,
            "previous_message": original,
        }
        edit_id = emu.emit(changed, channel=chan)

        def first_attempt_failed() -> bool:
            if mode == "socket":
                return any(e.event_id == edit_id and e.sent_on is not None for e in emu.socket.envelopes)
            return any(a.event_id == edit_id and a.status == 500 for a in emu.http.attempts)

        await emu.wait_for(first_attempt_failed, what="the early edit refused")
        emu.emit({**original, "event_ts": ts}, channel=chan)
        await bridge.settled()
        [msg] = await bridge.core_messages("cricket")
        assert msg.text == "first" and msg.edited_ts


async def test_http_adapter_refuses_bad_signatures(
    emulator_factory: Callable[..., Awaitable[SlackEmulator]], chat: Chat
) -> None:
    emu = await emulator_factory(delivery="http")
    async with running_bridge(chat, emu, "http") as bridge:
        await bridge.link("cricket", "cricket")
        emu.config.signing_secret = "not-the-apps-secret"
        emu.user_says(user="bob", channel="cricket", text="forged")
        await emu.wait_for(lambda: len(emu.http.attempts) == 4, what="every retry refused")
        assert {a.status for a in emu.http.attempts} == {401}
        body = json.dumps(emu.emitted[0]).encode()
        stale = sign(bridge.adapter._secrets.signing_secret or "", body, str(int(time.time()) - 600))
        url = emu.config.request_url or ""
        async with aiohttp.ClientSession() as s:
            async with s.post(url, data=body, headers={"Content-Type": "application/json", **stale}) as resp:
                assert resp.status == 401
            async with s.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
                assert resp.status == 401
        assert await bridge.core_messages("cricket") == []
        emu.config.signing_secret = bridge.adapter._secrets.signing_secret or ""
        emu.redeliver(emu.emitted[0]["event_id"])
        await bridge.settled()
        assert [m.text for m in await bridge.core_messages("cricket")] == ["forged"]
