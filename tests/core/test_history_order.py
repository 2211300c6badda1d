"""``history`` lists a channel by when its messages were said, also when a backfill (or an import)
recorded older messages after newer ones: stream ids only grow, so those get ids after the live
messages; the channel's backdated set (``keys.backdated``) is merged in by ``ts``. The guide's own
XREVRANGE keeps listing the stream as recorded; a channel filled in order costs no backdated entry."""

from __future__ import annotations

import time

from notify_kit import collecting_notifier

from bridge.core.backfill import HistoryMessage, backfill
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, InboundEvent, Invocation, PlatformUser
from bridge.store import keys

D1 = ChannelRef("discord", "g1", "c1")
ALICE = PlatformUser("discord", "g1", "100", "Alice A")
BOB = PlatformUser("discord", "g1", "200", "Bob B")
HOUR = 3_600_000


def said(mid: str, who: PlatformUser, text: str, ts: int, thread: str | None = None) -> HistoryMessage:
    return HistoryMessage(InboundEvent("message", D1, mid, f"bf:{mid}", who, text, thread=thread), ts)


async def texts(chat: Chat, count: int, channel: str = "general") -> list[str]:
    return [m.text for m in await chat.messages.history(channel, count)]


async def live(chat: Chat, mid: str, text: str) -> None:
    assert (await chat.ingest(InboundEvent("message", D1, mid, f"live:{mid}", BOB, text))).status == "recorded"


async def test_backfilled_history_reads_before_the_live_messages_it_came_after(chat: Chat) -> None:
    await chat.channels.create("general")
    await chat.channels.link("general", D1)
    for i in range(3):
        await live(chat, f"l{i}", f"live {i}")
    old = int(time.time() * 1000) - 48 * HOUR
    history = [said(f"b{i}", ALICE, f"old {i}", old + i * 1000) for i in range(5)]
    history.append(said("b1r", BOB, "a reply in old 1", old + 1500, thread="b1"))
    assert (await backfill(chat, D1, history)).recorded == 6

    assert await texts(chat, 20) == [
        "old 0", "old 1", "a reply in old 1", "old 2", "old 3", "old 4", "live 0", "live 1", "live 2"
    ]  # fmt: skip
    assert await texts(chat, 3) == ["live 0", "live 1", "live 2"]  # the newest by when they were said
    assert await texts(chat, 5) == ["old 3", "old 4", "live 0", "live 1", "live 2"]
    redis = chat.ctx.redis
    assert await redis.zcard(keys.backdated("general")) == 6
    # the guide's XREVRANGE still lists the stream as recorded (ids only grow)
    newest = await redis.xrevrange(keys.channel("general"), count=1)
    assert (await redis.hget(keys.message(newest[0][0]), "message")) == "old 4"  # recorded last
    # new live messages come last, and the rest keeps its place
    await live(chat, "l3", "live 3")
    assert (await texts(chat, 3)) == ["live 1", "live 2", "live 3"]
    assert await redis.zcard(keys.backdated("general")) == 6
    # `recent` goes by when they were said too: two-day-old messages are not recent
    recent = await chat.commands.execute(Invocation("cli", username=None, is_admin=True), "recent 60")
    assert "live 3" in recent.text and "old " not in recent.text, recent.text


async def test_a_backfill_into_an_empty_channel_is_in_order_and_costs_no_backdated_entry(chat: Chat) -> None:
    await chat.channels.create("general")
    await chat.channels.link("general", D1)
    old = int(time.time() * 1000) - 48 * HOUR
    await backfill(chat, D1, [said(f"b{i}", ALICE, f"old {i}", old + i * 1000) for i in range(4)])
    await live(chat, "l0", "live 0")
    assert await texts(chat, 10) == ["old 0", "old 1", "old 2", "old 3", "live 0"]
    assert not await chat.ctx.redis.exists(keys.backdated("general"))
    # a bigger backfill later reaches further back: those are backdated, and read in their place
    await backfill(chat, D1, [said(f"a{i}", BOB, f"older {i}", old - 10_000 + i * 1000) for i in range(2)])
    assert await texts(chat, 10) == ["older 0", "older 1", "old 0", "old 1", "old 2", "old 3", "live 0"]
    assert await chat.ctx.redis.zcard(keys.backdated("general")) == 2


