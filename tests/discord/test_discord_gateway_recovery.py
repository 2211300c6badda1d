"""The Discord adapter through gateway faults (op 7, op 9 true/false, close 4009, zombie connections):
it recovers, and what was said meanwhile reaches the core exactly once, in order — replayed by a
RESUME, or, after a session that could not be resumed, read back from channel history (catch_up)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from both_sides import core_texts
from waiting import until, until_async

from bridge.adapters.discord import DiscordAdapter, DiscordConfig
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.emulators.discord import DiscordEmulator
from bridge.emulators.discord.state import EmulatorConfig
from bridge.store import keys


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    """Heartbeats every 0.2 s, so a zombie connection shows within a second."""
    async with DiscordEmulator(EmulatorConfig(heartbeat_interval_ms=200)) as emu:
        yield emu


@pytest.fixture
def adapter_config(adapter_config: DiscordConfig) -> DiscordConfig:
    """No pause before a re-IDENTIFY (discord.py's default is 5 s)."""
    return adapter_config.model_copy(update={"identify_delay": 0.0})


@pytest.fixture
async def linked(chat: Chat, emulator: DiscordEmulator) -> Chat:
    await chat.channels.create("general")
    await chat.channels.link("general", ChannelRef("discord", emulator.guild_id, emulator.channel("general").id))
    return chat


async def _in_core(chat: Chat, texts: list[str]) -> list[str]:
    """Wait until every one of ``texts`` is in the core; return the core's texts."""

    async def probe() -> list[str] | None:
        have = await core_texts(chat)
        return have if all(t in have for t in texts) else None

    found: list[str] = await until_async(probe, what=f"{texts} in the core")
    return found


async def _say(emulator: DiscordEmulator, label: str, n: int, where: str = "general") -> list[str]:
    texts = [f"{label} {i}" for i in range(n)]
    for i, text in enumerate(texts):
        await emulator.say(("alice", "bob", "carol")[i % 3], where, text)
    return texts


@pytest.mark.parametrize("fault", ["reconnect", "invalid_resumable", "close_4000", "zombie"])
async def test_a_resumable_fault_is_resumed_and_replays_once(
    linked: Chat, emulator: DiscordEmulator, adapter: DiscordAdapter, fault: str
) -> None:
    before = await _say(emulator, "before", 2)
    await _in_core(linked, before)
    assert await emulator.gateway.fault(fault) == 1
    during = await _say(emulator, f"during {fault}", 3)  # the session has no socket now: buffered
    after_resume = await until(lambda: emulator.gateway.resumes == 1, what="a RESUME")
    assert after_resume
    after = await _say(emulator, "after", 2)
    assert await _in_core(linked, before + during + after) == before + during + after  # once each, in order
    assert emulator.gateway.identifies == 1 and adapter.catch_up.runs == []
    if fault == "zombie":  # noticed after one unanswered heartbeat, not discord.py's 60 s of silence
        assert adapter.heartbeats.zombies == 1 and emulator.gateway.unanswered_heartbeats >= 1


@pytest.mark.parametrize("fault", ["invalid_session", "close_4009"])
async def test_a_session_lost_while_away_is_caught_up_from_history(
    linked: Chat, emulator: DiscordEmulator, adapter: DiscordAdapter, fault: str
) -> None:
    before = await _say(emulator, "before", 2)
    await _in_core(linked, before)
    await emulator.outage(True)  # gone long enough for the session to end
    await emulator.gateway.fault(fault)
    assert emulator.gateway.sessions == {}
    gap = await _say(emulator, "in the gap", 5)
    await emulator.outage(False)
    runs = await adapter.catch_up.wait_runs(1, within=15)
    after = await _say(emulator, "after", 2)
    assert await _in_core(linked, before + gap + after) == before + gap + after
    assert emulator.gateway.identifies == 2 and emulator.gateway.resumes == 0
    assert runs[0].channels == 1 and runs[0].failed == 0 and runs[0].messages >= len(gap)


async def test_an_invalid_session_mid_traffic_loses_nothing_and_keeps_order(
    linked: Chat, emulator: DiscordEmulator, adapter: DiscordAdapter
) -> None:
    """op 9 d=false on the live socket while people keep talking: some messages go to the dead
    session, some come live on the new one before its catch-up ends; each lands once, in order."""
    before = await _say(emulator, "before", 2)
    await _in_core(linked, before)
    assert await emulator.gateway.fault("invalid_session") == 1
    racing = await _say(emulator, "racing", 12)
    await adapter.catch_up.wait_runs(1, within=15)
    after = await _say(emulator, "after", 2)
    assert await _in_core(linked, before + racing + after) == before + racing + after


async def test_live_messages_wait_for_the_catch_up(
    linked: Chat, emulator: DiscordEmulator, adapter: DiscordAdapter
) -> None:
    """What is said on the new session while its catch-up is still reading (held up here by a 429 on
    the history read) is taken in after the gap's messages, not before them."""
    before = await _say(emulator, "before", 1)
    await _in_core(linked, before)
    await emulator.outage(True)
    await emulator.gateway.fault("invalid_session")
    gap = await _say(emulator, "in the gap", 3)
    emulator.rate_limit("GET", r"/channels/\d+/messages$", retry_after=0.5, times=1)
    await emulator.outage(False)
    await emulator.wait_until(lambda: emulator.gateway.identifies == 2, timeout=15)
    live = await _say(emulator, "live on the new session", 3)
    runs = await adapter.catch_up.wait_runs(1, within=15)
    assert await _in_core(linked, before + gap + live) == before + gap + live
    assert runs[0].messages >= len(gap)
    assert any(r.status == 429 and r.method == "GET" for r in emulator.requests)  # it was held up


async def test_catch_up_reads_active_threads_and_final_edits(
    linked: Chat, emulator: DiscordEmulator, adapter: DiscordAdapter
) -> None:
    root = await emulator.say("alice", "general", "a topic")
    thread = await emulator.start_thread("alice", "general", "the topic", message_id=str(root["id"]))
    await emulator.say("bob", thread.id, "first reply")
    earlier = await emulator.say("carol", "general", "said before, fixed in the gap: tpyo")
    edited_live = await emulator.say("bob", "general", "edited live")
    await _in_core(linked, ["a topic", "first reply", "said before, fixed in the gap: tpyo", "edited live"])
    await emulator.edit("general", str(edited_live["id"]), "edited live, once")
    await _in_core(linked, ["edited live, once"])
    await emulator.outage(True)
    await emulator.gateway.fault("invalid_session")
    await emulator.edit("general", str(earlier["id"]), "said before, fixed in the gap")
    await emulator.say("carol", thread.id, "reply in the gap")
    typo = await emulator.say("alice", "general", "said in the gap, with a tpyo")
    await emulator.edit("general", str(typo["id"]), "said in the gap, fixed")
    fresh = await emulator.start_thread("bob", "general", "opened in the gap")
    await emulator.say("bob", fresh.id, "in a thread opened in the gap")
    await emulator.outage(False)
    runs = await adapter.catch_up.wait_runs(1, within=15)
    texts = await _in_core(linked, ["reply in the gap", "said in the gap, fixed", "in a thread opened in the gap"])
    assert "said in the gap, with a tpyo" not in texts
    assert texts.count("reply in the gap") == 1 and runs[0].threads == 2
    assert "said before, fixed in the gap" in await _in_core(linked, ["said before, fixed in the gap"])
    assert runs[0].edits == 2  # both edits found; the one seen live is a duplicate for the core
    entries = await linked.ctx.redis.xrange(keys.channel("general"))
    assert sum(1 for _, e in entries if e.get("type") == "edit") == 2  # the live edit was not applied twice
    replies = {m.text: m for m in await linked.messages.history("general", 100)}
    assert replies["reply in the gap"].thread == replies["a topic"].id  # still in its thread


async def test_an_unreadable_linked_channel_is_reported_and_the_rest_caught_up(
    linked: Chat, emulator: DiscordEmulator, adapter: DiscordAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    await linked.channels.create("gone")
    await linked.channels.link("gone", ChannelRef("discord", emulator.guild_id, "4242424242"))
    await emulator.outage(True)
    await emulator.gateway.fault("invalid_session")
    gap = await _say(emulator, "in the gap", 3)
    with caplog.at_level(logging.WARNING):
        await emulator.outage(False)
        runs = await adapter.catch_up.wait_runs(1, within=15)
    assert runs[0].failed == 1 and runs[0].channels == 2
    assert any("catch_up_failed" in r.getMessage() and "4242424242" in r.getMessage() for r in caplog.records)
    after = await _say(emulator, "after", 1)
    assert await _in_core(linked, gap + after) == gap + after  # live traffic flows again


async def test_a_sharded_adapter_catches_up_too(chat: Chat, discord_endpoints: DiscordEmulator) -> None:
    """Two shards (the guild on shard 1): the first two READYs start the adapter, later ones (both
    shards identify anew after their sessions ended) catch up (``on_shard_ready``)."""
    async with DiscordEmulator(EmulatorConfig(recommended_shards=2, guild_shard=1)) as emu:
        await chat.channels.create("general")
        await chat.channels.link("general", ChannelRef("discord", emu.guild_id, emu.channel("general").id))
        config = DiscordConfig(
            api_base=emu.api_base, gateway_url=emu.gateway_url, guild_ids=(int(emu.guild_id),), shards=2,
            identify_delay=0,
        )  # fmt: skip
        bridge = DiscordAdapter(chat=chat, config=config)
        await bridge.start(emu.token, ready_within=15)
        try:
            before = await _say(emu, "before", 1)
            await _in_core(chat, before)
            assert bridge.catch_up.runs == []
            await emu.outage(True)
            assert await emu.gateway.fault("invalid_session") == 2
            gap = await _say(emu, "in the gap", 4)
            await emu.outage(False)
            runs = await bridge.catch_up.wait_runs(1, within=20)
            after = await _say(emu, "after", 1)
            assert await _in_core(chat, before + gap + after) == before + gap + after
            assert runs[0].failed == 0 and emu.gateway.identifies == 4
        finally:
            await bridge.close()


async def test_a_restart_catches_up_what_was_said_while_down(
    linked: Chat, emulator: DiscordEmulator, adapter_config: DiscordConfig
) -> None:
    """A restart is a gap too: the next start reads each linked channel after its recorded anchor. A
    channel with no anchor yet (linked, nothing taken in) gets one at start; its older history is
    never replayed."""
    await emulator.say("alice", "random", "old history, before the link")
    await linked.channels.create("random")
    await linked.channels.link("random", ChannelRef("discord", emulator.guild_id, emulator.channel("random").id))
    first = DiscordAdapter(chat=linked, config=adapter_config)
    await first.start(emulator.token, ready_within=10)
    try:
        before = await _say(emulator, "before", 2)
        await _in_core(linked, before)
        assert first.catch_up.start_run is not None and first.catch_up.start_run.messages == 0
    finally:
        await first.close()
    down = await _say(emulator, "while the bridge was down", 4)
    down_random = await _say(emulator, "in random while down", 1, where="random")
    second = DiscordAdapter(chat=linked, config=adapter_config)
    await second.start(emulator.token, ready_within=10)
    try:
        await until(lambda: second.catch_up.start_run, what="the start's catch-up")
        after = await _say(emulator, "after", 1)
        assert await _in_core(linked, before + down + after) == before + down + after
        random = [m.text for m in await linked.messages.history("random", 20) if m.kind == "message"]
        assert random == down_random  # not "old history, before the link"
        assert second.catch_up.runs == []  # no lost session, only the start
    finally:
        await second.close()


async def test_catch_up_on_start_can_be_turned_off(
    linked: Chat, emulator: DiscordEmulator, adapter_config: DiscordConfig
) -> None:
    config = adapter_config.model_copy(update={"catch_up_on_start": False})
    first = DiscordAdapter(chat=linked, config=config)
    await first.start(emulator.token, ready_within=10)
    try:
        await _in_core(linked, await _say(emulator, "before", 1))
    finally:
        await first.close()
    await _say(emulator, "while down", 1)
    second = DiscordAdapter(chat=linked, config=config)
    await second.start(emulator.token, ready_within=10)
    try:
        after = await _say(emulator, "after", 1)
        assert (await _in_core(linked, after))[-2:] == ["before 0", "after 0"]
        assert second.catch_up.start_run is None
    finally:
        await second.close()
