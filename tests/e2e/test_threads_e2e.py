"""Threads end to end: the real discord.py and slack-bolt adapters against the emulators, a real Redis
+ RediSearch, the worker. Slack threads ⇄ Discord threads, forum posts, broadcasts, tombstones,
locked and archived threads, a worker restart, a throttled destination, a thread of 200 replies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import test_mirror_e2e
from e2e_kit import speed_up_limits
from test_mirror_e2e import Bridge
from waiting import until

from bridge.adapters.discord.thread_places import Threads
from bridge.app import Running, start_discord, start_slack
from bridge.config import Config
from bridge.core.chat import Chat
from bridge.mirror.worker import Worker
from bridge.runtime import Runtime

bridge = test_mirror_e2e.bridge  # the fixture, used by name


def _in(bridge: Bridge, channel: str, text: str) -> dict[str, Any] | None:
    return next((m for m in bridge.discord.messages(channel) if text in m["content"]), None)


def _slack(bridge: Bridge, channel: str, text: str) -> Any:
    return next((m for m in bridge.slack.history(channel) if text in m.text), None)


async def test_slack_thread_to_discord_thread_as_the_senders(bridge: Bridge) -> None:
    root = bridge.slack.user_says(user="alice", channel="general", text="*Release* plan for Friday\nsecond line")
    root_copy = await until(lambda: _in(bridge, "general", "plan for Friday"))
    bridge.slack.user_says(user="bob", channel="general", text="I can do the notes", thread_ts=root.ts)
    thread = await until(lambda: bridge.discord.thread_of(root_copy["id"]))
    assert thread.name == "Release plan for Friday" and thread.parent_id == bridge.discord.channel("general").id
    first = await until(lambda: _in(bridge, thread.id, "I can do the notes"))
    assert first["author"]["username"] == "bob" and first["webhook_id"]
    second = bridge.slack.user_says(user="carol", channel="general", text="and I the demo", thread_ts=root.ts)
    await until(lambda: _in(bridge, thread.id, "and I the demo"))
    assert [m["content"] for m in bridge.discord.messages(thread.id)] == ["I can do the notes", "and I the demo"]
    assert [m["content"] for m in bridge.discord.messages("general")] == [root_copy["content"]]  # nothing leaked
    # edits and deletes reach the copy inside the thread
    bridge.slack.user_edits(channel="general", ts=second.ts, text="and I the demo, twice")
    await until(lambda: _in(bridge, thread.id, "the demo, twice"))
    bridge.slack.user_deletes(channel="general", ts=second.ts)
    await until(lambda: _in(bridge, thread.id, "the demo") is None)
    # the core knows it as one thread
    reply = await bridge.chat.commands.execute(bridge_cli(), "history general")
    assert "💬 1 reply" in reply.text


def bridge_cli() -> Any:
    from bridge.core.ports import Invocation

    return Invocation("cli", username=None, is_admin=True, channel_name="general")


async def test_discord_thread_to_slack_thread_and_back(bridge: Bridge) -> None:
    said = await bridge.discord.say("alice", "general", "who has the keys?")
    root_copy = await until(lambda: _slack(bridge, "general", "who has the keys"))
    thread = await bridge.discord.start_thread("alice", "general", "keys", message_id=said["id"])
    in_thread = await bridge.discord.say("bob", thread.id, "I do")
    reply = await until(lambda: next((m for m in bridge.slack.thread("general", root_copy.ts)[1:]), None))
    assert reply.text == "I do" and reply.thread_ts == root_copy.ts and reply.username == "Bob B."
    # a Slack reply in that thread goes back into the Discord thread (not the channel)
    bridge.slack.user_says(user="carol", channel="general", text="thanks bob", thread_ts=root_copy.ts)
    await until(lambda: _in(bridge, thread.id, "thanks bob"))
    assert [m["content"] for m in bridge.discord.messages("general")] == ["who has the keys?"]
    # a Discord reply (message_reference) inside the thread keeps its persona and its place
    await bridge.discord.say("carol", thread.id, "you are welcome", reply_to=in_thread["id"])
    welcome = await until(lambda: _slack(bridge, "general", "you are welcome"))
    assert welcome.thread_ts == root_copy.ts and welcome.username == "carol"
    # edits and deletes made in the Discord thread follow
    await bridge.discord.edit(thread.id, in_thread["id"], "I do, in my bag")
    await until(lambda: _slack(bridge, "general", "in my bag"))
    await bridge.discord.delete(thread.id, in_thread["id"])
    await until(lambda: _slack(bridge, "general", "in my bag") is None)


async def test_a_discord_thread_without_a_starter_gets_a_slack_root_as_its_creator(bridge: Bridge) -> None:
    thread = await bridge.discord.start_thread("carol", "general", "Lunch options")
    await bridge.discord.say("bob", thread.id, "pizza?")
    await bridge.discord.say("alice", thread.id, "sushi")
    root = await until(lambda: _slack(bridge, "general", "Lunch options"))
    assert root.text in ("🧵 *Lunch options*", ":thread: *Lunch options*")  # Slack shows either as 🧵
    assert root.username == "carol"
    replies = await until(lambda: [m.text for m in bridge.slack.thread("general", root.ts)[1:]] or None)
    await until(lambda: len(bridge.slack.thread("general", root.ts)) == 3)
    replies = [(m.text, m.username) for m in bridge.slack.thread("general", root.ts)[1:]]
    assert replies == [("pizza?", "Bob B."), ("sushi", "Alice A.")]
    # nothing of the thread appears in the Slack channel itself
    assert [m.text for m in bridge.slack.history("general") if not m.thread_ts or m.thread_ts == m.ts] == [root.text]


async def test_forum_posts_both_ways(bridge: Bridge) -> None:
    forum = await bridge.discord.create_forum("help")
    await until(lambda: bridge.running.emulators["discord"].channel("help"))
    await bridge.chat.commands.execute(bridge_cli(), "create helpdesk")
    from bridge.core.ports import ChannelRef

    await bridge.chat.channels.link("helpdesk", ChannelRef("discord", bridge.discord.guild_id, forum.id))
    await bridge.chat.channels.link("helpdesk", bridge.sref("random"))
    post, first = await bridge.discord.forum_post("carol", "help", "VPN broken", "since this morning")
    root = await until(lambda: _slack(bridge, "random", "VPN broken"))
    assert root.text.split(" ", 1)[1] == "*VPN broken*\nsince this morning" and root.username == "carol"
    assert root.text.split(" ", 1)[0] in ("🧵", ":thread:")
    await bridge.discord.say("bob", post.id, "restart it")
    await until(lambda: len(bridge.slack.thread("random", root.ts)) == 2)
    # a Slack reply goes into the forum post
    bridge.slack.user_says(user="alice", channel="random", text="worked for me", thread_ts=root.ts)
    await until(lambda: _in(bridge, post.id, "worked for me"))
    # a new Slack top-level message in the channel linked to the forum starts a forum post
    top = bridge.slack.user_says(user="bob", channel="random", text="Printer on floor 2 jams\ndetails inside")
    new_post = await until(
        lambda: next((c for c in bridge.discord.world.channels.values() if c.name == "Printer on floor 2 jams"), None)
    )
    assert new_post.parent_id == forum.id
    [starter] = bridge.discord.messages(new_post.id)
    assert starter["id"] == new_post.id and starter["author"]["username"] == "bob"
    bridge.slack.user_says(user="carol", channel="random", text="same on 3", thread_ts=top.ts)
    await until(lambda: _in(bridge, new_post.id, "same on 3"))
    assert first["id"] == post.id


async def test_broadcast_reply_is_in_the_discord_thread_and_the_channel(bridge: Bridge) -> None:
    root = bridge.slack.user_says(user="alice", channel="general", text="deploy at 5")
    root_copy = await until(lambda: _in(bridge, "general", "deploy at 5"))
    bridge.slack.user_says(user="bob", channel="general", text="ok for everyone", thread_ts=root.ts, broadcast=True)
    thread = await until(lambda: bridge.discord.thread_of(root_copy["id"]))
    await until(lambda: _in(bridge, thread.id, "ok for everyone"))
    in_channel = await until(lambda: _in(bridge, "general", "ok for everyone"))
    assert in_channel["author"]["username"] == "bob"
    # editing it on Slack edits both copies, where each is
    said = _slack(bridge, "general", "ok for everyone")
    bridge.slack.user_edits(channel="general", ts=said.ts, text="ok for everyone, at 6")
    await until(lambda: _in(bridge, "general", "at 6") and _in(bridge, thread.id, "at 6"))
    assert len(bridge.discord.messages(thread.id)) == 1 and _in(bridge, "general", "ok for everyone")
    # deleting it on Slack removes both copies
    bridge.slack.user_deletes(channel="general", ts=said.ts)
    await until(lambda: _in(bridge, "general", "ok for everyone") is None and _in(bridge, thread.id, "ok") is None)


async def test_a_tombstoned_slack_root_deletes_its_copy_and_keeps_the_thread(bridge: Bridge) -> None:
    root = bridge.slack.user_says(user="alice", channel="general", text="old announcement")
    root_copy = await until(lambda: _in(bridge, "general", "old announcement"))
    bridge.slack.user_says(user="bob", channel="general", text="first!", thread_ts=root.ts)
    thread = await until(lambda: bridge.discord.thread_of(root_copy["id"]))
    await until(lambda: _in(bridge, thread.id, "first!"))
    bridge.slack.user_deletes(channel="general", ts=root.ts)  # a root with replies: a tombstone
    await until(lambda: _in(bridge, "general", "old announcement") is None)
    assert bridge.slack.thread("general", root.ts)[0].subtype == "tombstone"
    bridge.slack.user_says(user="carol", channel="general", text="still talking", thread_ts=root.ts)
    await until(lambda: _in(bridge, thread.id, "still talking"))
    assert bridge.discord_texts("general") == []


async def test_archived_threads_take_replies_and_locked_ones_send_them_to_the_channel(bridge: Bridge) -> None:
    root = bridge.slack.user_says(user="alice", channel="general", text="weekly sync")
    root_copy = await until(lambda: _in(bridge, "general", "weekly sync"))
    bridge.slack.user_says(user="bob", channel="general", text="notes 1", thread_ts=root.ts)
    thread = await until(lambda: bridge.discord.thread_of(root_copy["id"]))
    await until(lambda: _in(bridge, thread.id, "notes 1"))
    await bridge.discord.update_thread(thread.id, archived=True)
    bridge.slack.user_says(user="bob", channel="general", text="notes 2", thread_ts=root.ts)
    await until(lambda: _in(bridge, thread.id, "notes 2"))
    assert not thread.thread.archived  # posting unarchived it
    await bridge.discord.update_thread(thread.id, archived=True, locked=True)
    bridge.slack.user_says(user="carol", channel="general", text="notes 3", thread_ts=root.ts)
    moved = await until(lambda: _in(bridge, "general", "notes 3"))
    assert moved["content"].startswith("> 🧵 in the thread “weekly sync”") and moved["author"]["username"] == "carol"
    assert _in(bridge, thread.id, "notes 3") is None


@pytest.fixture
async def restartable(chat: Chat, redis_url: str) -> AsyncIterator[tuple[Bridge, Callable[[], Awaitable[None]]]]:
    """A bridge whose worker (and the Discord adapter's memory) can be restarted mid-test."""
    rt = Runtime(redis_url, chat.ctx.redis, chat, None)
    running = Running()
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    def start() -> None:
        worker = Worker(chat=chat, redis_url=redis_url, destinations=running.destinations, backoff_base_s=0.05)
        tasks.append(asyncio.create_task(worker.run(stop)))

    async def restart() -> None:
        nonlocal stop
        stop.set()
        await asyncio.wait_for(tasks[-1], 15)
        stop = asyncio.Event()
        destination = running.destinations["discord"]
        destination.threads = Threads(client=destination.client, chat=destination.chat)  # forgets all
        start()

    try:
        await start_discord(rt, Config(), running, sandbox=True)
        await start_slack(rt, Config(), running, sandbox=True)
        start()
        yield Bridge(chat, running, running.emulators["discord"], running.emulators["slack"]), restart
    finally:
        stop.set()
        if tasks:
            await asyncio.wait_for(tasks[-1], 15)
        for close in running.closers:
            await close()


async def test_thread_maps_survive_a_worker_restart(
    restartable: tuple[Bridge, Callable[[], Awaitable[None]]],
) -> None:
    bridge, restart = restartable
    root = bridge.slack.user_says(user="alice", channel="general", text="restart me")
    root_copy = await until(lambda: _in(bridge, "general", "restart me"))
    reply = bridge.slack.user_says(user="bob", channel="general", text="before", thread_ts=root.ts)
    thread = await until(lambda: bridge.discord.thread_of(root_copy["id"]))
    await until(lambda: _in(bridge, thread.id, "before"))
    await restart()  # a new worker; the adapter remembers nothing in memory: everything comes from Redis
    bridge.slack.user_edits(channel="general", ts=reply.ts, text="before, edited")
    bridge.slack.user_says(user="carol", channel="general", text="after", thread_ts=root.ts)
    await until(lambda: _in(bridge, thread.id, "after") and _in(bridge, thread.id, "before, edited"))
    assert [m["content"] for m in bridge.discord.messages(thread.id)] == ["before, edited", "after"]
    # and a Discord reply in that thread after the restart still finds its Slack thread
    await bridge.discord.say("alice", thread.id, "from discord after")
    answer = await until(lambda: _slack(bridge, "general", "from discord after"))
    assert answer.thread_ts == root.ts


async def test_order_inside_a_thread_is_kept_with_a_throttled_destination(bridge: Bridge) -> None:
    root = bridge.slack.user_says(user="alice", channel="general", text="count with me")
    root_copy = await until(lambda: _in(bridge, "general", "count with me"))
    bridge.discord.rate_limit("POST", r"/webhooks/\d+/[^/]+", retry_after=0.05, times=6)
    for n in range(12):
        bridge.slack.user_says(user="bob", channel="general", text=f"n{n:02d}", thread_ts=root.ts)
    thread = await until(lambda: bridge.discord.thread_of(root_copy["id"]))
    await until(lambda: len(bridge.discord.messages(thread.id)) == 12, timeout=30)
    assert [m["content"] for m in bridge.discord.messages(thread.id)] == [f"n{n:02d}" for n in range(12)]
    assert sum(1 for r in bridge.discord.requests if r.status == 429) >= 6


async def test_a_thread_of_200_replies(bridge: Bridge) -> None:
    speed_up_limits(bridge, 20)  # 200 posts into one Slack thread: 200 s at Slack's 1/s per channel
    said = await bridge.discord.say("alice", "general", "big thread")
    root_copy = await until(lambda: _slack(bridge, "general", "big thread"))
    thread = await bridge.discord.start_thread("alice", "general", "big", message_id=said["id"])
    for n in range(200):
        await bridge.discord.say("bob" if n % 2 else "carol", thread.id, f"reply {n:03d}")
    await until(lambda: len(bridge.slack.thread("general", root_copy.ts)) == 201, timeout=90)
    texts = [m.text for m in bridge.slack.thread("general", root_copy.ts)[1:]]
    assert texts == [f"reply {n:03d}" for n in range(200)]
    page = await bridge.chat.commands.execute(bridge_cli(), f"thread {await _core_id(bridge, said['id'])} 200")
    assert page.data["total"] == 200 and len(page.data["replies"]) == 200


async def _core_id(bridge: Bridge, discord_id: str) -> str:
    found = await bridge.chat.thread_root_of(bridge.dref("general"), discord_id)
    assert found is not None
    return found


async def test_a_deleted_discord_thread_is_reported(bridge: Bridge, caplog: pytest.LogCaptureFixture) -> None:
    thread = await bridge.discord.start_thread("carol", "general", "short lived")
    await bridge.discord.say("bob", thread.id, "soon gone")
    await until(lambda: _slack(bridge, "general", "soon gone"))
    with caplog.at_level("WARNING", logger="bridge.drops"):
        await bridge.discord.delete_thread(thread.id)
        await until(lambda: any("thread_deleted" in r.getMessage() for r in caplog.records))
    line = next(r.getMessage() for r in caplog.records if "thread_deleted" in r.getMessage())
    assert thread.id in line and "its mirrored copies stay" in line
