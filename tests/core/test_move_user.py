"""Renames and merges find a user's messages in the index (schema 3: no per-user post record):
every message moves, a post racing the merge is never missed, a username that is a prefix (or
another case) of another one moves nothing of the other's, and the old records are dropped at start."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest

from bridge.core.chat import Chat
from bridge.core.messages import BulkPost, PostResult
from bridge.core.ports import Invocation, PlatformUser
from bridge.errors import NotFound
from bridge.store import keys, migrate
from bridge.store.connection import RedisClient
from bridge.store.search import ensure_indexes, index_hash


async def authors(redis: RedisClient) -> Counter[str]:
    """username of every message hash in Redis, read from the hashes (not the index)."""
    found: Counter[str] = Counter()
    async for key in redis.scan_iter(match=f"{keys.MESSAGE_PREFIX}*", _type="HASH"):
        found[str(await redis.hget(key, "username"))] += 1
    return found


async def searched(chat: Chat, name: str) -> int:
    return (await chat.finder.messages(f"from:{name}")).total


async def test_a_rename_moves_every_one_of_1500_messages(chat: Chat) -> None:
    await chat.channels.create("tech")
    await chat.users.register("ada", {})
    discord = PlatformUser("discord", "g1", "7", "Grace")
    auto = await chat.users.resolve(discord)
    posts = [BulkPost("tech", auto if i % 5 else "ada", f"message {i}") for i in range(1_875)]
    assert all(r.id for r in await chat.messages.post_many(posts))
    assert await authors(chat.ctx.redis) == Counter({auto: 1_500, "ada": 375})
    await chat.users.claim(discord, "hopper", {})
    assert await authors(chat.ctx.redis) == Counter({"hopper": 1_500, "ada": 375})
    assert await searched(chat, "hopper") == 1_500 and await searched(chat, auto) == 0
    assert dict((await chat.finder.top(10, source="counters")).rows) == {"hopper": 1_500, "ada": 375}


async def test_a_prefix_or_another_case_of_the_name_moves_nothing_of_theirs(chat: Chat, redis: RedisClient) -> None:
    await chat.channels.create("tech")
    slack = PlatformUser("slack", "T1", "U1", "Ann")
    auto = await chat.users.resolve(slack)
    others = [f"{auto}x", f"{auto}.b", f"{auto}-b", f"{auto}s", f"{auto}ing", auto[:-1] if len(auto) > 2 else "zz"]
    for name in (*others, "target"):
        await chat.users.register(name, {})
    for i, name in enumerate([auto, *others] * 4):
        await chat.messages.post("tech", name, f"hello {i}")
    # another tool's hash naming the user in capitals (a TAG matches case-insensitively), and, on
    # 1.x, a document whose hash that tool deleted without FT.DEL (the index still finds it)
    for mid, name in (("1000-1", auto.upper()), ("1000-2", auto)):
        await redis.hset(keys.message(mid), mapping={"channel": "tech", "username": name, "message": "x", "ts": "1"})
        await index_hash(redis, chat.ctx.module, keys.IDX_MESSAGES, keys.message(mid))
    await redis.delete(keys.message("1000-2"))
    before = await authors(redis)
    code = await chat.users.start_link("target", None)
    await chat.users.finish_link(code, slack)
    after = await authors(redis)
    assert after["target"] == 4 and auto not in after
    assert {n: after[n] for n in others} == {n: before[n] for n in others} == {n: 4 for n in others}
    assert after[auto.upper()] == 1
    assert await searched(chat, "target") == 4


async def test_a_post_racing_a_merge_is_moved_or_refused_never_left_behind(chat: Chat) -> None:
    await chat.channels.create("tech")
    await chat.users.register("target", {})
    slack = PlatformUser("slack", "T1", "U9", "Racer")
    auto = await chat.users.resolve(slack)
    results: list[PostResult | BaseException] = []
    posted = asyncio.Event()

    async def poster(n: int) -> None:
        for i in range(150):
            try:
                results.append(await chat.messages.post("tech", auto, f"racer {n}.{i}"))
            except NotFound as err:
                results.append(err)
                return
            if len(results) >= 40:
                posted.set()

    tasks = [asyncio.create_task(poster(n)) for n in range(4)]
    async with asyncio.timeout(30):
        await posted.wait()
    code = await chat.users.start_link("target", None)
    await chat.users.finish_link(code, slack)
    async with asyncio.timeout(30):
        await asyncio.gather(*tasks)
    ok = [r for r in results if isinstance(r, PostResult)]
    refused = [r for r in results if isinstance(r, NotFound)]
    assert len(ok) >= 40 and len(ok) + len(refused) == len(results)
    assert await authors(chat.ctx.redis) == Counter({"target": len(ok)})
    for r in ok:
        assert await chat.ctx.redis.hget(keys.message(r.id), "username") == "target"


async def test_schema_2_post_records_are_dropped_at_start_once(
    chat: Chat, redis: RedisClient, caplog: pytest.LogCaptureFixture
) -> None:
    await chat.channels.create("tech")
    slack = PlatformUser("slack", "T1", "U1", "Old")
    auto = await chat.users.resolve(slack)
    ids = [(await chat.messages.post("tech", auto, f"m{i}")).id for i in range(3)]
    assert not [k async for k in redis.scan_iter(match=keys.LEGACY_POSTS)]  # posts write none now
    # a database of schema 2 (streams of message ids) with a schema 1 sorted set left over
    for i, mid in enumerate(ids):
        await redis.xadd(f"cb:posts:{auto}", {"m": ""}, id=mid)
        await redis.zadd("cb:posts:someone", {mid: i})
    await redis.hset(keys.META, "schema", "2")
    with caplog.at_level(logging.INFO, logger="bridge.core"):
        reopened = await Chat.open(redis)
    assert "schema 3: 2 per-user post records dropped" in caplog.text
    assert not [k async for k in redis.scan_iter(match=keys.LEGACY_POSTS)]
    assert await redis.hget(keys.META, "schema") == "3"
    assert await migrate.upgrade(redis) == []  # again: nothing to do
    await reopened.users.claim(slack, "renamed", {})
    assert await authors(redis) == Counter({"renamed": 3})


async def test_a_database_without_a_schema_field_is_scanned_once(redis: RedisClient) -> None:
    await redis.xadd("cb:posts:ada", {"m": ""}, id="5-0")
    assert await migrate.upgrade(redis) == [
        "schema 3: 1 per-user post records dropped (renames and merges use the index)"
    ]
    assert not await redis.exists("cb:posts:ada") and await redis.hget(keys.META, "schema") == "3"


async def test_an_index_with_a_text_username_is_rebuilt_and_a_rename_still_moves_everything(
    redis: RedisClient,
) -> None:
    """Another tool's idx:messages with ``username`` as TEXT: ``@username:{x}`` finds nothing there,
    silently (both generations), so a rename would move nothing. chatbridge rebuilds it at start."""
    chat = await Chat.open(redis)
    await chat.channels.create("tech")
    slack = PlatformUser("slack", "T1", "U1", "Text")
    auto = await chat.users.resolve(slack)
    for i in range(5):
        await chat.messages.post("tech", auto, f"m{i}")
    explicit = chat.ctx.module.explicit
    await redis.execute_command(
        *(("FT.DROP", "idx:messages", "KEEPDOCS") if explicit else ("FT.DROPINDEX", "idx:messages"))
    )
    on_hash = () if explicit else ("ON", "HASH", "PREFIX", "1", keys.MESSAGE_PREFIX)
    schema = ("username", "TEXT", "channel", "TAG", "message", "TEXT", "ts", "NUMERIC", "SORTABLE")
    await redis.execute_command("FT.CREATE", "idx:messages", *on_hash, "STOPWORDS", "0", "SCHEMA", *schema)
    async for key in redis.scan_iter(match=f"{keys.MESSAGE_PREFIX}*"):
        await index_hash(redis, chat.ctx.module, keys.IDX_MESSAGES, str(key))
    reopened = await Chat.open(redis)
    await reopened.users.claim(slack, "typed", {})
    assert await authors(redis) == Counter({"typed": 5})
    assert await searched(reopened, "typed") == 5


async def test_the_unread_summary_after_a_rename_leaves_out_the_readers_own_messages(chat: Chat) -> None:
    """The author is read from the hash (the stream entry names none): a rename changes the hashes
    only, and the renamed reader's own messages still do not count as new."""
    await chat.channels.create("tech")
    await chat.users.register("bob", {})
    slack = PlatformUser("slack", "T1", "U5", "Ann")
    auto = await chat.users.resolve(slack)
    for i in range(3):
        await chat.messages.post("tech", auto, f"mine {i}")
    for i in range(2):
        await chat.messages.post("tech", "bob", f"theirs {i}")
    await chat.users.claim(slack, "annie", {})
    reply = await chat.commands.execute(Invocation(platform="cli", username="annie"), "unread")
    assert reply.data == {"tech": 2}, reply.text


async def test_an_index_of_the_right_types_is_never_rebuilt(chat: Chat, redis: RedisClient) -> None:
    """The type check compares FT.INFO's answer with chatbridge's schema: on its own index, and on one
    rebuilt from a TEXT username, a start finds nothing to do (a rebuild at every start would re-index
    every hash on 1.x and drop the index for a while on 2.x)."""
    assert await ensure_indexes(redis, chat.ctx.module) == []
    explicit = chat.ctx.module.explicit
    await redis.execute_command(
        *(("FT.DROP", "idx:messages", "KEEPDOCS") if explicit else ("FT.DROPINDEX", "idx:messages"))
    )
    on_hash = () if explicit else ("ON", "HASH", "PREFIX", "1", keys.MESSAGE_PREFIX)
    await redis.execute_command("FT.CREATE", "idx:messages", *on_hash, "STOPWORDS", "0", "SCHEMA", "username", "TEXT")
    assert await ensure_indexes(redis, chat.ctx.module) == ["rebuilt idx:messages with username retyped"]
    assert await ensure_indexes(redis, chat.ctx.module) == []
