"""Compatibility both ways with the Redis chat guide: its raw commands and its queries."""

from __future__ import annotations

from bridge.core.chat import Chat
from bridge.core.ports import Invocation
from bridge.store.connection import RedisClient
from bridge.store.reindex import reindex
from bridge.store.search import _pairs, detect, field_specs, index_hash

CLI = Invocation(platform="cli")


async def write_guide_data(r: RedisClient) -> None:
    """Exactly the guide's redis-cli writes (no chatbridge code involved)."""
    await r.execute_command("hset", "user:wasim", "firstname", "Wasim", "lastname", "Akram", "city", "Lahore",
                            "country", "Pakistan", "username", "wasim")  # fmt: skip
    await r.execute_command("sadd", "usernames", "wasim")
    await r.execute_command("hset", "user:simon", "firstname", "Simon", "lastname", "Prickett", "city", "Nottingham",
                            "country", "England", "username", "simon")  # fmt: skip
    await r.execute_command("sadd", "usernames", "simon")
    await r.execute_command("sadd", "channels", "cricket", "tech")
    for user, text in (("wasim", "Did you see the test match this weekend?"), ("simon", "Fantastic catch to win too.")):
        mid = await r.execute_command("xadd", "channel:cricket", "*", "type", "message")
        await r.execute_command("hset", f"message:{mid}", "channel", "cricket", "username", user, "message", text)


async def test_guide_written_data_shows_in_history_profile_unread_and_search_after_reindex(
    redis: RedisClient, chat: Chat
) -> None:
    await write_guide_data(redis)
    hist = await chat.commands.execute(CLI, "history cricket 10")
    assert [(m["username"], m["text"][:10]) for m in hist.data] == [("wasim", "Did you se"), ("simon", "Fantastic ")]
    assert all(m["ts"] > 0 for m in hist.data)
    prof = await chat.commands.execute(CLI, "profile wasim")
    assert "Wasim Akram" in prof.text and "Lahore, Pakistan" in prof.text
    unread = await chat.commands.execute(Invocation(platform="cli", username="simon"), "unread cricket")
    first = next(m["text"] for m in unread.data["messages"] if m["kind"] == "message")
    assert first.startswith("Did you")
    before = await chat.commands.execute(CLI, "search match")
    # RediSearch 1.x indexes nothing by itself; 2.x follows the prefix, and the search gives the
    # hashes their missing ts so results stay newest-first
    assert before.data["total"] == (0 if chat.ctx.module.explicit else 1)
    summary = await reindex(chat.ctx.redis, chat.ctx.module, out=None)
    assert (summary.users, summary.messages) == (2, 2)
    assert summary.filled_ts == (2 if chat.ctx.module.explicit else 1)  # 2.x: the search filled one
    after = await chat.commands.execute(CLI, "search match")
    assert after.data["total"] == 1 and after.data["hits"][0]["username"] == "wasim"
    users = await chat.commands.execute(CLI, "users city:lahore")
    assert [u["username"] for u in users.data["users"]] == ["wasim"]


async def test_guide_queries_work_on_data_chatbridge_wrote(redis: RedisClient, chat: Chat) -> None:
    ex = chat.commands.execute
    await ex(CLI, "register wasim Wasim Akram Lahore Pakistan")
    await ex(CLI, "register simon Simon Prickett Nottingham England")
    await ex(CLI, "register ada Ada Lovelace Ravenshead England")
    await ex(CLI, "create cricket")
    await ex(CLI, "create tech")
    await ex(Invocation(platform="cli", username="wasim"), "post cricket Did you see the test match this weekend?")
    await ex(Invocation(platform="cli", username="simon"), "post cricket Fantastic catch to win the game too.")
    await ex(Invocation(platform="cli", username="wasim"), "post tech Me too,")

    assert await redis.execute_command("sismember", "usernames", "wasim") == 1
    assert await redis.execute_command("sismember", "channels", "cricket") == 1
    assert await redis.execute_command("hgetall", "user:wasim") == {
        "firstname": "Wasim", "lastname": "Akram", "city": "Lahore", "country": "Pakistan", "username": "wasim",
    }  # fmt: skip
    last_two = await redis.execute_command("xrevrange", "channel:cricket", "+", "-", "count", "2")
    assert [e[1]["type"] for e in last_two] == ["message", "message"]
    body = await redis.execute_command("hgetall", f"message:{last_two[0][0]}")
    assert {k: body[k] for k in ("channel", "username", "message")} == {
        "channel": "cricket", "username": "simon", "message": "Fantastic catch to win the game too.",
    }  # fmt: skip
    await redis.execute_command("hset", "user:wasim", "channel:cricket", last_two[1][0])
    newer = await redis.execute_command("xread", "streams", "channel:cricket", last_two[1][0])
    assert [e[0] for e in newer[0][1]] == [last_two[0][0]]

    res = await redis.execute_command("ft.search", "idx:messages", "match")
    assert res[0] == 1 and res[2][res[2].index("username") + 1] == "wasim"
    res = await redis.execute_command("ft.search", "idx:messages", "@username:{simon} @channel:{cricket}")
    assert res[0] == 1
    res = await redis.execute_command(
        "ft.search", "idx:messages", "@channel:{cricket|tech} @username:{wasim}", "limit", "0", "999999"
    )
    assert res[0] == 2
    res = await redis.execute_command("ft.search", "idx:users", "@city:{lahore}")
    assert res[0] == 1 and res[1] == "user:wasim"
    res = await redis.execute_command("ft.search", "idx:users", "@country:{England}", "limit", "0", "999999")
    assert sorted(res[1::2]) == ["user:ada", "user:simon"]
    res = await redis.execute_command("ft.search", "idx:users", "@firstname:Simon|@firstname:Wasim")
    assert sorted(res[1::2]) == ["user:simon", "user:wasim"]


