"""The core knows threads: a message records its thread root, `thread <id>` shows a thread, `history`
marks roots with replies, `search thread:<id>` stays in a thread; bad input writes nothing."""

from __future__ import annotations

from bridge.core.chat import Chat
from bridge.core.messages import PostOptions
from bridge.core.ports import ChannelRef, InboundEvent, Invocation, PlatformUser
from bridge.store import keys

SLACK = ChannelRef("slack", "T1", "C1")
BOB = PlatformUser("slack", "T1", "U0BOB", "Bob")


async def _world(chat: Chat) -> None:
    for name in ("ada", "bob"):
        await chat.commands.execute(Invocation("cli"), f"register {name}")
    await chat.commands.execute(Invocation("cli"), "create cricket")
    await chat.commands.execute(Invocation("cli"), "create tech")


async def _run(chat: Chat, line: str, *, user: str = "ada", ok: bool = True) -> str:
    reply = await chat.commands.execute(Invocation("cli", username=user), line)
    assert reply.ok is ok, reply.text
    return reply.text


async def test_replies_record_their_root_and_the_root_counts_them(chat: Chat) -> None:
    await _world(chat)
    root = (await chat.messages.post("cricket", "ada", "Who won the toss?")).id
    first = (await chat.messages.post("cricket", "bob", "England did", PostOptions(thread=root))).id
    # a reply to a reply joins the root's thread: there are no nested threads
    second = (await chat.messages.post("cricket", "ada", "they batted", PostOptions(thread=first))).id
    got = await chat.messages.get(second)
    assert got.thread == root and got.in_thread
    root_msg = await chat.messages.get(root)
    assert root_msg.thread == root and root_msg.replies == 2 and not root_msg.in_thread
    assert await chat.ctx.redis.zrange(keys.thread_replies(root), 0, -1) == [first, second]
    history = await _run(chat, "history cricket")
    assert f"💬 2 replies (`thread {root}`)" in history and history.count("🧵") == 2
    text = await _run(chat, f"thread {second}")
    assert text.index("Who won the toss?") < text.index("England did") < text.index("they batted")
    reply = await chat.commands.execute(Invocation("cli", username="ada"), f"thread {root} 1")
    assert reply.data["total"] == 2 and [m["text"] for m in reply.data["replies"]] == ["England did"]
    assert f"`thread {root} 2`" in reply.text
    # deleting a reply takes it out of the thread; deleting the root keeps the thread
    await chat.messages.delete(first, "bob")
    assert (await chat.messages.get(root)).replies == 1
    await chat.messages.delete(root, "ada")
    gone = await chat.commands.execute(Invocation("cli", username="ada"), f"thread {second}")
    assert gone.ok and gone.data["root"] is None and [m["text"] for m in gone.data["replies"]] == ["they batted"]
    assert "first message was deleted" in gone.text
    late = await chat.messages.post("cricket", "bob", "still here", PostOptions(thread=root))
    assert (await chat.messages.get(late.id)).thread == root


async def test_a_thread_of_another_channel_or_of_nothing_is_refused_and_nothing_written(chat: Chat) -> None:
    await _world(chat)
    root = (await chat.messages.post("cricket", "ada", "a root")).id
    text = await _run(chat, "history tech")
    before = await chat.ctx.redis.xlen("channel:tech")
    for bad in (root, "1-0"):
        try:
            await chat.messages.post("tech", "bob", "lost", PostOptions(thread=bad))
        except Exception as err:
            assert "no thread" in str(err)
        else:
            raise AssertionError("posted into a thread of another channel")
    assert await chat.ctx.redis.xlen("channel:tech") == before
    assert await _run(chat, "history tech") == text
    assert "is not a message id" in await _run(chat, "thread nope", ok=False)
    assert "no message" in await _run(chat, "thread 1-0", ok=False)


async def test_search_limited_to_a_thread(chat: Chat) -> None:
    await _world(chat)
    root = (await chat.messages.post("cricket", "ada", "rain stopped play")).id
    await chat.messages.post("cricket", "bob", "more rain today", PostOptions(thread=root))
    await chat.messages.post("cricket", "bob", "rain elsewhere")
    everywhere = await chat.finder.messages("rain")
    assert everywhere.total == 3
    reply_id = (await chat.ctx.redis.zrange(keys.thread_replies(root), 0, 0))[0]
    for name in (root, reply_id):  # any message of the thread names it
        page = await chat.finder.messages(f"rain thread:{name}")
        assert sorted(m.text for m in page.hits) == ["more rain today", "rain stopped play"]
    assert "not a message id" in await _run(chat, "search rain thread:x", ok=False)


async def test_ingest_maps_a_platform_thread_and_an_unknown_root_goes_to_the_channel(chat: Chat) -> None:
    await _world(chat)
    await chat.channels.link("cricket", SLACK)
    root = await chat.ingest(InboundEvent("message", SLACK, "100.000001", "e1", BOB, "root"))
    reply = await chat.ingest(InboundEvent("message", SLACK, "100.000002", "e2", BOB, "reply", thread="100.000001"))
    assert reply.core_id is not None and root.core_id is not None
    assert (await chat.messages.get(reply.core_id)).thread == root.core_id
    lost = await chat.ingest(InboundEvent("message", SLACK, "100.000003", "e3", BOB, "orphan", thread="99.000001"))
    assert lost.status == "recorded" and lost.core_id is not None
    assert (await chat.messages.get(lost.core_id)).thread == ""


async def test_link_inside_a_thread_is_refused(chat: Chat) -> None:
    await _world(chat)
    thread = ChannelRef("discord", "G1", "555")
    parent = ChannelRef("discord", "G1", "444")
    inv = Invocation("discord", username="ada", is_admin=True, channel=thread, thread_of=parent)
    reply = await chat.commands.execute(inv, "link cricket")
    assert not reply.ok and "This is a thread" in reply.text
    assert await chat.channel_for(thread) is None
    # commands typed in a thread use the channel it belongs to
    await chat.channels.link("cricket", parent)
    await chat.messages.post("cricket", "ada", "hello")
    history = await chat.commands.execute(inv, "history")
    assert history.ok and "hello" in history.text
