"""The Redis chat guide's own data loader as a real client of chatbridge's Redis, on both RediSearch
generations.

What the loader does (github redis-developer/redis-chat-challenge @ 391e272,
``data_loader/dataloader.js``, read and restated here, not copied): FLUSHDB; create ``idx:users``
and ``idx:messages`` ``ON HASH PREFIX`` with its SORTABLE TAG fields; for each user of
``sample_data/users.json`` HSET ``user:<username>`` with the JSON object's fields in order and SADD
``usernames``; check SCARD and two fields of ``user:ada``; for each message of
``sample_data/messages.json`` SADD ``channels``, XADD ``channel:<channel>`` with the message's own id
and only ``type message``, HSET ``message:<id>`` username, channel, message; check the cricket stream
and the channel set and one message hash; then two FT.SEARCH queries whose replies it reads by
position. The sample data (MIT, see sample_data/LICENSE) is committed beside this file.

Each check below is one of the loader's, as its code states it, run on the loader's own data (with
chatbridge starting on it) and on the data ``chatbridge seed`` wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bridge.core.chat import Chat
from bridge.core.ports import Invocation
from bridge.core.seed import seed
from bridge.store.connection import RedisClient
from bridge.store.search import _pairs, field_specs

SAMPLE = Path(__file__).parent / "sample_data"
USERS: list[dict[str, str]] = json.loads((SAMPLE / "users.json").read_text(encoding="utf-8"))
MESSAGES: list[dict[str, str]] = json.loads((SAMPLE / "messages.json").read_text(encoding="utf-8"))
CLI = Invocation(platform="cli")

# The loader's index definitions: prefixes without the colon, TAG fields SORTABLE.
LOADER_USERS_INDEX = ("FT.CREATE", "idx:users", "ON", "HASH", "PREFIX", "1", "user", "SCHEMA",
                      "firstname", "TEXT", "lastname", "TEXT", "city", "TAG", "SORTABLE",
                      "country", "TAG", "SORTABLE", "username", "TAG", "SORTABLE")  # fmt: skip
LOADER_MESSAGES_INDEX = ("FT.CREATE", "idx:messages", "ON", "HASH", "PREFIX", "1", "message", "SCHEMA",
                         "username", "TAG", "SORTABLE", "channel", "TAG", "SORTABLE", "message", "TEXT")  # fmt: skip
USER_SEARCH = ("FT.SEARCH", "idx:users", "@firstname:Simon @city:{Nottingham}", "LIMIT", "0", "999999")
MESSAGE_SEARCH = ("FT.SEARCH", "idx:messages", "@channel:{cricket|tech} @username:{wasim}", "LIMIT", "0", "999999")


async def load_like_the_loader(r: RedisClient) -> None:
    """The loader's writes, in its order (its Promise.all pairs run one after the other here)."""
    await r.flushdb()
    await r.execute_command(*LOADER_USERS_INDEX)
    await r.execute_command(*LOADER_MESSAGES_INDEX)
    for user in USERS:
        await r.hset(f"user:{user['username']}", mapping=user)
        await r.sadd("usernames", user["username"])


async def load_messages_like_the_loader(r: RedisClient) -> None:
    for m in MESSAGES:
        await r.sadd("channels", m["channel"])
        await r.xadd(f"channel:{m['channel']}", {"type": "message"}, id=m["id"])
        await r.hset(f"message:{m['id']}", mapping={"username": m["username"], "channel": m["channel"],
                                                    "message": m["message"]})  # fmt: skip


async def verify_user_profiles(r: RedisClient) -> None:
    """The loader's verifyUserProfiles."""
    assert await r.scard("usernames") == 6
    ada = await r.hgetall("user:ada")
    assert ada["firstname"] == "Ada"
    assert ada["country"] == "England"


async def verify_messages(r: RedisClient, tech_message_id: str, first_cricket_id: str) -> None:
    """The loader's verifyMessages (its two ids are parameters: chatbridge's seed allocates its own)."""
    assert await r.xlen("channel:cricket") == 3
    names = await r.smembers("channels")
    assert "cricket" in names and "tech" in names and "random" in names
    assert "tennis" not in names
    first = await r.xrange("channel:cricket", "-", "+", count=1)
    assert first[0][0] == first_cricket_id
    tech = await r.hgetall(f"message:{tech_message_id}")
    assert tech["channel"] == "tech"
    assert tech["username"] == "ada"


async def verify_search(r: RedisClient) -> None:
    """The loader's verifySearch: replies read by position, as ioredis returns them."""
    users: list[Any] = await r.execute_command(*USER_SEARCH)
    messages: list[Any] = await r.execute_command(*MESSAGE_SEARCH)
    assert users[0] == 1
    assert users[2][3] == "Prickett"
    assert messages[0] == 2
    assert messages[2][1] == "wasim"
    assert messages[2][3] == "tech"


def sortable(specs: dict[str, tuple[str, ...]]) -> set[str]:
    return {name for name, spec in specs.items() if "SORTABLE" in spec}