async def test_a_deleted_backdated_message_leaves_history_and_the_set(chat: Chat) -> None:
    await chat.channels.create("general")
    await chat.channels.link("general", D1)
    await live(chat, "l0", "live 0")
    old = int(time.time() * 1000) - HOUR
    await backfill(chat, D1, [said("b0", ALICE, "old 0", old), said("b1", ALICE, "old 1", old + 1)])
    gone = await chat.ctx.redis.get(keys.platform_message("discord", "g1", "c1", "b0"))
    assert (await chat.ingest(InboundEvent("delete", D1, "b0", "live:del:b0", ALICE, ""))).status == "recorded"
    assert await texts(chat, 10) == ["old 1", "live 0"]
    assert await chat.ctx.redis.zscore(keys.backdated("general"), gone) is None
    assert await chat.ctx.redis.zcard(keys.backdated("general")) == 1


async def test_history_pages_past_a_long_backdated_run(chat: Chat) -> None:
    """Many backdated entries at the stream's tail: the live messages before them are still found."""
    await chat.channels.create("general")
    await chat.channels.link("general", D1)
    for i in range(3):
        await live(chat, f"l{i}", f"live {i}")
    old = int(time.time() * 1000) - 48 * HOUR
    await backfill(chat, D1, [said(f"b{i}", ALICE, f"old {i}", old + i) for i in range(1200)])
    assert await texts(chat, 4) == ["old 1199", "live 0", "live 1", "live 2"]
    got = await texts(chat, 200)  # history_max
    assert got[-3:] == ["live 0", "live 1", "live 2"] and got[0] == "old 1003" and len(got) == 200


async def test_backfilled_history_notifies_nobody_a_live_message_does(chat: Chat, redis_url: str) -> None:
    await chat.channels.create("general")
    await chat.channels.link("general", D1)
    await chat.commands.execute(Invocation("cli"), "register ann")
    await chat.commands.execute(Invocation("cli", username="ann"), "notify add general")
    async with collecting_notifier(chat, redis_url) as (notifier, got):
        old = int(time.time() * 1000) - 48 * HOUR
        await backfill(chat, D1, [said(f"b{i}", ALICE, f"old {i}", old + i) for i in range(30)])
        await live(chat, "l0", "live 0")
        for _ in range(3):
            await notifier.step()
        assert [n.text for n in got] == ["live 0"]


async def test_backdated_messages_of_one_millisecond_keep_their_recorded_order(chat: Chat) -> None:
    """A backfill records many messages Slack gives the same millisecond (its ``ts`` has
    microseconds, the core keeps ms): their ids are ``<ms>-0``, ``<ms>-1`` … ``<ms>-11``, which must
    sort as numbers (``-10`` after ``-9``), not as strings (``-10`` between ``-1`` and ``-2``)."""
    await chat.channels.create("general")
    await chat.channels.link("general", D1)
    await live(chat, "l0", "live 0")
    old = int(time.time() * 1000) - 48 * HOUR
    assert (await backfill(chat, D1, [said(f"b{i:02d}", ALICE, f"old {i}", old) for i in range(12)])).recorded == 12
    assert await texts(chat, 20) == [f"old {i}" for i in range(12)] + ["live 0"]


async def test_unread_leaves_out_backdated_history_said_before_the_last_visit(chat: Chat) -> None:
    await chat.channels.create("general")
    await chat.channels.link("general", D1)
    await chat.commands.execute(Invocation("cli"), "register ann")
    ann = Invocation("cli", username="ann")
    await live(chat, "l0", "live 0")
    first = await chat.commands.execute(ann, "unread general")
    assert [m["text"] for m in first.data["messages"]] == ["live 0"]  # the visit
    old = int(time.time() * 1000) - 48 * HOUR
    await backfill(chat, D1, [said(f"b{i}", ALICE, f"old {i}", old + i) for i in range(30)])
    await live(chat, "l1", "live 1")
    summary = await chat.commands.execute(ann, "unread")
    assert summary.data == {"general": 1}, summary.text  # not 31: the backfill is history
    again = await chat.commands.execute(ann, "unread general")
    assert [m["text"] for m in again.data["messages"]] == ["live 1"]
    assert "old 29" in [m.text for m in await chat.messages.history("general", 5)]  # still in its place