async def test_message_ids_never_collide_across_channels(chat: Chat) -> None:
    """Stream ids are unique per stream only; chatbridge allocates them globally so message:<id>
    hashes of two channels written in the same millisecond never overwrite each other."""
    ex = chat.commands.execute
    await ex(CLI, "register ada")
    for name in ("a1", "a2", "a3"):
        await ex(CLI, f"create {name}")
    me = Invocation(platform="cli", username="ada")
    ids = []
    for i in range(60):
        r = await ex(me, f"post a{i % 3 + 1} message {i}")
        ids.append(r.data["id"])
    assert len(set(ids)) == 60
    for i, mid in enumerate(ids):
        assert await chat.ctx.redis.hget(f"message:{mid}", "message") == f"message {i}"


async def test_seed_loads_the_guides_sample_world_once(redis: RedisClient, chat: Chat) -> None:
    from bridge.core.seed import seed

    assert await seed(chat) == {"users": 6, "channels": 3, "messages": 6}
    assert await seed(chat) == {"users": 0, "channels": 0, "messages": 0}
    res = await redis.execute_command("ft.search", "idx:messages", "@message:sunny")
    assert res[0] == 1 and res[2][res[2].index("username") + 1] == "woz"
    res = await redis.execute_command("ft.search", "idx:users", "@country:{England}", "limit", "0", "999999")
    assert sorted(res[1::2]) == ["user:ada", "user:simon"]  # the guide's answer (yaz is in Karachi)


async def test_an_index_made_by_the_guides_loader_is_rebuilt_without_stopwords(redis: RedisClient) -> None:
    """The guide creates idx:messages with default stopwords; `from:it` or "what a match" would then
    be syntax errors (1.2) or find nothing (2.10: `@username:{the}` is no error there, but a phrase
    starting with a stopword is). chatbridge rebuilds the index (keeping the hashes and the guide's
    SORTABLE flags) and re-indexes them."""
    module = await detect(redis)
    await redis.execute_command(
        "FT.CREATE", "idx:messages", "ON", "HASH", "PREFIX", "1", "message", "SCHEMA",
        "username", "TAG", "SORTABLE", "channel", "TAG", "SORTABLE", "message", "TEXT",
    )  # fmt: skip
    await write_guide_data(redis)
    await redis.execute_command("sadd", "usernames", "it")
    await redis.execute_command("hset", "user:it", "username", "it")
    mid = await redis.execute_command("xadd", "channel:cricket", "*", "type", "message")
    await redis.execute_command(
        "hset", f"message:{mid}", "channel", "cricket", "username", "it", "message", "what a match"
    )
    for key in await redis.keys("message:*"):
        await index_hash(redis, module, "idx:messages", key)
    chat = await Chat.open(redis)
    phrase = await chat.commands.execute(CLI, 'search "what a match"')
    assert phrase.ok and phrase.data["total"] == 1, phrase.text
    by_it = await chat.commands.execute(CLI, "search from:it")
    assert by_it.ok and by_it.data["total"] == 1, by_it.text
    assert (await chat.commands.execute(CLI, "search test match")).data["total"] == 1
    assert (await chat.commands.execute(CLI, 'search "the test match"')).data["total"] == 1
    specs = field_specs(_pairs(await redis.execute_command("FT.INFO", "idx:messages")))
    assert {name for name, spec in specs.items() if "SORTABLE" in spec} == {"username", "channel", "ts"}


async def test_hashes_other_tools_wrote_without_ts_still_sort_newest_first(redis: RedisClient, chat: Chat) -> None:
    """2.x indexes a guide-written hash at once, but it has no ts: SORTBY ts would put it last.
    The search gives it the time of its stream id first (1.x: once a tool FT.ADDHASHed it)."""
    await chat.commands.execute(CLI, "register ada")
    await chat.commands.execute(CLI, "create tech")
    await chat.commands.execute(Invocation(platform="cli", username="ada"), "post tech an older match report")
    newer = f"{chat.ctx.now_ms() + 60_000}-0"
    await redis.execute_command("sadd", "channels", "cricket")
    await redis.execute_command("xadd", "channel:cricket", newer, "type", "message")
    await redis.execute_command(
        "hset", f"message:{newer}", "username", "ada", "channel", "cricket", "message", "the newest match"
    )
    await index_hash(redis, chat.ctx.module, "idx:messages", f"message:{newer}")
    found = await chat.commands.execute(CLI, "search match")
    assert [h["text"] for h in found.data["hits"]] == ["the newest match", "an older match report"]
    assert await redis.hget(f"message:{newer}", "ts") == newer.split("-")[0]
