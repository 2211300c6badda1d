"""Mirrored rooms end to end, in one process: the real discord.py and slack-bolt adapters against
the local emulators, a real redis-server + RediSearch, the fan-out worker. Nothing is mocked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

import pytest
from e2e_kit import Bridge, running_bridge
from generations import Generation
from waiting import until

from bridge.app import Running, start_discord, start_slack
from bridge.config import Config
from bridge.core.chat import Chat
from bridge.core.ports import Invocation
from bridge.mirror.worker import Worker
from bridge.runtime import Runtime
from bridge.store.connection import connect

T = TypeVar("T")


@pytest.fixture
async def bridge(chat: Chat, redis_url: str) -> AsyncIterator[Bridge]:
    async with running_bridge(chat, redis_url) as b:
        yield b


async def test_discord_to_slack_as_the_sender_with_formatting(bridge: Bridge) -> None:
    await bridge.discord.say("alice", "general", "hello **team**, see <https://example.com>")
    msg = await until(lambda: next((m for m in bridge.slack.history("general") if "hello" in m.text), None))
    assert msg.text.startswith("hello *team*")
    assert msg.username and "Alice" in msg.username
    assert bridge.discord_texts("general") == ["hello **team**, see <https://example.com>"]  # no echo back


async def test_slack_to_discord_through_the_webhook(bridge: Bridge) -> None:
    bridge.slack.user_says(user="bob", channel="general", text="ship it _today_ &amp; <!channel>")
    msg = await until(lambda: next((m for m in bridge.discord.messages("general") if "ship" in m["content"]), None))
    assert msg.get("webhook_id"), "mirrored messages are posted through the channel webhook"
    assert "*today*" in msg["content"] and "& " in msg["content"]
    assert "@everyone" not in msg["content"] and "<!channel>" not in msg["content"]
    assert len(bridge.slack_texts("general")) == 1  # no echo back to Slack


async def test_fan_out_to_every_linked_channel_except_the_origin(bridge: Bridge) -> None:
    for ref in (bridge.dref("random"), bridge.sref("random"), bridge.sref("cricket")):
        await bridge.chat.channels.link("general", ref)
    await bridge.discord.say("alice", "general", "one message, four rooms")
    for channel in ("general", "random", "cricket"):
        await until(lambda c=channel: "one message, four rooms" in bridge.slack_texts(c))  # type: ignore[misc]
    await until(lambda: "one message, four rooms" in bridge.discord_texts("random"))
    assert bridge.discord_texts("general") == ["one message, four rooms"]


async def test_edit_delete_and_reply_follow_both_ways(bridge: Bridge) -> None:
    original = await bridge.discord.say("alice", "general", "first version")
    mirrored = await until(lambda: next((m for m in bridge.slack.history("general") if "first" in m.text), None))
    await bridge.discord.edit("general", original["id"], "second version")
    await until(lambda: any("second version" in m.text for m in bridge.slack.history("general")))
    reply = bridge.slack.user_says(user="bob", channel="general", text="replying in thread", thread_ts=mirrored.ts)
    # a Slack thread reply starts a Discord thread on the original, named from it, and goes there
    thread = await until(lambda: bridge.discord.thread_of(original["id"]))
    answer = await until(
        lambda: next((m for m in bridge.discord.messages(thread.id) if "replying in thread" in m["content"]), None)
    )
    assert thread.name == "second version" and answer["author"]["username"] == "bob"
    assert answer["content"] == "replying in thread" and answer["channel_id"] == thread.id
    bridge.slack.user_deletes(channel="general", ts=reply.ts)
    await until(lambda: not bridge.discord.messages(thread.id))
    await bridge.discord.delete("general", original["id"])
    await until(lambda: not any("version" in t for t in bridge.slack_texts("general")))


async def test_order_is_kept_and_a_throttled_destination_catches_up(bridge: Bridge) -> None:
    bridge.discord.rate_limit("POST", r"/webhooks/\d+/[^/]+$", retry_after=0.5, times=3)
    for i in range(12):
        bridge.slack.user_says(user="bob", channel="general", text=f"burst {i}")
    await until(lambda: len([t for t in bridge.discord_texts("general") if t.startswith("burst")]) == 12, timeout=20)
    assert [t for t in bridge.discord_texts("general") if t.startswith("burst")] == [f"burst {i}" for i in range(12)]


async def test_commands_posted_from_the_core_reach_both_sides(bridge: Bridge) -> None:
    await bridge.chat.commands.execute(Invocation(platform="cli"), "register cli-user")
    reply = await bridge.chat.commands.execute(
        Invocation(platform="cli", username="cli-user"), "post general from the CLI"
    )
    assert reply.ok
    await until(lambda: "from the CLI" in bridge.slack_texts("general"))
    await until(lambda: "from the CLI" in bridge.discord_texts("general"))


async def test_redis_restart_mid_stream_loses_nothing(tmp_path: Path, generation: Generation) -> None:
    """Redis is SIGKILLed between two bursts and restarted from its AOF on the same port: every
    message reaches the other side exactly once, in order."""
    server = generation.server(tmp_path / "redis", appendfsync="always")
    server.start()
    redis = connect(server.url)
    chat = await Chat.open(redis)
    rt = Runtime(server.url, redis, chat, None)
    running = Running()
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    try:
        await start_discord(rt, Config(), running, sandbox=True)
        await start_slack(rt, Config(), running, sandbox=True)
        worker = Worker(chat=chat, redis_url=server.url, destinations=running.destinations, backoff_base_s=0.05)
        task = asyncio.create_task(worker.run(stop))
        b = Bridge(chat, running, running.emulators["discord"], running.emulators["slack"])
        for i in range(3):
            await b.discord.say("alice", "general", f"before {i}")
        await until(lambda: sum(t.startswith("before") for t in b.slack_texts("general")) == 3)
        port = server.port
        server.kill()
        await b.discord.say("alice", "general", "during the outage")  # Discord never redelivers this
        await asyncio.sleep(3.0)  # the outage itself: Redis stays down this long (not a wait for a condition)
        server = generation.server(tmp_path / "redis", port=port, appendfsync="always")
        server.start()
        for i in range(3):
            await b.discord.say("alice", "general", f"after {i}")
        expected = [f"before {i}" for i in range(3)] + ["during the outage"] + [f"after {i}" for i in range(3)]
        await until(lambda: len(b.slack_texts("general")) >= 7, timeout=30)
        assert b.slack_texts("general") == expected
    finally:
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 15)
        for close in running.closers:
            await close()
        await redis.aclose()
        server.stop()


async def test_notify_from_a_slash_command_arrives_as_a_dm_on_each_linked_account(
    bridge: Bridge, redis_url: str
) -> None:
    """alice subscribes with /chat on Discord and links her Slack account; bob posts on Slack; the
    notifier's blocking XREAD wakes and DMs alice on both platforms, never bob."""
    from bridge.app import notification_sender
    from bridge.core.notify import Notifier
    from bridge.store.connection import blocking_client

    sub = await bridge.discord.slash("alice", "general", "chat notify", {"action": "add", "channel": "general"})
    assert "DM" in (await bridge.discord.wait_for_reply(sub)).get("content", "")
    code_run = await bridge.discord.slash("alice", "general", "chat link-account", {})
    code = (await bridge.discord.wait_for_reply(code_run))["content"].split("`")[1]
    run = bridge.slack.slash_command(user="alice", channel="general", text=f"link-account {code}")
    await until(lambda: run.responses)
    blocking = blocking_client(redis_url)
    stop = asyncio.Event()
    notifier = Notifier(bridge.chat.ctx.redis, blocking, notification_sender(bridge.chat, bridge.running), block_ms=200)
    task = asyncio.create_task(notifier.run(stop))
    try:
        async with asyncio.timeout(5):
            while not await bridge.chat.ctx.redis.hexists("cb:notifier:cursor", "general"):
                await asyncio.sleep(0.02)
        bridge.slack.user_says(user="bob", channel="general", text="deploy is done")
        await until(lambda: any("deploy is done" in m["content"] for m in bridge.discord.dm_messages("alice")))
        await until(lambda: any("deploy is done" in m.text for m in bridge.slack.dms_to("alice")))
        assert not bridge.slack.dms_to("bob")
    finally:
        stop.set()
        await task
        await blocking.aclose()


