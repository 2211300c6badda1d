"""The platform id maps' lifetime (bridge/store/lua/_forget.lua): ``cb:pmsg:*`` and ``cb:mirror:*``
live as long as the message they name is in Redis (a thread root's, as long as its thread), and while
they live a repeated platform message is refused; so their going can never let a duplicate in."""

from __future__ import annotations

import json
import time
from pathlib import Path

from bridge.core.archive import Archive, RetentionPolicy
from bridge.core.backfill import HistoryMessage, backfill
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, InboundEvent, PlatformUser
from bridge.store import keys

S1 = ChannelRef("slack", "T1", "C1")
D1 = ChannelRef("discord", "g1", "c1")
ALICE = PlatformUser("slack", "T1", "U1", "Alice")
DAY = 86_400_000


def pkey(ref: ChannelRef, pid: str) -> str:
    return keys.platform_message(ref.platform, ref.workspace, ref.channel_id, pid)


async def said(chat: Chat, pid: str, text: str, thread: str | None = None) -> str:
    result = await chat.ingest(InboundEvent("message", S1, pid, f"slack:{pid}:{text}", ALICE, text, thread=thread))
    assert result.status == "recorded", result
    return str(result.core_id)


async def mirrored(chat: Chat, core_id: str, copy: str) -> None:
    """What the mirror's commit leaves for a copy on Discord (mirror_commit.lua)."""
    await chat.ctx.redis.hset(keys.mirror_map(core_id), D1.key(), json.dumps([copy]))
    await chat.ctx.redis.set(pkey(D1, copy), core_id)


async def room(chat: Chat) -> None:
    await chat.channels.create("general")
    await chat.channels.link("general", S1)
    await chat.channels.link("general", D1)


async def test_a_deleted_message_takes_its_platform_id_with_it_and_a_live_one_keeps_refusing_repeats(
    chat: Chat,
) -> None:
    await room(chat)
    kept = await said(chat, "1.1", "stays")
    gone = await said(chat, "1.2", "goes")
    history = [HistoryMessage(InboundEvent("message", S1, pid, "", ALICE, "x"), 1) for pid in ("1.1", "1.2")]
    assert (await backfill(chat, S1, history)).duplicates == 2  # both known while they are in Redis
    owner = (await chat.messages.get(gone)).username
    await chat.messages.delete(gone, owner)
    assert not await chat.ctx.redis.exists(pkey(S1, "1.2"))
    assert await chat.ctx.redis.get(pkey(S1, "1.1")) == kept
    again = await backfill(chat, S1, history[:1])
    assert (again.recorded, again.duplicates) == (0, 1)


async def test_a_thread_root_keeps_its_platform_id_while_its_thread_lives(chat: Chat) -> None:
    await room(chat)
    root = await said(chat, "2.0", "a root")
    await said(chat, "2.1", "a reply in it", thread="2.0")
    await chat.messages.delete(root, (await chat.messages.get(root)).username)
    assert await chat.ctx.redis.get(pkey(S1, "2.0")) == root
    later = await said(chat, "2.2", "a later reply", thread="2.0")
    assert (await chat.messages.get(later)).thread == root  # still finds its thread


async def test_archived_messages_take_every_platform_id_and_their_map_with_them(chat: Chat, tmp_path: Path) -> None:
    await room(chat)
    now = int(time.time() * 1000)
    old = await said(chat, "3.1", "old words")
    await mirrored(chat, old, "900")
    chat.ctx.clock = lambda: (now + 10 * DAY) / 1000
    new = await said(chat, "3.2", "new words")
    await mirrored(chat, new, "901")
    root = await said(chat, "3.3", "old root")  # (kept below: its thread lives on)
    await said(chat, "3.4", "reply", thread="3.3")
    await chat.ctx.redis.set("cb:lastid", f"{now + 10 * DAY}-0")
    chat.ctx.clock = lambda: (now + 12 * DAY) / 1000
    summary = await Archive(chat.ctx, tmp_path).export(RetentionPolicy(messages_per_channel=3), out=None)
    assert summary.removed == 1 and not await chat.ctx.redis.exists(keys.message(old))
    for key in (pkey(S1, "3.1"), pkey(D1, "900"), keys.mirror_map(old)):
        assert not await chat.ctx.redis.exists(key), key
    assert await chat.ctx.redis.get(pkey(S1, "3.2")) == new and await chat.ctx.redis.get(pkey(D1, "901")) == new
    assert await chat.ctx.redis.hget(keys.mirror_map(new), D1.key()) == '["901"]'
    assert await chat.ctx.redis.get(pkey(S1, "3.3")) == root
    # an edit on Slack of the archived message finds nothing to change, as before
    edit = await chat.ingest(InboundEvent("edit", S1, "3.1", "slack:edit:3.1", ALICE, "changed"))
    assert edit.status == "ignored"
