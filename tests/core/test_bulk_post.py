"""The bulk path (post_many.lua): the same writes as one post at a time, in order, bad entries
reported without stopping the batch, platform ids never recorded twice."""

from __future__ import annotations

from bridge.core.chat import Chat
from bridge.core.messages import BulkPost, PostOptions
from bridge.store import keys


async def world(chat: Chat) -> None:
    for name in ("wasim", "ada"):
        await chat.users.register(name, {})
    for ch in ("cricket", "tech"):
        await chat.channels.create(ch)


def strip_ids(entry: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in entry.items() if k not in ("ts",)}


async def test_bulk_writes_what_single_posts_write(chat: Chat) -> None:
    await world(chat)
    single = await chat.messages.post("cricket", "wasim", "hello @ada single")
    bulk = await chat.messages.post_many([BulkPost("cricket", "wasim", "hello @ada bulk", ts=1_600_000_000_000)])
    redis = chat.ctx.redis
    a = await redis.hgetall(keys.message(single.id))
    b = await redis.hgetall(keys.message(bulk[0].id))
    assert strip_ids(a) | {"message": ""} == strip_ids(b) | {"message": ""}
    assert b["ts"] == "1600000000000" and b["message"] == "hello @ada bulk"
    stream = await redis.xrange(keys.channel("cricket"))
    assert [e[0] for e in stream] == [single.id, bulk[0].id]
    assert stream[0][1] == stream[1][1] == {"type": "message"}  # the guide's entry: the author is in the hash
    assert await redis.zcard(keys.mentions("ada")) == 2
    found = await chat.finder.messages("bulk")
    assert [h.id for h in found.hits] == [bulk[0].id]


async def test_bulk_keeps_order_reports_bad_entries_and_goes_on(chat: Chat) -> None:
    await world(chat)
    posts = [
        BulkPost("tech", "ada", "one"),
        BulkPost("tech", "ada", "   "),  # empty after trimming: InvalidInput, never sent
        BulkPost("tech", "nobody", "who?"),
        BulkPost("nochannel", "ada", "where?"),
        BulkPost("tech", "ada", "two"),
    ]
    results = await chat.messages.post_many(posts, batch=2)
    assert [bool(r.id) for r in results] == [True, False, False, False, True]
    assert results[1].error == "The message is empty."
    assert "no user" in results[2].error and "no channel" in results[3].error
    texts = [m.text for m in await chat.messages.history("tech", 10)]
    assert texts == ["one", "two"]
    assert results[0].id < results[4].id


async def test_bulk_deduplicates_by_platform_id_and_event_key(chat: Chat) -> None:
    await world(chat)
    pkey = keys.platform_message("slack", "T1", "C1", "1700000000.000100")
    opts = PostOptions(origin="slack", origin_channel="slack:T1:C1", platform_key=pkey, origin_message_id="x")
    first = await chat.messages.post_many([BulkPost("tech", "ada", "from slack", opts=opts)])
    # the same platform message again (a repeated backfill), in the same batch twice as well
    again = await chat.messages.post_many([BulkPost("tech", "ada", "from slack", opts=opts)] * 2)
    assert all(r.duplicate and r.id == first[0].id for r in again)
    assert await chat.ctx.redis.xlen(keys.channel("tech")) == 1
    assert dict((await chat.finder.top(5)).rows) == {"ada": 1}


async def test_one_call_over_several_channels_keeps_each_channels_newest_activity_and_counts(chat: Chat) -> None:
    """flush_batch writes the per-channel state of a whole call at its end (one HSET of every
    channel's newest ts, a ZADD GT per activity set): each channel of the call gets its own."""
    await world(chat)
    posts = [
        BulkPost("cricket", "wasim", "c1", ts=1_000_000),
        BulkPost("tech", "ada", "t1", ts=2_000_000),
        BulkPost("cricket", "ada", "c2", ts=3_000_000),
        BulkPost("tech", "wasim", "t2", ts=4_000_000),
        BulkPost("cricket", "wasim", "c3", ts=5_000_000),
    ]
    assert all(r.id for r in await chat.messages.post_many(posts))
    redis = chat.ctx.redis
    assert await redis.hgetall(keys.NEWEST_TS) == {"cricket": "5000000", "tech": "4000000"}
    assert await redis.zrange(keys.active_in("cricket"), 0, -1, withscores=True) == [
        ("ada", 3_000_000.0), ("wasim", 5_000_000.0)
    ]  # fmt: skip
    assert await redis.zrange(keys.active_in("tech"), 0, -1, withscores=True) == [
        ("ada", 2_000_000.0), ("wasim", 4_000_000.0)
    ]  # fmt: skip
    assert await redis.zrange(keys.ACTIVE, 0, -1, withscores=True) == [("ada", 3_000_000.0), ("wasim", 5_000_000.0)]
    assert await redis.zrange(keys.top_in("cricket"), 0, -1, withscores=True) == [("ada", 1.0), ("wasim", 2.0)]
    assert await redis.zrange(keys.TOP, 0, -1, withscores=True) == [("ada", 2.0), ("wasim", 3.0)]
    # a message said before a channel's newest (5 s of leeway) is backdated in that channel only
    late = [BulkPost("tech", "ada", "t0", ts=3_000_000), BulkPost("cricket", "ada", "c0", ts=4_999_000)]
    t0, c0 = await chat.messages.post_many(late)
    assert await redis.zrange(keys.backdated("tech"), 0, -1) == [t0.id]
    assert not await redis.exists(keys.backdated("cricket")), c0  # within the leeway: in stream order
