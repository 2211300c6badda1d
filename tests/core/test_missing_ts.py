"""Documents without ``ts`` ruled out by counting (bridge/store/missing_ts.py): the scripts keep the
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
    await finder._missing_ts.ensure("common", now)
    assert await calls(chat, "FT.SEARCH") == searches and await calls(chat, "FT.INFO") == infos + 1
    assert await chat.ctx.redis.hget(keys.META, keys.META_TS_CHECKED) == str(now)
    # another process within CHECK_MS reads the stamp: no FT.INFO (1.2 walks its document table)
    await Finder(chat.ctx)._missing_ts.ensure("common", now + CHECK_MS - 1)
    assert await calls(chat, "FT.INFO") == infos + 1 and await calls(chat, "FT.SEARCH") == searches


async def test_another_tools_hash_sorts_by_its_stream_time_and_is_counted_once_all_have_ts(chat: Chat) -> None:
    ids = await world(chat)
    assert (await chat.finder.messages("common")).hits[0].id == ids[-1]
    newest = f"{keys.stream_ms(ids[-1]) + 1_000}-0"
    other = await foreign(chat, "4-0", "words no query here asks for")
    await foreign(chat, newest, "common from the guide")
    late = keys.stream_ms(ids[-1]) + CHECK_MS + 1
    chat.ctx.clock = lambda: late / 1000
    found = await chat.finder.messages("common")
    assert found.hits[0].id == newest  # the query's own ts-less match got its stream time
    assert await chat.ctx.redis.hget(keys.message(newest), "ts") == newest.split("-")[0]
    assert not await chat.ctx.redis.hexists(keys.message(other), "ts")  # the others are left as they are
    assert await counted(chat) == 31  # not recounted while a document lacks ts
    await chat.finder.messages("query here")  # the other one's own query fills it
    chat.ctx.clock = lambda: (late + CHECK_MS) / 1000
    assert (await chat.finder.messages("common")).hits[0].id == newest
    assert await counted(chat) == 33 == await document_count(chat.ctx.redis, keys.IDX_MESSAGES)


async def test_an_upgraded_database_gets_its_count_at_the_first_search(chat: Chat) -> None:
    await world(chat)
    await chat.ctx.redis.hdel(keys.META, keys.META_DOCS, keys.META_TS_CHECKED)  # written before the count
    searches = await calls(chat, "FT.SEARCH")
    await chat.finder.messages("common")
    assert await counted(chat) == 31 == await document_count(chat.ctx.redis, keys.IDX_MESSAGES)
    # one FT.SEARCH for the search, one inside ts_rebase.lua (scripts' commands count too)
    assert await calls(chat, "FT.SEARCH") - searches <= 3


async def test_a_document_whose_hash_is_gone_leaves_the_index_instead_of_coming_back(chat: Chat) -> None:
    await world(chat)
    gone = await foreign(chat, "3-0", "common deleted by hand")
    await chat.ctx.redis.delete(keys.message(gone))  # redis-cli DEL: 1.x keeps the document, 2.x drops it
    await chat.finder._missing_ts.fill_matches("common")
    assert not await chat.ctx.redis.exists(keys.message(gone))  # not a hash of ts alone
    assert await chat.finder._missing_ts.recount(chat.ctx.now_ms()) == 31
    assert await document_count(chat.ctx.redis, keys.IDX_MESSAGES) == 31
