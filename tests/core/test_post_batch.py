"""Group commit of single posts (bridge/core/post_batch.py): posts made concurrently share one
post_many.lua call, and each one is still written, checked and answered as if it were alone."""

from __future__ import annotations

import asyncio

import pytest

from bridge.core.chat import Chat
from bridge.core.messages import PostOptions, PostResult
from bridge.errors import NotFound, StoreError
from bridge.store import keys


async def evalsha_calls(chat: Chat) -> int:
    stats = await chat.ctx.redis.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def setup(chat: Chat) -> None:
    for name in ("ada", "bob", "wasim"):
        await chat.users.register(name, {})
    for ch in ("tech", "cricket"):
        await chat.channels.create(ch)
    for script in (chat.ctx.scripts.post, chat.ctx.scripts.post_many):
        await chat.ctx.redis.script_load(script.script)  # no NOSCRIPT retry in the counts below


async def test_concurrent_posts_share_one_call_and_each_gets_its_own_answer(chat: Chat) -> None:
    await setup(chat)
    m = chat.messages
    plan: list[tuple[str, str, str, PostOptions | None]] = [
        ("tech" if i % 2 else "cricket", "ada" if i % 3 else "wasim", f"hello {i}", None) for i in range(20)
    ]
    plan.insert(5, ("nochannel", "ada", "lost", None))
    plan.insert(9, ("tech", "nobody", "lost", None))
    plan.insert(12, ("tech", "ada", "once", PostOptions(dedupe_key="slack:Ev1")))
    plan.insert(14, ("tech", "ada", "once", PostOptions(dedupe_key="slack:Ev1")))
    calls = [m.post(*p) for p in plan]
    before = await evalsha_calls(chat)
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert await evalsha_calls(chat) == before + 1  # 24 posts, one script call
    assert isinstance(results[5], NotFound) and "#nochannel" in str(results[5])
    assert isinstance(results[9], NotFound) and "nobody" in str(results[9])
    first, again = results[12], results[14]
    assert isinstance(first, PostResult) and isinstance(again, PostResult)
    assert not first.duplicate and again.duplicate and again.id == first.id
    written = [r for i, r in enumerate(results) if i not in (5, 9, 14)]
    assert all(isinstance(r, PostResult) and not r.duplicate for r in written)
    ids = [r.id for r in written if isinstance(r, PostResult)]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-")))) and len(set(ids)) == 21  # call order
    tech = [msg.text for msg in await m.history("tech", 50)]
    assert tech == [text for i, (ch, _, text, _) in enumerate(plan) if ch == "tech" and i not in (9, 14)]
    # the per-call writes (top counters) count every message once
    top = dict((await chat.finder.top(10, source="counters")).rows)
    assert top == {"ada": 14, "wasim": 7} == dict(await chat.finder.aggregate_top(10))


@pytest.mark.parametrize("together", [1, 6])
async def test_a_redis_error_on_one_message_is_that_callers_alone(chat: Chat, together: int) -> None:
    await setup(chat)
    redis = chat.ctx.redis
    await redis.set(keys.mentions("bob"), "not a sorted set")  # another tool wrote the wrong type
    calls = [chat.messages.post("tech", "ada", f"plain {i}") for i in range(together - 1)]
    calls.insert(together // 2, chat.messages.post("tech", "ada", "hi @bob"))
    results = await asyncio.gather(*calls, return_exceptions=True)
    failed = results.pop(together // 2)
    assert isinstance(failed, StoreError) and "WRONGTYPE" in str(failed)
    assert all(isinstance(r, PostResult) and r.id for r in results)
    assert [msg.text for msg in await chat.messages.history("tech", 50) if msg.text.startswith("plain")] == [
        f"plain {i}" for i in range(together - 1)
    ]
    # the id allocator was flushed despite the error: no later post can be given a used id
    newest = (await redis.xrevrange(keys.channel("tech"), count=1))[0][0]
    assert await redis.get("cb:lastid") == newest
    later = await chat.messages.post("cricket", "wasim", "after")
    assert tuple(map(int, later.id.split("-"))) > tuple(map(int, newest.split("-")))


async def test_a_caller_cancelled_while_its_post_is_queued_leaves_the_others_answered(chat: Chat) -> None:
    """A single post awaits its own future: cancelling that caller cancels nothing else, the call
    still runs and writes every queued message (as a call already sent to Redis would)."""
    await setup(chat)
    tasks = [asyncio.create_task(chat.messages.post("tech", "ada", f"queued {i}")) for i in range(6)]
    await asyncio.sleep(0)  # every task has queued its post; the flush runs on the next loop turn
    tasks[2].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)
    assert all(isinstance(r, PostResult) for i, r in enumerate(results) if i != 2)
    texts = [m.text for m in await chat.messages.history("tech", 10)]
    assert texts == [f"queued {i}" for i in range(6)]  # the cancelled caller's message is written too