async def test_a_deleted_slack_thread_root_tombstone_deletes_the_discord_copy(bridge: Bridge) -> None:
    """Slack does not send message_deleted for a thread root with replies: it turns the root into a
    tombstone (message_changed, subtype tombstone). The bridge treats that as a delete."""
    root = bridge.slack.user_says(user="bob", channel="general", text="root of a thread")
    await until(lambda: "root of a thread" in bridge.discord_texts("general"))
    general = bridge.slack.workspace.channel("general")
    tombstone = {"type": "message", "subtype": "tombstone", "hidden": True, "text": "This message was deleted.",
                 "user": "USLACKBOT", "ts": root.ts, "thread_ts": root.ts, "reply_count": 1}  # fmt: skip
    previous = {"type": "message", "user": root.user, "text": root.text, "ts": root.ts, "thread_ts": root.ts}
    bridge.slack.emit(
        {"type": "message", "subtype": "message_changed", "channel": general.id, "hidden": True,
         "message": tombstone, "previous_message": previous, "ts": root.ts, "event_ts": root.ts},
        channel=general,
    )  # fmt: skip
    await until(lambda: "root of a thread" not in bridge.discord_texts("general"))
    assert "This message was deleted." not in " ".join(bridge.discord_texts("general"))


async def test_a_discord_reply_to_a_slack_thread_reply_lands_in_the_roots_thread(bridge: Bridge) -> None:
    root = bridge.slack.user_says(user="bob", channel="general", text="thread root")
    reply = bridge.slack.user_says(user="carol", channel="general", text="first reply", thread_ts=root.ts)
    root_copy = await until(
        lambda: next((m for m in bridge.discord.messages("general") if m["content"] == "thread root"), None)
    )
    thread = await until(lambda: bridge.discord.thread_of(root_copy["id"]))
    copy = await until(
        lambda: next((m for m in bridge.discord.messages(thread.id) if "first reply" in m["content"]), None)
    )
    # a Discord reply (message_reference) to the copy of a reply, inside the thread
    await bridge.discord.say("alice", thread.id, "answer from discord", reply_to=copy["id"])
    answer = await until(lambda: next((m for m in bridge.slack.history("general") if "answer from" in m.text), None))
    assert answer.thread_ts == root.ts != reply.ts
    assert answer.username == "Alice A."


async def test_a_moderator_deleting_one_part_of_a_split_copy_deletes_every_part(bridge: Bridge) -> None:
    text = " ".join(f"w{i:04d}" for i in range(900))  # ~5,400 characters: three Discord parts
    bridge.slack.user_says(user="bob", channel="general", text=text)
    parts = await until(lambda: (lambda ms: ms if len(ms) >= 3 else None)(bridge.discord.messages("general")))
    await bridge.discord.delete("general", parts[1]["id"])
    await until(lambda: not bridge.discord.messages("general"))
    assert await bridge.chat.ctx.redis.keys("message:*") == []  # the core message is gone too
