"""Hypothesis over the whole command grammar (every registered command, both entry points: a
command line as Slack and the CLI send it, typed options as Discord sends them).

Whatever is typed: no reply is the internal-error apology, a refused command writes nothing, and
after every example the message hashes, the channel streams and ``idx:messages`` agree.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.core.chat import Chat
from bridge.core.commands.registry import ArgSpec, CommandSpec
from bridge.core.ports import Invocation
from bridge.store import keys
from bridge.store.connection import RedisClient

CALLERS = (
    Invocation(platform="cli", username="ada"),
    Invocation(platform="cli", username="bob"),
    Invocation(platform="cli", username="ghost"),
    Invocation(platform="cli", is_admin=True),
    Invocation(platform="cli", username="ada", is_admin=True),
)
CHANNELS = ("tech", "art", "empty")
ID_SLOT = "<message-id>"

# One EVAL for the whole keyspace: a refused command must leave every key's type and size as it
# was. RediSearch 1.x's own keys (``ft:`` ``nm:`` ``tag:`` ``geo:`` ``idx:``: inverted indexes named
# after terms, which its tokenizer may cut inside a UTF-8 sequence) are left to assert_consistent.
_SNAPSHOT = """
local out = {}
local internal = {['ft:'] = true, ['nm:'] = true, ['idx:'] = true, ['tag:'] = true, ['geo:'] = true}
for _, key in ipairs(redis.call('KEYS', '*')) do
  local head = string.match(key, '^[a-z]+:') or ''
  if not internal[head] and string.sub(key, 1, 7) ~= 'cb:seen' and key ~= 'cb:meta' then
    local t = redis.call('TYPE', key)['ok']
    local n = 0
    if t == 'hash' then n = redis.call('HLEN', key)
    elseif t == 'set' then n = redis.call('SCARD', key)
    elseif t == 'zset' then n = redis.call('ZCARD', key)
    elseif t == 'stream' then n = redis.call('XLEN', key)
    elseif t == 'list' then n = redis.call('LLEN', key)
    elseif t == 'string' then n = redis.call('STRLEN', key) end
    out[#out + 1] = key .. '=' .. t .. ':' .. n
  end
end
table.sort(out)
return out
"""

hostile_chars = st.one_of(
    st.characters(),
    st.sampled_from([*"\"' \t\n\\,{}|@*%-~:#<>!()[]`$", "\udce9", "\ud800", "\x00", "\u202e", "\u200b"]),
)
hostile = st.text(alphabet=hostile_chars, max_size=30)


def value_for(arg: ArgSpec) -> st.SearchStrategy[str]:
    if arg.choices:
        good: st.SearchStrategy[str] = st.sampled_from(arg.choices)
    elif arg.kind == "channel":
        good = st.sampled_from((*CHANNELS, "nowhere", "#tech", "Tech"))
    elif arg.kind == "user":
        good = st.sampled_from(("ada", "bob", "ghost", "@ada", "everyone"))
    elif arg.kind == "int":
        good = st.integers(-3, 300).map(str)
    elif arg.name == "id":
        # an index into the message ids that exist when the command runs (see with_ids); drawing
        # the ids themselves would make the generated data depend on the database
        good = st.one_of(st.integers(0, 20).map(lambda n: f"{ID_SLOT}{n}"), st.sampled_from(("1-0", "0-1")))
    elif arg.name == "query":
        good = st.sampled_from(("hello", "in:tech", "from:ada", "city:lahore", "near:1,2,3", "page:2", "hello in:art"))
    else:
        good = st.sampled_from(("hello world", "hi @ada", "Lahore", "chess, go", "51.5,-0.12", "x" * 8001))
    return st.one_of(good, good, hostile)


def with_ids(text: str, ids: list[str]) -> str:
    """Put real message ids in the id slots (newest first; an index past the end stays unknown)."""
    for n in range(20, -1, -1):
        slot = f"{ID_SLOT}{n}"
        if slot in text:
            text = text.replace(slot, ids[-1 - n] if n < len(ids) else f"{n + 1}-0")
    return text


def quoted(value: str) -> str:
    return f'"{value}"' if " " in value and '"' not in value else value


@st.composite
def command_line(draw: st.DrawFn, specs: list[CommandSpec]) -> str:
    spec = draw(st.sampled_from(specs))
    parts = [draw(st.sampled_from((spec.name, spec.name.upper(), "/chat " + spec.name)))]
    for arg in spec.args:
        if arg.required or draw(st.booleans()):
            value = draw(value_for(arg))
            parts.append(value if arg.kind == "text" else quoted(value))
    if draw(st.integers(0, 9)) == 0:
        parts.append(draw(hostile))
    return " ".join(parts)


@st.composite
def typed_options(draw: st.DrawFn, specs: list[CommandSpec]) -> tuple[str, dict[str, Any]]:
    spec = draw(st.sampled_from(specs))
    args: dict[str, Any] = {}
    for arg in spec.args:
        if arg.required or draw(st.booleans()):
            value: Any = draw(value_for(arg))
            if arg.kind == "int" and re.fullmatch(r"-?[0-9]+", value):  # not str.isdigit: '²' is a digit to it
                value = int(value)
            args[arg.name] = value
    if draw(st.integers(0, 9)) == 0:
        args[draw(st.sampled_from(("bogus", "channel", "text")))] = draw(hostile)
    return spec.name, args


async def snapshot(r: RedisClient) -> list[str]:
    rows: list[str] = await r.eval(_SNAPSHOT, 0)
    return rows


async def assert_consistent(r: RedisClient) -> None:
    """Every message entry of a stream has its hash and vice versa, and the index holds exactly the
    message hashes."""
    hashes = set(await _message_ids(r))
    live: dict[str, str] = {}
    for channel in await r.smembers(keys.CHANNELS):
        for entry_id, fields in await r.xrange(keys.channel(channel)):
            if fields.get("type") == "message":
                live[entry_id] = channel
            elif fields.get("type") == "delete":
                live.pop(fields.get("id", ""), None)
    assert hashes == set(live), sorted(hashes ^ set(live))[:5]
    for message_id, channel in live.items():
        assert await r.hget(keys.message(message_id), "channel") == channel, message_id
    info = await r.execute_command("FT.INFO", keys.IDX_MESSAGES)
    docs = int(dict(zip(info[::2], info[1::2], strict=False))["num_docs"])
    assert docs == len(hashes), (docs, len(hashes))


@pytest.fixture
async def world(chat: Chat) -> Chat:
    ex = chat.commands.execute
    for line in ("register ada Ada Lovelace London England", "register bob", *(f"create {c}" for c in CHANNELS)):
        assert (await ex(CALLERS[3], line)).ok, line
    for channel in CHANNELS[:2]:
        assert (await ex(CALLERS[0], f"post {channel} hello from {channel} @bob")).ok
    return chat


async def _message_ids(r: RedisClient) -> list[str]:
    return sorted([keys.message_id_of(k) async for k in r.scan_iter(match=keys.MESSAGE_PREFIX + "*")])


async def _check(world: Chat, reply_ok: bool, error_code: str | None, text: str, before: list[str], what: Any) -> None:
    assert error_code != "internal", (what, text)
    if not reply_ok:
        assert await snapshot(world.ctx.redis) == before, (what, text)


def fuzz(examples: int) -> Any:
    """The world fixture is shared by the examples of one test: state builds up as it would."""
    slow = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
    return settings(max_examples=examples, deadline=None, suppress_health_check=slow)


@pytest.mark.timeout(300)  # a few hundred commands against real Redis: minutes on a loaded machine
@fuzz(examples=250)
@given(data=st.data())
async def test_any_command_line_gets_a_clear_answer_and_keeps_the_data_consistent(world: Chat, data: Any) -> None:
    r = world.ctx.redis
    specs = world.commands.specs()
    for _ in range(data.draw(st.integers(1, 6))):
        line = with_ids(data.draw(command_line(specs)), await _message_ids(r))
        inv = data.draw(st.sampled_from(CALLERS))
        before = await snapshot(r)
        reply = await world.commands.execute(inv, line)
        await _check(world, reply.ok, reply.error_code, reply.text, before, (inv.username, line))
    await assert_consistent(r)


@pytest.mark.timeout(300)  # a few hundred commands against real Redis: minutes on a loaded machine
@fuzz(examples=200)
@given(data=st.data())
async def test_any_typed_options_get_a_clear_answer_and_keep_the_data_consistent(world: Chat, data: Any) -> None:
    r = world.ctx.redis
    specs = world.commands.specs()
    for _ in range(data.draw(st.integers(1, 6))):
        name, args = data.draw(typed_options(specs))
        ids = await _message_ids(r)
        args = {k: with_ids(v, ids) if isinstance(v, str) else v for k, v in args.items()}
        inv = data.draw(st.sampled_from(CALLERS))
        before = await snapshot(r)
        reply = await world.commands.execute_args(inv, name, args)
        await _check(world, reply.ok, reply.error_code, reply.text, before, (inv.username, name, args))
    await assert_consistent(r)
