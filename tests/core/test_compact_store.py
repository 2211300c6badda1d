"""Where the bytes of a message go (issue 15, memory): the server chatbridge embeds keeps message
hashes compact, and the message index sorts only by ``ts`` while every username query still works."""

from __future__ import annotations

from pathlib import Path

import pytest
from generations import Generation

from bridge.core.chat import Chat
from bridge.runtime import open_runtime
from bridge.store import keys
from bridge.store.search import field_specs


async def test_the_embedded_server_keeps_a_long_message_hash_a_listpack(
    tmp_path: Path, generation: Generation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    cfg = generation.embedded_config(tmp_path / "data")
    text = "a long message " * 60  # 900 characters: a hashtable under Redis's default (64 bytes)
    async with open_runtime(cfg) as rt:
        chat = rt.chat
        await chat.users.register("ada", {})
        await chat.channels.create("tech")
        posted = await chat.messages.post("tech", "ada", text)
        key = keys.message(posted.id)
        assert await rt.redis.object("encoding", key) == "listpack"
        assert (await chat.messages.get(posted.id)).text == text.strip()
        found = await chat.finder.messages("long from:ada in:tech")
        assert [m.id for m in found.hits] == [posted.id]


async def test_only_ts_is_sortable_and_username_queries_still_work(chat: Chat) -> None:
    raw = await chat.ctx.redis.execute_command("FT.INFO", keys.IDX_MESSAGES)
    info = {str(raw[i]): raw[i + 1] for i in range(0, len(raw) - 1, 2)}
    sortable = {name for name, spec in field_specs(info).items() if "SORTABLE" in spec}
    assert sortable == {"ts"}
    for name in ("ada", "wasim"):
        await chat.users.register(name, {})
    await chat.channels.create("tech")
    for i in range(3):
        await chat.messages.post("tech", "ada", f"hello {i}")
    await chat.messages.post("tech", "wasim", "hello there")
    # the guide's FT.AGGREGATE top (GROUPBY @username after LOAD) and the maintained counters agree
    assert (await chat.finder.top(10, source="aggregate")).rows == [("ada", 3), ("wasim", 1)]
    assert (await chat.finder.top(10, source="counters")).rows == [("ada", 3), ("wasim", 1)]
    found = await chat.finder.messages("hello from:wasim")
    assert [m.text for m in found.hits] == ["hello there"]
