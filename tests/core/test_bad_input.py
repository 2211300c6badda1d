"""Hostile and malformed input: a clear error, nothing written, and the core keeps working."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.core.chat import Chat
from bridge.core.ports import Invocation
from bridge.core.validation import MAX_MESSAGE_CHARS, clean_text, message_text
from bridge.errors import InvalidInput
from bridge.store.connection import RedisClient
from bridge.store.search import detect, escape_tag, index_hash, plain_words

CLI = Invocation(platform="cli")
ADA = Invocation(platform="cli", username="ada")


async def snapshot(r: RedisClient) -> dict[str, str]:
    """Every key and its type+size, to prove a failed command wrote nothing."""
    out = {}
    async for key in r.scan_iter(count=1000):
        if key.startswith("cb:seen") or key == "cb:meta":
            continue
        kind = await r.type(key)
        size = {"hash": r.hlen, "set": r.scard, "stream": r.xlen, "zset": r.zcard}.get(kind)
        out[key] = f"{kind}:{await size(key) if size else await r.get(key) if kind == 'string' else '-'}"
    return out


@pytest.fixture
async def world(chat: Chat) -> Chat:
    await chat.commands.execute(CLI, "register ada Ada Lovelace")
    await chat.commands.execute(CLI, "create tech")
    await chat.commands.execute(ADA, "post tech hello world")
    return chat


BAD = [
    ("frobnicate", "Unknown command"),
    ("post", "`channel` is missing"),
    ("post tech", "`text` is missing"),
    ("post nowhere hi", "no channel `#nowhere`"),
    ("post Tech! hi", "not a valid channel name"),
    ("post " + "a" * 81 + " hi", "not a valid channel name"),
    ("post tech " + "x" * (MAX_MESSAGE_CHARS + 1), "the limit is"),
    ("post tech \x00\x01\x02", "The message is empty"),
    ("history tech lots", "whole number"),
    ("history tech 100000", "between 1 and 200"),
    ("history tech 5 extra", "Too many arguments"),
    ('search "unbalanced', "Unbalanced"),
    ("search", "`query` is missing"),
    ("search in:../../etc", "not a valid channel name"),
    ("search from:@everyone!", "not a valid username"),
    ("search before:yesterday-ish", "is not a time"),
    ("search page:0", "page:"),
    ("register a", "not a valid username"),
    ("register ada", "taken"),
    ("register user:evil", "not a valid username"),
    ("register everyone", "reserved"),
    ("register ada,bob", "not a valid username"),
    ("profile ghost", "no user `ghost`"),
    ("profile-set city Lahore,Pakistan", "cannot contain"),
    ("profile-set colour blue", "must be one of"),
    ("profile-set location 91,0", "not a location"),
    ("users near:1,2", "lat,lon,km"),
    ("notify add nowhere", "no channel"),
    ("notify shout tech", "must be one of"),
    ("edit 123 new", "not a message id"),
    ("edit 1-0 new", "no message"),
    ("delete abc", "not a message id"),
    ("link-account NOPE-NOPE-NOPE", "Redeem the code from Discord or Slack"),
    ("create tech", "already exists"),
    ("link tech", "for admins"),
]


@pytest.mark.parametrize(("line", "expected"), BAD, ids=[b[0][:30] for b in BAD])
async def test_bad_commands_are_refused_clearly_and_write_nothing(world: Chat, line: str, expected: str) -> None:
    before = await snapshot(world.ctx.redis)
    reply = await world.commands.execute(ADA, line)
    assert not reply.ok
    assert expected in reply.text
    assert await snapshot(world.ctx.redis) == before
    assert (await world.commands.execute(ADA, "history tech 1")).ok


async def test_unknown_cli_user_is_refused(world: Chat) -> None:
    reply = await world.commands.execute(Invocation(platform="cli", username="ghost"), "post tech hi")
    assert not reply.ok and "register ghost" in reply.text


HOSTILE_QUERIES = [
    "*", "-match", "@channel:{tech}", "@ts:[0 +inf]", "%match%", "hello | world", "(((", ")", "{", "}", "\"", "~",
    "@loc:[0 0 100000 km]", "a\\b", "\x00", "match -", "**", "*match", "'; FLUSHALL", "😀", "東京*", "café*",
    "@username:{ada} | @username:{*}", "in:tech @channel:{x}", "the", "a an the of",
]  # fmt: skip


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
async def test_query_operators_in_search_text_are_plain_words(world: Chat, query: str) -> None:
    reply = await world.commands.execute(ADA, f"search {query}")
    if reply.ok:
        assert reply.data["total"] <= 1
    else:
        assert reply.error_code == "invalid"


async def test_hostile_text_is_stored_verbatim_and_searchable(world: Chat) -> None:
    text = "@everyone <script>alert(1)</script> <@123> <!channel> \u202eevil\u202c zero\u200bwidth مرحبا"
    r = await world.commands.execute(ADA, f"post tech {text}")
    assert r.ok
    stored = text.replace("\u202e", "").replace("\u202c", "")
    assert await world.ctx.redis.hget(f"message:{r.data['id']}", "message") == stored
    assert (await world.commands.execute(ADA, "search alert")).data["total"] == 1
    assert (await world.commands.execute(ADA, "search مرحبا")).data["total"] == 1


tag_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=",\\"), min_size=1, max_size=20
).filter(lambda s: s.strip(" \t\n\r\x0b\x0c") == s and s.strip() != "")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=tag_values)
async def test_escape_tag_round_trips_on_the_real_module(redis: RedisClient, value: str) -> None:
    """Property: any city value (no ``,`` or ``\\``, which validation rejects) is found by its
    escaped TAG query and the query never errors."""
    module = await detect(redis)
    await redis.execute_command(
        "FT.CREATE", "idx:proptag", "ON", "HASH", "PREFIX", "1", "proptag:", "STOPWORDS", "0", "SCHEMA", "city", "TAG"
    )  # 1.x ignores ON HASH PREFIX and is told each hash; 2.x follows the prefix
    try:
        await redis.hset("proptag:1", mapping={"city": value})
        await index_hash(redis, module, "idx:proptag", "proptag:1")
        res = await redis.execute_command("FT.SEARCH", "idx:proptag", "@city:{" + escape_tag(value) + "}", "NOCONTENT")
        assert res[0] == 1, value
    finally:
        await redis.execute_command("FT.DROP", "idx:proptag")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40))
async def test_plain_words_never_produce_a_syntax_error(redis: RedisClient, text: str) -> None:
    await redis.execute_command("FT.CREATE", "idx:propq", "STOPWORDS", "0", "SCHEMA", "message", "TEXT")
    try:
        words = plain_words(text)
        if words:
            await redis.execute_command("FT.SEARCH", "idx:propq", " ".join(words), "NOCONTENT")
    finally:
        await redis.execute_command("FT.DROP", "idx:propq")


TRICKY = "ab \t\n\r\x00\x07\x1b\x7f\u202a\u202e\u2066\u2069\u200b\u200e\ud800\udfff é東😀"


ONE_EACH = [f"a{chr(c)}b" for c in (*range(0x20), 0x7F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xD800, 0xDFFF)]


@pytest.mark.parametrize("text", ONE_EACH, ids=[f"U+{ord(t[1]):04X}" for t in ONE_EACH])
def test_message_text_cleans_each_character_the_cleaning_touches(text: str) -> None:
    assert message_text(text) == clean_text(text).strip()


@given(st.text(alphabet=st.sampled_from(TRICKY), max_size=40))
def test_message_text_skips_cleaning_only_when_cleaning_changes_nothing(text: str) -> None:
    """message_text's one-scan shortcut (most messages need no cleaning) gives what the four
    cleaning passes give, for text made of every kind of character they touch."""
    expected = clean_text(text).strip()
    if expected:
        assert message_text(text) == expected
    else:
        with pytest.raises(InvalidInput):
            message_text(text)
