"""Regressions found in review, each reproduced first against a real Redis."""

from __future__ import annotations

import asyncio

from notify_kit import collecting_notifier

from bridge import config
from bridge.core.chat import Chat
from bridge.core.ports import Invocation, PlatformUser

CLI = Invocation(platform="cli")


def test_config_room_names_and_admins_are_normalised() -> None:
    cfg = config.parse({"admins": ["Alice"], "rooms": [{"channel": "#General", "links": ["discord:1:2"]}]})
    assert cfg.admins == ["alice"] and cfg.rooms[0].channel == "general"


async def test_static_rooms_apply_on_every_start(chat: Chat) -> None:
    from bridge.runtime import apply_static_config

    cfg = config.parse({"rooms": [{"channel": "General", "links": ["discord:1:2"]}]})
    await apply_static_config(chat, cfg)
    await apply_static_config(chat, cfg)
    assert [str(r.key()) for r in await chat.channels.links("general")] == ["discord:1:2"]


async def test_a_link_code_for_a_renamed_user_is_refused_and_nothing_changes(chat: Chat) -> None:
    slack = Invocation(platform="slack", user=PlatformUser("slack", "T", "U1", "Erin"))
    discord = Invocation(platform="discord", user=PlatformUser("discord", "G", "42", "Erin"))
    await chat.commands.execute(CLI, "create tech")
    await chat.commands.execute(discord, "post tech hi from discord")
    code = (await chat.commands.execute(slack, "link-account")).data["code"]
    await chat.commands.execute(slack, "register erin2")
    reply = await chat.commands.execute(discord, f"link-account {code}")
    assert not reply.ok and "renamed" in reply.text
    assert (await chat.commands.execute(discord, "post tech still works")).ok


async def test_notify_add_then_post_is_notified_and_a_later_subscriber_is_not_flooded(
    chat: Chat, redis_url: str
) -> None:
    for name in ("ann", "ben", "cat"):
        await chat.commands.execute(CLI, f"register {name}")
    await chat.commands.execute(CLI, "create news")
    async with collecting_notifier(chat, redis_url) as (notifier, got):
        await chat.commands.execute(Invocation(platform="cli", username="ann"), "notify add news")
        await chat.commands.execute(Invocation(platform="cli", username="cat"), "post news first")
        await notifier.step()
        assert [(n.username, n.text) for n in got] == [("ann", "first")]
        await chat.commands.execute(Invocation(platform="cli", username="ann"), "notify remove news")
        for i in range(5):
            await chat.commands.execute(
                Invocation(platform="cli", username="cat"), f"post news while nobody listens {i}"
            )
        await chat.commands.execute(Invocation(platform="cli", username="ben"), "notify add news")
        await chat.commands.execute(Invocation(platform="cli", username="cat"), "post news for ben")
        await notifier.step()
        assert [(n.username, n.text) for n in got[1:]] == [("ben", "for ben")]


async def test_last_seen_never_moves_backwards(chat: Chat) -> None:
    await chat.commands.execute(CLI, "register ann")
    await chat.commands.execute(CLI, "create news")
    ids = [(await chat.messages.post("news", "ann", f"m{i}")).id for i in range(3)]
    await chat.messages.mark_seen("news", "ann")
    await chat.messages._advance_seen("ann", "news", ids[0])
    assert await chat.ctx.redis.hget("user:ann", "channel:news") == ids[-1]


async def test_user_search_by_full_name_and_unicode_hobby(chat: Chat) -> None:
    await chat.commands.execute(CLI, "register jsmith John Smith")
    await chat.commands.execute(CLI, "register jdoe John Doe")
    await chat.commands.execute(Invocation(platform="cli", username="jdoe"), "profile-set hobbies Ünïcode, Chess")
    found = await chat.commands.execute(CLI, "users John Smith")
    assert [u["username"] for u in found.data["users"]] == ["jsmith"]
    assert [u["username"] for u in (await chat.commands.execute(CLI, "users hobby:Ünïcode")).data["users"]] == ["jdoe"]
    assert (await chat.commands.execute(CLI, "users _")).ok


async def test_posting_without_the_index_writes_nothing_on_1x_and_is_indexed_later_on_2x(chat: Chat) -> None:
    """1.x: FT.ADDHASH after the stream and hash writes would fail (and a Lua error keeps them), so
    post refuses first. 2.x indexes by key prefix: the post stands and a recreated index finds it."""
    await chat.commands.execute(CLI, "register ann")
    await chat.commands.execute(CLI, "create news")
    await chat.ctx.redis.execute_command("FT.DROP", "idx:messages", "KEEPDOCS")
    reply = await chat.commands.execute(Invocation(platform="cli", username="ann"), "post news lost?")
    if chat.ctx.module.explicit:
        assert not reply.ok
        assert await chat.ctx.redis.xlen("channel:news") == 0
    else:
        assert reply.ok and await chat.ctx.redis.xlen("channel:news") == 1
        reopened = await Chat.open(chat.ctx.redis)
        found = await reopened.commands.execute(CLI, "search lost")
        assert found.data["total"] == 1 and found.data["hits"][0]["username"] == "ann"
    await asyncio.sleep(0)
