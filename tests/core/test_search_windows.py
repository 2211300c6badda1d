"""Message search by time windows: every page equals the page of the full, sorted answer (windows
complete), pages are disjoint and cover every match in order (paging stable), with filters, ties
and the query's own before:/after:."""

from __future__ import annotations

import random

import pytest

from bridge.core.chat import Chat
from bridge.core.messages import BulkPost
from bridge.core.ports import Invocation
from bridge.store import keys

NOW = 1_790_000_000_000
DAY = 86_400_000


async def history(chat: Chat) -> None:
    chat.ctx.clock = lambda: NOW / 1000
    for name in ("ada", "wasim"):
        await chat.users.register(name, {})
    for ch in ("tech", "cricket"):
        await chat.channels.create(ch)
    rng = random.Random(14)
    stamps = (
        [NOW - rng.randrange(2 * DAY) for _ in range(240)]  # a busy last two days
        + [NOW - rng.randrange(2 * DAY, 60 * DAY) for _ in range(160)]
        + [NOW - rng.randrange(60 * DAY, 700 * DAY) for _ in range(100)]  # sparse old history
        + [NOW - 5 * DAY] * 12  # ties: the same millisecond twelve times
        + [NOW - DAY] * 6  # ties exactly on the first window's (exclusive) start
    )
    posts = []
    for i, ts in enumerate(sorted(stamps)):
        words = ["common"] if rng.random() < 0.5 else ["other"]
        if rng.random() < 0.03:
            words.append("rare")
        text = " ".join(words) + f" {i}"
        posts.append(BulkPost(rng.choice(("tech", "cricket")), rng.choice(("ada", "wasim")), text, ts))
    results = await chat.messages.post_many(posts)
    assert all(r.id for r in results)


async def reference(chat: Chat, query: str) -> list[str]:
    """Every match, sorted here by (ts, id) newest first: what the windowed pages must reproduce."""
    raw = await chat.ctx.redis.execute_command(
        "FT.SEARCH", keys.IDX_MESSAGES, query, "RETURN", 1, "ts", "LIMIT", 0, 10_000
    )
    rows = [(int(raw[i + 1][1]), keys.message_id_of(raw[i])) for i in range(1, len(raw), 2)]
    # newest first by (ts, id); ids compared as numbers
    rows.sort(key=lambda r: (r[0], *map(int, r[1].split("-"))), reverse=True)
    return [mid for _, mid in rows]


QUERIES = [
    "common",
    "rare",
    "common in:tech",
    "common from:ada",
    "common in:cricket from:wasim",
    "common before:2026-08-01",
    "common after:30d",
    "common after:3d before:1d",
    "nothingmatchesthis",
]


@pytest.mark.parametrize("text", QUERIES)
async def test_every_page_equals_the_full_sorted_answer(chat: Chat, text: str) -> None:
    await history(chat)
    first = await chat.finder.messages(text)
    expected = await reference(chat, first.query)
    pages: list[str] = []
    for page in range(1, len(expected) // 10 + 2):
        got = await chat.finder.messages(f"{text} page:{page}")
        ids = [m.id for m in got.hits]
        assert ids == expected[(page - 1) * 10 : page * 10], f"page {page}"
        again = await chat.finder.messages(f"{text} page:{page}")
        assert [m.id for m in again.hits] == ids  # stable
        if got.total_exact:
            assert got.total == len(expected)
        else:
            assert page * 10 <= got.total <= len(expected) and got.since_ms is not None
        pages += ids
    assert pages == expected and len(set(pages)) == len(pages)


async def test_recent_pages_come_from_a_window_and_old_ones_from_everything(chat: Chat) -> None:
    await history(chat)
    recent = await chat.finder.messages("common")
    assert not recent.total_exact and recent.since_ms == NOW - DAY
    deep = await chat.finder.messages("common page:30")
    assert deep.total_exact and deep.hits == []  # more than any window holds: everything, exact
    assert deep.total == len(await reference(chat, "common"))
    none = await chat.finder.messages("nothingmatchesthis")
    assert none.total_exact and none.total == 0
    reply = await chat.commands.execute(Invocation(platform="cli"), "search common")
    assert reply.data["total_exact"] is False and f"{recent.total:,}+ results" in reply.text
    assert "newest first" in reply.text and "page:N" in reply.text


async def test_a_hash_another_tool_indexed_without_ts_sorts_by_stream_time_within_a_minute(chat: Chat) -> None:
    await history(chat)
    assert (await chat.finder.messages("common")).hits  # this query's ts-less check is now memoised
    redis = chat.ctx.redis
    top = (await redis.xrevrange(keys.channel("tech"), count=1))[0][0]
    newest = f"{keys.stream_ms(top) + 1_000}-0"  # newer than anything (ids come from the server clock)
    await redis.xadd(keys.channel("tech"), {"type": "message"}, id=newest)
    await redis.hset(keys.message(newest), mapping={"channel": "tech", "username": "ada", "message": "common x"})
    if chat.ctx.module.explicit:
        await redis.execute_command("FT.ADDHASH", keys.IDX_MESSAGES, keys.message(newest), "1.0", "REPLACE")
    chat.ctx.clock = lambda: (NOW + 61_000) / 1000
    found = await chat.finder.messages("common")
    assert found.hits[0].id == newest and await redis.hget(keys.message(newest), "ts") == newest.split("-")[0]
