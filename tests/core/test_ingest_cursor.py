"""An inbound message's cursor (an adapter's catch-up anchor) moved by its own ingest, only forward;
and ``Chat.ingest_many``, the group commit of one room's events, in order."""

from __future__ import annotations

import logging

import pytest

from bridge.adapters.discord.catch_up import LastSeen as DiscordLastSeen
from bridge.adapters.slack.catch_up import LastSeen as SlackLastSeen
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, Cursor, InboundEvent, IngestResult, PlatformUser
from bridge.store import keys

SLACK = ChannelRef("slack", "T1", "C1")
DISCORD = ChannelRef("discord", "1", "2")


@pytest.fixture
async def linked(chat: Chat) -> Chat:
    await chat.channels.create("general")
    await chat.channels.link("general", SLACK)
    await chat.channels.create("games")
    await chat.channels.link("games", DISCORD)
    return chat


def said(
    ts: str, text: str = "hi", *, ref: ChannelRef = SLACK, cursor: Cursor | None = None, **kw: object
) -> InboundEvent:
    if cursor is None and ref is SLACK:
        cursor = Cursor(keys.slack_last_seen(ref.workspace), ref.channel_id, ts)
    author = PlatformUser(ref.platform, ref.workspace, "U1", "ann")
    return InboundEvent("message", ref, ts, f"{ref.platform}:{ts}:{text}", author, text, cursor=cursor, **kw)  # type: ignore[arg-type]


async def slack_anchor(chat: Chat) -> str | None:
    return await SlackLastSeen(chat.ctx.redis).of(SLACK.workspace, SLACK.channel_id)


async def test_a_recorded_message_moves_its_anchor(linked: Chat) -> None:
    result = await linked.ingest(said("1700000000.000100"))
    assert result.status == "recorded"
    assert await slack_anchor(linked) == "1700000000.000100"


async def test_the_anchor_only_moves_forward_comparing_slack_ts_as_decimals(linked: Chat) -> None:
    await linked.ingest(said("1700000000.000200", "b"))
    await linked.ingest(said("1700000000.000100", "a"))  # older, taken in later (a redelivery, concurrency)
    assert await slack_anchor(linked) == "1700000000.000200"
    await linked.ingest(said("999999999.999999", "shorter integer part"))
    assert await slack_anchor(linked) == "1700000000.000200"
    await linked.ingest(said("1700000000.0003", "fewer fraction digits, greater"))
    assert await slack_anchor(linked) == "1700000000.0003"
    await linked.ingest(said("10000000000.0", "longer integer part"))
    assert await slack_anchor(linked) == "10000000000.0"


async def test_discord_snowflakes_compare_exactly_beyond_double_precision(linked: Chat) -> None:
    """Two snowflakes 1 apart above 2**53 are the same Lua double: compared as numbers the older one
    would count as not older."""
    key = keys.discord_last_seen(DISCORD.workspace)
    newer, older, newest = "1180000000000000003", "1180000000000000002", "1180000000000000004"
    for ts, text in ((newer, "a"), (older, "b")):
        await linked.ingest(said(ts, text, ref=DISCORD, cursor=Cursor(key, "77", ts)))
    assert await DiscordLastSeen(linked.ctx.redis).of(1, [77]) == {77: int(newer)}
    await linked.ingest(said(newest, "c", ref=DISCORD, cursor=Cursor(key, "77", newest)))
    assert await DiscordLastSeen(linked.ctx.redis).of(1, [77]) == {77: int(newest)}


async def test_a_duplicate_and_a_refused_message_move_the_anchor_too(linked: Chat) -> None:
    """Both were taken in: a catch-up must not read them again."""
    first = said("1700000000.000100")
    await linked.ingest(first)
    await linked.ctx.redis.hset(keys.slack_last_seen("T1"), "C1", "1600000000.000000")  # set back by hand
    assert (await linked.ingest(first)).status == "duplicate"
    assert await slack_anchor(linked) == "1700000000.000100"
    refused = await linked.ingest(said("1700000000.000500", "x" * 50_000))
    assert refused.refused and refused.status == "ignored"
    assert await slack_anchor(linked) == "1700000000.000500"


async def test_an_unlinked_channel_moves_no_anchor(linked: Chat) -> None:
    ref = ChannelRef("slack", "T1", "C9")
    event = said("1700000000.000100", ref=ref, cursor=Cursor(keys.slack_last_seen("T1"), "C9", "1700000000.000100"))
    assert (await linked.ingest(event)).reason == "channel not linked"
    assert await linked.ctx.redis.hget(keys.slack_last_seen("T1"), "C9") is None


@pytest.mark.parametrize("value", ["", "abc", "1e5", "-1", "1.2.3", "0x10", " 1", "1" * 50])
async def test_a_bad_cursor_is_not_written_and_the_message_still_crosses(
    linked: Chat, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    await linked.ingest(said("1700000000.000100", "before"))
    event = said("1700000000.000200", "bad cursor", cursor=Cursor(keys.slack_last_seen("T1"), "C1", value))
    with caplog.at_level(logging.WARNING, logger="bridge.core"):
        result = await linked.ingest(event)
    assert result.status == "recorded"
    assert "not a decimal number" in caplog.text
    assert await slack_anchor(linked) == "1700000000.000100"
    assert [m.text for m in await linked.messages.history("general", 10)] == ["before", "bad cursor"]


async def test_a_cursor_hash_of_the_wrong_type_does_not_fail_the_message(linked: Chat) -> None:
    await linked.ctx.redis.set(keys.slack_last_seen("T1"), "not a hash")
    assert (await linked.ingest(said("1700000000.000100"))).status == "recorded"
    assert await linked.ctx.redis.get(keys.slack_last_seen("T1")) == "not a hash"


async def test_a_group_is_recorded_in_order_with_edits_deletes_and_a_thread_of_its_own(linked: Chat) -> None:
    """message, message, edit of the first, a reply in the first's thread, delete of the second: one
    call; each event after the ones before it (the edit finds its message, the reply its root)."""
    ref = SLACK
    author = PlatformUser("slack", "T1", "U1", "ann")
    events = [
        said("1700000000.000100", "root"),
        said("1700000000.000200", "second"),
        InboundEvent("edit", ref, "1700000000.000100", "slack:e1", author, "root, edited"),
        said("1700000000.000300", "reply", thread="1700000000.000100"),
        InboundEvent("delete", ref, "1700000000.000200", "slack:d1"),
        said("1700000000.000400", "last"),
    ]
    results = await linked.ingest_many(events)
    assert [r.status for r in results if isinstance(r, IngestResult)] == ["recorded"] * 6
    texts = [m.text for m in await linked.messages.history("general", 10)]
    assert texts == ["root, edited", "reply", "last"]
    root_id = results[0].core_id if isinstance(results[0], IngestResult) else None
    assert root_id is not None
    _root, replies, count = await linked.messages.thread(root_id)
    assert [r.text for r in replies] == ["reply"] and count == 1
    assert await slack_anchor(linked) == "1700000000.000400"


async def test_one_bad_message_of_a_group_is_its_own_the_others_are_recorded(linked: Chat) -> None:
    events = [said("1700000000.000100", "a"), said("1700000000.000200", "x" * 50_000), said("1700000000.000300", "c")]
    results = await linked.ingest_many(events)
    assert [(r.status, r.refused) for r in results if isinstance(r, IngestResult)] == [
        ("recorded", False),
        ("ignored", True),
        ("recorded", False),
    ]
    assert [m.text for m in await linked.messages.history("general", 10)] == ["a", "c"]
