"""Text Redis cannot store and queries RediSearch 1.2 cannot answer: a clear reply, nothing written."""

from __future__ import annotations

import pytest

from bridge.core.chat import Chat
from bridge.core.ports import Invocation
from bridge.store import keys

CLI = Invocation(platform="cli", is_admin=True)
ADA = Invocation(platform="cli", username="ada")


@pytest.fixture
async def world(chat: Chat) -> Chat:
    for line in ("register ada", "create tech", "create empty"):
        assert (await chat.commands.execute(CLI, line)).ok
    assert (await chat.commands.execute(ADA, "post tech hello")).ok
    return chat


async def test_top_for_a_channel_with_no_messages_is_an_answer(world: Chat) -> None:
    reply = await world.commands.execute(ADA, "top 5 empty")
    assert reply.ok and reply.text == "No messages yet." and reply.data["rows"] == []
    posted = await world.commands.execute(ADA, "post empty soon gone")
    assert (await world.commands.execute(ADA, "top 5 empty")).data["rows"] == [{"username": "ada", "messages": 1}]
    assert (await world.commands.execute(ADA, f"delete {posted.data['id']}")).ok
    assert (await world.commands.execute(ADA, "top 5 empty")).data["rows"] == []
    assert (await world.commands.execute(ADA, "top 5 tech")).data["rows"] == [{"username": "ada", "messages": 1}]


LINES = ["post tech caf\udce9", "search caf\udce9", "profile-set city caf\udce9", "caf\udce9", "users \ud800"]


@pytest.mark.parametrize("line", LINES, ids=range(len(LINES)))
async def test_a_command_line_that_is_not_unicode_is_refused(world: Chat, line: str) -> None:
    before = await world.ctx.redis.dbsize()
    reply = await world.commands.execute(ADA, line)
    assert not reply.ok and reply.error_code == "invalid" and "not valid UTF-8" in reply.text
    assert reply.text.encode()  # the answer itself can be printed and sent
    assert await world.ctx.redis.dbsize() == before


async def test_typed_options_that_are_not_unicode_are_refused(world: Chat) -> None:
    reply = await world.commands.execute_args(ADA, "post", {"channel": "tech", "text": "caf\udce9"})
    assert not reply.ok and "`text` contains a byte that is not valid UTF-8" in reply.text
    reply = await world.commands.execute_args(ADA, "profile-set", {"field": "city", "value": "\udce9x"})
    assert not reply.ok and "not valid UTF-8 text at its start" in reply.text


async def test_platform_text_with_a_lone_surrogate_is_repaired_not_dropped(world: Chat) -> None:
    """A JSON payload may carry ``"\\udce9"``: the message still crosses, with U+FFFD in its place."""
    result = await world.messages.post("tech", "ada", "caf\udce9 au lait")
    assert await world.ctx.redis.hget(keys.message(result.id), "message") == "caf\ufffd au lait"
