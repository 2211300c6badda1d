"""Issue 12: what is said in a linked Discord channel while the bot cannot view it (Discord sends it
nothing from there) reaches Slack once the bot can view it again — exactly once, in order, and
ahead of what is said right after the flip back — whichever event restored the view: a channel
overwrite (CHANNEL_UPDATE), a role's permissions (GUILD_ROLE_UPDATE) or the bot's roles
(GUILD_MEMBER_UPDATE). Real discord.py and slack-bolt against the emulators
(bridge.adapters.discord.view_watch)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest
from both_sides import Both, both_sides, core_texts
from waiting import until, until_async

from bridge.core.chat import Chat
from bridge.emulators.discord.state import BOT_PERMISSIONS, DEFAULT_PERMISSIONS
from bridge.metrics import REGISTRY

VIEW_CHANNEL = 1 << 10
Flip = Callable[[Both], Awaitable[object]]


async def _discord_says(b: Both, label: str, n: int, channel: str = "general") -> list[str]:
    texts = [f"{label} {i}" for i in range(n)]
    for i, text in enumerate(texts):
        await b.discord.say(("alice", "bob", "carol")[i % 3], channel, text)
    return texts


def _on_slack(b: Both, texts: list[str]) -> list[str] | None:
    got = [t for t in b.slack_texts() if t in texts]
    return got if len(got) >= len(texts) else None


async def _hidden_then_back(b: Both, hide: Flip, show: Flip, *, speaker: str = "alice") -> list[str]:
    """Messages before, while hidden, and right after the flip back (not waiting for the catch-up)."""
    general = int(b.discord.channel("general").id)
    view = b.adapter("discord").view
    before = await _discord_says(b, "before", 2)
    await until(lambda: _on_slack(b, before), what="the first messages on Slack")
    await hide(b)
    await until(lambda: general in view.hidden, what="the loss of view noticed")
    assert f"discord:{b.discord.guild_id}:{general}" in b.adapter("discord").health().info["cannot_view"]
    hidden = [f"while hidden {i}" for i in range(6)]
    for text in hidden:
        await b.discord.say(speaker, "general", text)
    assert not [t for t in b.slack_texts() if t in hidden]  # the bot got none of them live
    await show(b)
    after = [f"right after {i}" for i in range(3)]
    for text in after:  # live at once: they must not overtake the catch-up of the channel
        await b.discord.say(speaker, "general", text)
    runs = await b.adapter("discord").catch_up.wait_runs(1, within=30, restored=True)
    assert runs[0].channel == general and runs[0].messages >= len(hidden) and not runs[0].failed
    return before + hidden + after


async def _crossed_once_in_order(b: Both, chat: Chat, expected: list[str]) -> None:
    got = await until(lambda: _on_slack(b, expected), timeout=30, what="every message on Slack")
    assert got == expected  # all of them, once each, in the order they were said
    assert [t for t in await core_texts(chat) if t in expected] == expected
    assert await b.dead_letters() == 0
    assert b.discord.gateway.identifies == 1  # no new session: the channel alone was caught up
    assert not b.adapter("discord").health().info.get("cannot_view")


async def test_a_channel_overwrite_hiding_the_channel_then_lifted(chat: Chat, redis_url: str) -> None:
    async def hide(b: Both) -> None:
        await b.discord.permissions.revoke("general", "VIEW_CHANNEL", who="chatbridge")  # the bot's role

    async def show(b: Both) -> None:
        await b.discord.permissions.reset("general", who="chatbridge")

    async with both_sides(chat, redis_url) as b:
        expected = await _hidden_then_back(b, hide, show)
        await _crossed_once_in_order(b, chat, expected)


async def test_the_bots_role_losing_view_then_given_it_back(chat: Chat, redis_url: str) -> None:
    async def hide(b: Both) -> None:  # GUILD_ROLE_UPDATE: neither @everyone nor the bot's role may view
        await b.discord.permissions.set_role("@everyone", DEFAULT_PERMISSIONS & ~VIEW_CHANNEL)
        await b.discord.permissions.set_role("chatbridge", BOT_PERMISSIONS & ~VIEW_CHANNEL)

    async def show(b: Both) -> None:
        await b.discord.permissions.set_role("chatbridge", BOT_PERMISSIONS)

    async with both_sides(chat, redis_url) as b:
        expected = await _hidden_then_back(b, hide, show)  # alice (Moderators) sees it all along
        await _crossed_once_in_order(b, chat, expected)


async def test_the_bot_losing_then_regaining_the_role_that_lets_it_view(
    chat: Chat, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def hide(b: Both) -> None:  # GUILD_MEMBER_UPDATE of the bot (sent without GUILD_MEMBERS)
        await b.discord.permissions.remove_role("bot", "Moderators")

    async def show(b: Both) -> None:
        await b.discord.permissions.add_role("bot", "Moderators")

    async with both_sides(chat, redis_url) as b:
        emu = b.discord
        await emu.permissions.add_role("bot", "Moderators")
        await emu.permissions.grant("general", "VIEW_CHANNEL", who="Moderators")
        await emu.permissions.revoke("general", "VIEW_CHANNEL", who="@everyone")  # only Moderators view
        assert emu.permissions.of("general") & VIEW_CHANNEL
        with caplog.at_level(logging.WARNING, logger="bridge.adapters.discord"):
            expected = await _hidden_then_back(b, hide, show)
        assert any("can no longer view this channel" in r.getMessage() for r in caplog.records)
        assert any("I need View Channel in #general" in r.getMessage() for r in caplog.records)  # admins told
        await _crossed_once_in_order(b, chat, expected)


async def test_threads_and_edits_of_the_hidden_channel_are_caught_up_too(chat: Chat, redis_url: str) -> None:
    async def in_core(texts: list[str]) -> list[str]:
        async def probe() -> list[str] | None:
            have = await core_texts(chat)
            return have if all(t in have for t in texts) else None

        found: list[str] = await until_async(probe, timeout=30, what=f"{texts} in the core")
        return found

    async with both_sides(chat, redis_url) as b:
        emu, view = b.discord, b.adapter("discord").view
        root = await emu.say("alice", "general", "a topic")
        thread = await emu.start_thread("alice", "general", "the topic", message_id=str(root["id"]))
        await emu.say("bob", thread.id, "first reply")
        earlier = await emu.say("carol", "general", "said before, fixed while hidden: tpyo")
        await in_core(["a topic", "first reply", "said before, fixed while hidden: tpyo"])
        await emu.permissions.revoke("general", "VIEW_CHANNEL")
        await until(lambda: int(emu.channel("general").id) in view.hidden, what="the loss of view noticed")
        await emu.say("carol", thread.id, "reply while hidden")
        await emu.edit("general", str(earlier["id"]), "said before, fixed while hidden")
        fresh = await emu.start_thread("bob", "general", "opened while hidden")
        await emu.say("bob", fresh.id, "in a thread opened while hidden")
        await emu.permissions.reset("general")
        runs = await b.adapter("discord").catch_up.wait_runs(1, within=30, restored=True)
        texts = await in_core(
            ["reply while hidden", "said before, fixed while hidden", "in a thread opened while hidden"]
        )
        assert texts.count("reply while hidden") == 1 and texts.count("in a thread opened while hidden") == 1
        assert runs[0].threads == 2 and runs[0].edits == 1 and not runs[0].failed
        replies = {m.text: m for m in await chat.messages.history("general", 100)}
        assert replies["reply while hidden"].thread == replies["a topic"].id  # still in its thread
        assert await b.dead_letters() == 0


async def test_a_channel_visible_again_without_read_message_history_is_reported_not_silent(
    chat: Chat, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Discord lists no messages without Read Message History: what was said while hidden cannot be
    read, and the operator is told (WARNING + ``inbound_dropped`` ``catch_up_failed``); live traffic
    flows again at once."""

    def dropped() -> float:
        labels = {"platform": "discord", "reason": "catch_up_failed"}
        return REGISTRY.get_sample_value("chatbridge_inbound_dropped_total", labels) or 0.0

    async with both_sides(chat, redis_url) as b:
        emu, view = b.discord, b.adapter("discord").view
        general = int(emu.channel("general").id)
        before = await _discord_says(b, "before", 1)
        await until(lambda: _on_slack(b, before), what="the first message on Slack")
        await emu.permissions.revoke("general", "VIEW_CHANNEL", "READ_MESSAGE_HISTORY")
        await until(lambda: general in view.hidden, what="the loss of view noticed")
        await emu.say("alice", "general", "said while hidden")
        failed = dropped()
        with caplog.at_level(logging.WARNING):
            await emu.permissions.grant("general", "VIEW_CHANNEL")  # back, but history still denied
            runs = await b.adapter("discord").catch_up.wait_runs(1, within=30, restored=True)
        assert runs[0].failed == 1 and runs[0].messages == 0
        assert dropped() == failed + 1
        assert any(
            "Read Message History" in r.getMessage() and "catch_up_failed" in r.getMessage() for r in caplog.records
        )
        after = await _discord_says(b, "after", 1)
        await until(lambda: _on_slack(b, before + after), what="live traffic again")
        assert "said while hidden" not in b.slack_texts()