async def test_the_loaders_data_passes_its_checks_and_shows_in_chatbridge(redis: RedisClient) -> None:
    await load_like_the_loader(redis)
    await verify_user_profiles(redis)
    await load_messages_like_the_loader(redis)
    await verify_messages(redis, "1631623314829-0", "1631623305083-0")
    before: list[Any] = await redis.execute_command(*USER_SEARCH)

    chat = await Chat.open(redis)  # chatbridge starts on the loader's database
    if chat.ctx.module.explicit:
        assert before[0] == 0  # 1.2 ignores ON HASH PREFIX: the loader's own indexes stay empty
    else:
        assert before[0] == 1  # 2.10 follows the prefix
    verify_search_ok = await redis.execute_command(*MESSAGE_SEARCH)
    assert verify_search_ok[0] == 2
    await verify_search(redis)  # both generations, after chatbridge rebuilt the indexes
    await verify_user_profiles(redis)
    await verify_messages(redis, "1631623314829-0", "1631623305083-0")
    users_specs = field_specs(_pairs(await redis.execute_command("FT.INFO", "idx:users")))
    messages_specs = field_specs(_pairs(await redis.execute_command("FT.INFO", "idx:messages")))
    assert sortable(users_specs) >= {"city", "country", "username"}  # the loader's flags kept
    assert sortable(messages_specs) >= {"username", "channel", "ts"}

    ex = chat.commands.execute
    hist = await ex(CLI, "history cricket 10")
    assert [(m["username"], m["text"]) for m in hist.data] == [
        (m["username"], m["message"]) for m in MESSAGES if m["channel"] == "cricket"
    ]
    assert [m["ts"] for m in hist.data] == [1631623305083, 1631623342013, 1631623342744]
    prof = await ex(CLI, "profile yaz")
    assert "Yasmin Khan" in prof.text and "Karachi, Pakistan" in prof.text
    england = await ex(CLI, "users country:England")
    assert [u["username"] for u in england.data["users"]] == ["ada", "simon"]
    by_wasim = await ex(CLI, "search from:wasim")
    assert [h["text"] for h in by_wasim.data["hits"]] == ["Me too.", "Did you see the test match this weekend?"]
    assert (await ex(CLI, 'search "the test match"')).data["total"] == 1  # stopwords off after the rebuild
    summary = await ex(Invocation(platform="cli", username="wasim"), "unread")
    assert summary.data == {"cricket": 2, "random": 1, "tech": 1}  # wasim's own two messages left out


async def test_the_loaders_checks_pass_on_what_chatbridge_seed_wrote(redis: RedisClient, chat: Chat) -> None:
    assert await seed(chat) == {"users": 6, "channels": 3, "messages": 6}
    for user in USERS:  # the loader's HSET order, which clients reading by position rely on
        assert list((await redis.hgetall(f"user:{user['username']}")).items()) == list(user.items())
    ids, ordered = {}, 0
    for m in MESSAGES:
        found = await chat.commands.execute(CLI, f"search from:{m['username']} in:{m['channel']}")
        hit = next(h for h in found.data["hits"] if h["text"] == m["message"])
        ids[m["id"]] = hit["id"]
        body = await redis.hgetall(f"message:{hit['id']}")
        if await redis.object("encoding", f"message:{hit['id']}") == "listpack":
            # a small hash keeps its insertion order; one with a value over hash-max-listpack-value
            # (64 bytes: woz's message) is a hashtable in any order, as in the guide's own "sunny" reply
            assert list(body)[:3] == ["username", "channel", "message"]
            ordered += 1
        assert [body["username"], body["channel"], body["message"]] == [m["username"], m["channel"], m["message"]]
    assert ordered == 5
    await verify_user_profiles(redis)
    await verify_messages(redis, ids["1631623314829-0"], ids["1631623305083-0"])
    await verify_search(redis)
    england = await redis.execute_command("FT.SEARCH", "idx:users", "@country:{England}", "LIMIT", "0", "999999")
    assert sorted(england[1::2]) == ["user:ada", "user:simon"]
    summary = await chat.commands.execute(Invocation(platform="cli", username="wasim"), "unread")
    assert summary.data == {"cricket": 2, "random": 1, "tech": 1}


async def test_the_loader_run_while_the_bridge_is_up_leaves_search_working(
    redis: RedisClient, chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    """The loader flushes the database and re-creates both indexes its way (default stopwords, no
    ts) under a running bridge. 2.x then refuses the bridge's next search (`ts` is not in the
    schema, a stopword phrase is a syntax error): the search repairs the indexes and retries. 1.x
    answers 0 hits instead of an error: a search checks the indexes every INDEX_PROBE_S."""
    ex = chat.commands.execute
    await ex(CLI, "register ann")
    await ex(CLI, "create news")
    await ex(Invocation(platform="cli", username="ann"), "post news hello before the loader")
    assert (await ex(CLI, "search hello")).data["total"] == 1  # also the first index check
    await load_like_the_loader(redis)
    await load_messages_like_the_loader(redis)

    found = await ex(CLI, "search it")  # within INDEX_PROBE_S of the last check
    if chat.ctx.module.explicit:
        assert found.ok and found.data["total"] == 0  # 1.2: no error to repair on yet
        chat.finder._probe_at = 0.0  # INDEX_PROBE_S later
        found = await ex(CLI, "search it")
    assert found.ok, found.text
    assert [h["text"] for h in found.data["hits"]] == [MESSAGES[3]["message"]]  # "…what's it like…"
    assert "the indexes changed under the bridge" in caplog.text
    phrase = await ex(CLI, 'search "the test match"')
    assert phrase.ok and phrase.data["total"] == 1, phrase.text
    england = await ex(CLI, "users country:England")
    assert [u["username"] for u in england.data["users"]] == ["ada", "simon"]
    await verify_search(redis)
