"""Documents without ``ts`` found by counting (bridge/store/missing_ts.py): the scripts keep the
count of documents with ``ts`` equal to the index's num_docs, a check costs no search while they
agree, and another tool's hash (or a 1.x document whose hash is gone) is repaired when they differ."""

from __future__ import annotations

import time
from pathlib import Path

from bridge.core.archive import Archive, RetentionPolicy
from bridge.core.chat import Chat
from bridge.core.finder import Finder
from bridge.core.messages import BulkPost
from bridge.store import keys
from bridge.store.missing_ts import CHECK_MS
from bridge.store.search import document_count

DAY = 86_400_000


async def calls(chat: Chat, command: str) -> int:
    stats = await chat.ctx.redis.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def counted(chat: Chat) -> int:
    return int(await chat.ctx.redis.hget(keys.META, keys.META_DOCS) or -1)


async def foreign(chat: Chat, mid: str, text: str) -> str:
    """A message the guide's way (no ts): XADD + HSET, and FT.ADDHASH where 1.x needs it."""
    redis = chat.ctx.redis
    await redis.xadd(keys.channel("guide"), {"type": "message"}, id=mid)
    await redis.hset(keys.message(mid), mapping={"channel": "guide", "username": "ada", "message": text})
    if chat.ctx.module.explicit:
        await redis.execute_command("FT.ADDHASH", keys.IDX_MESSAGES, keys.message(mid), "1.0", "REPLACE")
    return mid


async def world(chat: Chat) -> list[str]:
    for name in ("ada", "wasim"):
        await chat.users.register(name, {})
    for ch in ("tech", "guide"):
        await chat.channels.create(ch)
    now = int(time.time() * 1000)
    chat.ctx.clock = lambda: now / 1000
    posts = [BulkPost("tech", "ada" if i % 2 else "wasim", f"common {i}", now - (30 - i) * DAY) for i in range(30)]
    ids = [r.id for r in await chat.messages.post_many(posts)]
    ids.append((await chat.messages.post("tech", "ada", "common single")).id)
    return ids


async def test_the_scripts_keep_the_count_equal_to_the_index(chat: Chat, tmp_path: Path) -> None:
    redis = chat.ctx.redis
    assert await counted(chat) == 0  # an empty database starts counting at once
    ids = await world(chat)
    assert await counted(chat) == 31 == await document_count(redis, keys.IDX_MESSAGES)
    await chat.messages.delete(ids[3], "wasim", admin=True)
    assert await counted(chat) == 30 == await document_count(redis, keys.IDX_MESSAGES)
    chat.ctx.clock = lambda: time.time() + 15 * DAY / 1000  # keep 5 days: most of the history goes
    summary = await Archive(chat.ctx, tmp_path).export(RetentionPolicy(days=5), out=None)
    assert summary.removed > 0
    assert await counted(chat) == 30 - summary.removed == await document_count(redis, keys.IDX_MESSAGES)
    # deleting another tool's hash (never counted: no ts) leaves the count alone
    await foreign(chat, "1-0", "guide message")
    assert await document_count(redis, keys.IDX_MESSAGES) == await counted(chat) + 1
    await chat.messages.delete("1-0", "ada", admin=True)
    assert await counted(chat) == 30 - summary.removed == await document_count(redis, keys.IDX_MESSAGES)


async def test_while_the_count_agrees_a_search_runs_no_missing_ts_query(chat: Chat) -> None:
    await world(chat)
    finder = Finder(chat.ctx)  # a new process: nothing memoised
    now = chat.ctx.now_ms()
    searches, infos = await calls(chat, "FT.SEARCH"), await calls(chat, "FT.INFO")
    await finder._missing_ts.ensure(now)
    assert await calls(chat, "FT.SEARCH") == searches and await calls(chat, "FT.INFO") == infos + 1
    assert await chat.ctx.redis.hget(keys.META, keys.META_TS_CHECKED) == str(now)
    # another process within CHECK_MS reads the stamp: no FT.INFO (1.2 walks its document table)
    await Finder(chat.ctx)._missing_ts.ensure(now + CHECK_MS - 1)
    assert await calls(chat, "FT.INFO") == infos + 1 and await calls(chat, "FT.SEARCH") == searches


async def test_another_tools_hash_is_found_by_the_count_and_sorts_by_its_stream_time(chat: Chat) -> None:
    ids = await world(chat)
    assert (await chat.finder.messages("common")).hits[0].id == ids[-1]
    newest = f"{keys.stream_ms(ids[-1]) + 1_000}-0"
    await foreign(chat, newest, "common from the guide")
    chat.ctx.clock = lambda: (keys.stream_ms(ids[-1]) + CHECK_MS + 1) / 1000
    found = await chat.finder.messages("common")
    assert found.hits[0].id == newest
    assert await chat.ctx.redis.hget(keys.message(newest), "ts") == newest.split("-")[0]
    assert await counted(chat) == 32 == await document_count(chat.ctx.redis, keys.IDX_MESSAGES)


async def test_an_upgraded_database_gets_its_count_from_one_pass(chat: Chat) -> None:
    await world(chat)
    old = await foreign(chat, "2-0", "common old guide message")
    await chat.ctx.redis.hdel(keys.META, keys.META_DOCS, keys.META_TS_CHECKED)  # written before the count
    await chat.finder.messages("common")
    assert await chat.ctx.redis.hget(keys.message(old), "ts") == "2"
    assert await counted(chat) == 32 == await document_count(chat.ctx.redis, keys.IDX_MESSAGES)


async def test_a_document_whose_hash_is_gone_leaves_the_index_instead_of_coming_back(chat: Chat) -> None:
    await world(chat)
    gone = await foreign(chat, "3-0", "common deleted by hand")
    await chat.ctx.redis.delete(keys.message(gone))  # redis-cli DEL: 1.x keeps the document, 2.x drops it
    await chat.finder._missing_ts.repair(chat.ctx.now_ms())
    assert not await chat.ctx.redis.exists(keys.message(gone))  # not a hash of ts alone
    assert await counted(chat) == 31 == await document_count(chat.ctx.redis, keys.IDX_MESSAGES)
