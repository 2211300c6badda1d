"""Backfill (core side): attributed, in order with original times, replies linked, deduplicated by
platform id against live traffic and earlier backfills, never mirrored, progress, safe to repeat."""

from __future__ import annotations

import pytest

from bridge.core.backfill import HistoryMessage, backfill
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, InboundEvent, PlatformUser
from bridge.errors import NotFound
from bridge.store import keys

D1 = ChannelRef("discord", "g1", "c1")
ALICE = PlatformUser("discord", "g1", "100", "Alice A")
BOB = PlatformUser("discord", "g1", "200", "Bob B")
T = 1_700_000_000_000


def said(mid: str, who: PlatformUser, text: str, ts: int, reply_to: str | None = None) -> HistoryMessage:
    return HistoryMessage(InboundEvent("message", D1, mid, f"bf:{mid}", who, text, reply_to=reply_to), ts)


async def log_entries(chat: Chat) -> int:
    return sum([await chat.ctx.redis.xlen(keys.mirror_log(p)) for p in range(chat.ctx.settings.mirror_partitions)])


async def test_backfill_records_history_once_in_order_unmirrored(chat: Chat) -> None:
    await chat.channels.create("general")
    await chat.channels.link("general", D1)
    await chat.channels.link("general", ChannelRef("slack", "T1", "C1"))
    live = await chat.ingest(InboundEvent("message", D1, "m3", "live:m3", BOB, "said live"))
    assert live.status == "recorded"
    before = await log_entries(chat)
    history = [
        said("m2", BOB, "a reply", T + 2_000, reply_to="m1"),
        said("m1", ALICE, "the first words", T + 1_000),
        said("m3", BOB, "said live", T + 3_000),  # the live one: a duplicate by platform id
        said("m4", ALICE, "later", T + 4_000),
    ]
    seen: list[tuple[int, int]] = []
    result = await backfill(chat, D1, history, progress=lambda done, total: seen.append((done, total)))
    assert (result.recorded, result.duplicates, result.refused) == (3, 1, [])
    assert seen[-1] == (4, 4)
    assert await log_entries(chat) == before  # the platforms saw these: nothing to mirror

    found = await chat.finder.messages("the first words")
    first = found.hits[0]
    assert first.ts == T + 1_000 and first.username == await chat.find_username("discord", "g1", "100")
    reply = (await chat.finder.messages("a reply")).hits[0]
    assert reply.reply_to == first.id  # m1 was recorded earlier in the same backfill
    ordered = [m.text for m in (await chat.finder.messages("from:" + first.username + " page:1")).hits]
    assert ordered == ["later", "the first words"]  # newest first by original time

    again = await backfill(chat, D1, history)
    assert (again.recorded, again.duplicates) == (0, 4)
    assert await chat.ctx.redis.xlen(keys.channel("general")) == 4


async def test_backfill_needs_a_link_and_refuses_authorless_messages(chat: Chat) -> None:
    with pytest.raises(NotFound, match="not linked"):
        await backfill(chat, D1, [said("x", ALICE, "hi", T)])
    await chat.channels.create("general")
    await chat.channels.link("general", D1)
    orphan = HistoryMessage(InboundEvent("message", D1, "y", "bf:y", None, "who?"), T)
    result = await backfill(chat, D1, [orphan, said("z", ALICE, "  ", T + 1)])
    assert result.recorded == 0 and result.refused[0] == "y: no author"
    assert result.refused[1].startswith("z: ") and "empty" in result.refused[1]
