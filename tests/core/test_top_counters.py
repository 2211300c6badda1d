"""Top posters from maintained counters: exact under posts, edits, deletes, renames, merges, bulk
posts and reindex, and equal to the guide's FT.AGGREGATE on the same data."""

from __future__ import annotations

import io
import random
from collections import Counter

from bridge.core.chat import Chat
from bridge.core.messages import BulkPost
from bridge.core.ports import Invocation, PlatformUser
from bridge.store import keys
from bridge.store.reindex import reindex

CLI = Invocation(platform="cli")
CHANNELS = ("cricket", "tech", "random")


async def truth(chat: Chat) -> tuple[Counter[str], dict[str, Counter[str]]]:
    """Count every message hash in Redis, the slow way."""
    overall: Counter[str] = Counter()
    per: dict[str, Counter[str]] = {c: Counter() for c in CHANNELS}
    async for key in chat.ctx.redis.scan_iter(match="message:*", _type="HASH"):
        ch, user = await chat.ctx.redis.hmget(key, "channel", "username")
        overall[user] += 1
        per[ch][user] += 1
    return overall, per


async def assert_exact(chat: Chat) -> None:
    overall, per = await truth(chat)
    counters = await chat.finder.top(1000, source="counters")
    assert dict(counters.rows) == dict(overall)
    aggregate = await chat.finder.top(1000, source="aggregate")
    assert dict(aggregate.rows) == dict(overall)
    for ch in CHANNELS:
        assert dict((await chat.finder.top(1000, ch, source="counters")).rows) == dict(per[ch])
        assert dict((await chat.finder.top(1000, ch, source="aggregate")).rows) == dict(per[ch])
    # no zero rows left behind
    assert all(score > 0 for _, score in await chat.ctx.redis.zrange(keys.TOP, 0, -1, withscores=True))


async def world(chat: Chat) -> None:
    for name in ("wasim", "simon", "ada"):
        await chat.users.register(name, {})
    for ch in CHANNELS:
        await chat.channels.create(ch)


async def test_counters_exact_under_posts_edits_deletes(chat: Chat) -> None:
    await world(chat)
    rng = random.Random(3)
    ids: list[tuple[str, str]] = []
    for i in range(60):
        user = rng.choice(("wasim", "simon", "ada"))
        ids.append(((await chat.messages.post(rng.choice(CHANNELS), user, f"message {i}")).id, user))
    await assert_exact(chat)
    for mid, user in ids[:10]:
        await chat.messages.edit(mid, user, "edited text")
    await assert_exact(chat)
    for mid, user in ids[10:30]:
        await chat.messages.delete(mid, user)
    # an admin deleting someone else's message lowers the author's count, not the admin's
    await chat.messages.delete(ids[30][0], "ada", admin=True)
    await assert_exact(chat)
    # every message of one user deleted: the user leaves the counters entirely
    for mid, user in ids[:10] + ids[31:]:
        if user == "wasim":
            await chat.messages.delete(mid, user)
    await assert_exact(chat)
    assert "wasim" not in dict((await chat.finder.top(10)).rows)


async def test_counters_follow_rename_and_merge(chat: Chat) -> None:
    await world(chat)
    discord = PlatformUser("discord", "g1", "42", "Ada L")
    slack = PlatformUser("slack", "T1", "U42", "ada slack")
    d_name = await chat.users.resolve(discord)
    s_name = await chat.users.resolve(slack)
    for i, ch in enumerate(CHANNELS * 3):
        await chat.messages.post(ch, d_name, f"from discord {i}")
        await chat.messages.post(ch, s_name if i % 2 else "ada", f"from slack or ada {i}")
    await assert_exact(chat)
    # register from Discord: the auto user is renamed, its counts move with it
    await chat.users.claim(discord, "adalove", {})
    await assert_exact(chat)
    # link-account: the Slack auto user is merged into adalove, the counts add up
    code = await chat.users.start_link("adalove", discord)
    await chat.users.finish_link(code, slack)
    await assert_exact(chat)
    rows = dict((await chat.finder.top(10)).rows)
    assert rows["adalove"] == 9 + 4 and s_name not in rows and d_name not in rows
    # every message of both auto users now names adalove, nothing lost
    overall, _ = await truth(chat)
    assert overall == Counter({"adalove": 13, "ada": 5})


async def test_counters_from_bulk_posts_and_duplicates(chat: Chat) -> None:
    await world(chat)
    posts = [BulkPost(CHANNELS[i % 3], ("wasim", "simon")[i % 2], f"bulk {i}") for i in range(50)]
    posts.append(BulkPost("nochannel", "wasim", "nowhere"))
    results = await chat.messages.post_many(posts, batch=7)
    assert sum(1 for r in results if r.id) == 50 and "no channel" in results[-1].error
    await assert_exact(chat)


async def test_reindex_rebuilds_counters_for_guide_written_messages(chat: Chat) -> None:
    await world(chat)
    await chat.messages.post("tech", "ada", "through chatbridge")
    # the guide's own write: XADD + HSET, no counters (and no index entry on 1.x until reindex)
    redis = chat.ctx.redis
    for i in range(3):
        # (explicit ids: a `*` id could equal the tech post's id, the collision README describes)
        mid = await redis.xadd("channel:cricket", {"type": "message"}, id=f"1000-{i}")
        await redis.hset(f"message:{mid}", mapping={"channel": "cricket", "username": "wasim", "message": f"g {i}"})
    # counters are wrong now (the guide's writes bypass them); a reindex recounts and marks them complete
    await redis.hdel(keys.META, keys.META_TOP)
    assert (await chat.finder.top(10)).source == "aggregate"
    summary = await reindex(redis, chat.ctx.module, out=io.StringIO())
    assert summary.messages == 4
    assert (await chat.finder.top(10)).source == "counters"
    await assert_exact(chat)


async def test_open_on_existing_history_keeps_aggregate_until_reindex(chat: Chat) -> None:
    await world(chat)
    await chat.messages.post("tech", "ada", "before counters existed")
    redis = chat.ctx.redis
    await redis.delete(keys.TOP, keys.top_in("tech"))
    await redis.hdel(keys.META, keys.META_TOP)
    reopened = await Chat.open(redis)
    reply = await reopened.commands.execute(CLI, "top 5")
    assert reply.data["source"] == "aggregate" and "FT.AGGREGATE" in reply.text
    assert reply.data["rows"] == [{"username": "ada", "messages": 1}]
    await reindex(redis, reopened.ctx.module, out=None)
    reply = await reopened.commands.execute(CLI, "top 5")
    assert reply.data["source"] == "counters" and reply.data["rows"] == [{"username": "ada", "messages": 1}]
