"""``link <channel> --backfill N`` end to end on both platforms: the real slack-bolt and discord.py
adapters against the emulators, the backfill runner of ``chatbridge run``, a real Redis. History is
paged (several pages of channel history and of a thread), threads and replies keep their links,
authors are the people who wrote them, a repeat and a message that also arrives live write nothing
twice, nothing is mirrored, search finds what was imported, and the person who asked is told."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from e2e_kit import Bridge, running_bridge
from waiting import until, until_async

from bridge.app import backfill_teller
from bridge.core.backfill_jobs import BackfillRunner
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, Invocation
from bridge.emulators.slack.limits import Injected
from bridge.store import keys


@dataclass
class Setup:
    bridge: Bridge
    runner: BackfillRunner

    @property
    def chat(self) -> Chat:
        return self.bridge.chat

    async def state(self, key: str) -> dict[str, str]:
        found: dict[str, str] = await self.chat.ctx.redis.hgetall(keys.backfill_state(key))
        return found

    async def finished(self, count: int) -> None:
        await until(lambda: self.runner.finished >= count, timeout=30, what=f"{count} backfill(s) finished")


@pytest.fixture
async def setup(chat: Chat, redis_url: str) -> AsyncIterator[Setup]:
    async with running_bridge(chat, redis_url) as bridge:
        runner = BackfillRunner(
            chat, bridge.running.history, tell=backfill_teller(bridge.running), poll_s=0.05, tell_every_s=0.0
        )
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        try:
            yield Setup(bridge, runner)
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)


async def slack_answer(b: Bridge, user: str, channel: str, text: str) -> str:
    run = b.slack.slash_command(user=user, channel=channel, text=text)
    await until(lambda: run.responses, what=f"an answer to {text!r}")
    return "\n".join(str(r.get("text", "")) for r in run.responses)


@contextlib.contextmanager
def bot_away_cm(b: Bridge, channel: str) -> Iterator[None]:
    ws = b.slack.workspace
    members = ws.channel(channel).members
    members.discard(ws.bot_user_id)
    try:
        yield
    finally:
        members.add(ws.bot_user_id)


def bot_away(b: Bridge, channel: str) -> contextlib.ExitStack:
    """Until ``.close()``: the bot is not in the Slack channel (events for it are not sent to the app)."""
    stack = contextlib.ExitStack()
    stack.enter_context(bot_away_cm(b, channel))
    return stack


async def discord_answer(b: Bridge, user: str, channel: str, command: str, options: dict[str, Any]) -> str:
    reply = await b.discord.wait_for_reply(await b.discord.slash(user, channel, f"chat {command}", options), 10)
    return str(reply["content"])


async def core_messages(chat: Chat, channel: str) -> list[Any]:
    return [m for m in await chat.messages.history(channel, 1000) if m.kind == "message"]


async def test_slack_backfill_pages_threads_authors_no_mirror_repeat_and_live(setup: Setup) -> None:
    b, chat = setup.bridge, setup.chat
    source = b.running.history["slack"]
    source.page = 20  # several pages of channel history and of the thread, with few messages
    slack = b.slack
    said: list[Any] = []
    away = bot_away(b, "random")  # said before the bot joined the channel: Slack sent the app no events
    for i in range(45):
        said.append(slack.user_says(user="bob" if i % 3 else "carol", channel="random", text=f"old message {i}"))
    root = said[10]
    replies = [
        slack.user_says(user="carol", channel="random", text=f"answer {j}", thread_ts=root.ts) for j in range(25)
    ]
    shout = slack.user_says(user="bob", channel="random", text="also in channel", thread_ts=root.ts, broadcast=True)
    away.close()
    assert "Created" in await slack_answer(b, "alice", "random", "create random")
    await chat.channels.link("random", b.dref("random"))  # the room's Discord side: must get no flood
    # (the 429 goes to the first conversations.history call: the backfill's, or the link's own read
    # of where the channel's history stands, which the Slack catch-up records at link time)
    slack.limiter.inject("conversations.history", Injected("ratelimited", count=1, status=429, retry_after=3))

    answer = await slack_answer(b, "alice", "random", "link random --backfill 40")
    assert "Linked" in answer and "Importing its last 40 messages" in answer and "not mirrored" in answer
    # a message that arrives live while the backfill waits out the 429 is recorded once
    await until(lambda: source.waited_s >= 3, what="the 429 being waited out")
    live = slack.user_says(user="bob", channel="random", text="said live during the backfill")
    await until_async(lambda: _texts(chat, "random", "said live during the backfill"), what="the live message recorded")
    await setup.finished(1)
    key = b.sref("random").key()
    state = await setup.state(key)
    assert state["status"] == "done", state
    # the 40 newest channel items when the backfill listed them: the broadcast, old `first`..44, and the
    # live one if it was said by then (first 7) — not if the link's read took the 429 and the backfill
    # listed the channel before it (first 6; seen on a loaded CI machine twice)
    texts = [m.text for m in await core_messages(chat, "random")]
    assert texts.count("said live during the backfill") == 1
    olds = [t for t in texts if t.startswith("old message")]
    first = int(olds[0].rsplit(" ", 1)[1])
    assert first in (6, 7) and olds == [f"old message {i}" for i in range(first, 45)], olds
    ordered = await core_messages(chat, "random")
    imported = [m for m in ordered if m.text != "said live during the backfill"]  # recorded first, live
    assert [m.ts for m in imported] == sorted(m.ts for m in imported)  # oldest first, with Slack's times
    assert imported[0].ts == int(said[first].ts.replace(".", "")) // 1000
    bob = await chat.find_username("slack", slack.workspace.team_id, slack.workspace.user("bob").id)
    carol = await chat.find_username("slack", slack.workspace.team_id, slack.workspace.user("carol").id)
    by_text = {m.text: m for m in ordered}
    assert by_text["old message 11"].username == bob and by_text["old message 12"].username == carol
    root_core = by_text["old message 10"].id
    answers = [m for m in ordered if m.text.startswith("answer ")]
    assert [m.text for m in answers] == [f"answer {j}" for j in range(25)]  # two pages of replies, in order
    assert all(m.thread == root_core for m in answers)
    assert by_text["also in channel"].thread == root_core and texts.count("also in channel") == 1
    assert int(state["recorded"]) == len(ordered) - 1  # all but the live one
    assert int(state["duplicates"]) == (1 if first == 7 else 0)  # the live one, when it was listed
    del replies, shout, live
    # never mirrored: the room's Discord side gets the live messages only (a room is delivered in
    # order, so a flood logged by the backfill would have arrived before the later live message)
    slack.user_says(user="bob", channel="random", text="said live after the backfill")
    await until(lambda: "said live after the backfill" in b.discord_texts("random"))
    assert b.discord_texts("random") == ["said live during the backfill", "said live after the backfill"]
    # search finds backfilled messages (newest first by their original time)
    found = await chat.finder.messages("answer in:random")
    assert found.total == 25 and found.hits[0].text == "answer 24"
    # the person who asked was told (a DM on Slack), start and end
    # (DMs are paced like every Slack post, 1 per second per channel: the last one may still be on its way)
    await until(lambda: any("done" in m.text for m in slack.dms_to("alice")), what="the closing DM")
    dms = [m.text for m in slack.dms_to("alice")]
    assert any("reading its last 40" in t for t in dms) and any("done" in t for t in dms)

    # a repeat is a no-op: every message is known by its Slack ts; the bridge's own copy is left out
    await b.discord.say("alice", "random", "from discord, mirrored to slack")
    await until(lambda: "from discord, mirrored to slack" in b.slack_texts("random"))
    count = len(await core_messages(chat, "random"))
    assert "Already linked" in await slack_answer(b, "alice", "random", "link random --backfill 80")
    await setup.finished(2)
    again = await setup.state(key)
    assert again["status"] == "done" and again["recorded"] == str(first), again  # old 0..first-1
    assert len(await core_messages(chat, "random")) == count + first
    await slack_answer(b, "alice", "random", "link random --backfill 80")
    await setup.finished(3)
    third = await setup.state(key)
    assert (third["status"], third["recorded"], third["refused"]) == ("done", "0", "0"), third
    assert len(await core_messages(chat, "random")) == count + first
    # (where history lists them, said seconds before the live ones, is tests/core/test_history_order.py's)
    texts = [m.text for m in await core_messages(chat, "random")]
    assert all(texts.count(f"old message {i}") == 1 for i in range(7))


async def _texts(chat: Chat, channel: str, text: str) -> bool:
    return any(m.text == text for m in await core_messages(chat, channel))


async def test_discord_backfill_pages_replies_threads_authors_no_mirror_and_repeat(setup: Setup) -> None:
    b, chat = setup.bridge, setup.chat
    discord = b.discord
    inbound = b.running.adapters["discord"].inbound
    start = inbound.handled
    said = [await discord.say("bob" if i % 2 else "carol", "random", f"old post {i}") for i in range(130)]
    await discord.say("alice", "random", "a reply to post 40", reply_to=said[40]["id"])
    thread = await discord.start_thread("carol", "random", "about post 50", message_id=said[50]["id"])
    for j in range(12):
        await discord.say("bob", thread.id, f"in the thread {j}")
    closed = await discord.start_thread("bob", "random", "about post 60", message_id=said[60]["id"])
    await discord.say("carol", closed.id, "said before it was archived")
    await discord.update_thread(closed.id, archived=True)
    await until(lambda: inbound.handled >= start + 144, timeout=30, what="every Discord event handled (ignored)")
    await chat.channels.create("random")
    await chat.channels.link("random", b.sref("random"))  # the room's Slack side: must get no flood

    answer = await discord_answer(b, "alice", "random", "link", {"channel": "random", "backfill": 120})
    assert "Linked" in answer and "Importing its last 120 messages" in answer, answer
    await setup.finished(1)
    key = b.dref("random").key()
    state = await setup.state(key)
    assert (state["status"], state["recorded"], state["duplicates"]) == ("done", "133", "0"), state
    ordered = await core_messages(chat, "random")
    texts = [m.text for m in ordered]
    # the 120 newest channel messages (two pages of 100): posts 11..129 and the reply, then the thread
    assert [t for t in texts if t.startswith("old post")] == [f"old post {i}" for i in range(11, 130)]
    assert [m.ts for m in ordered] == sorted(m.ts for m in ordered)
    by_text = {m.text: m for m in ordered}
    guild = discord.guild_id
    assert by_text["old post 11"].username == await chat.find_username("discord", guild, discord.user("bob").id)
    assert by_text["old post 12"].username == await chat.find_username("discord", guild, discord.user("carol").id)
    assert by_text["a reply to post 40"].reply_to == by_text["old post 40"].id
    in_thread = [m for m in ordered if m.text.startswith("in the thread")]
    assert [m.text for m in in_thread] == [f"in the thread {j}" for j in range(12)]
    assert all(m.thread == by_text["old post 50"].id for m in in_thread)
    assert by_text["said before it was archived"].thread == by_text["old post 60"].id  # archived threads too
    found = await chat.finder.messages("thread in:random")
    assert found.total == 12 and found.hits[0].text == "in the thread 11"
    assert any("done" in m["content"] for m in discord.dm_messages("alice"))
    # nothing mirrored to the room's Slack side; a live message after it is
    await discord.say("bob", "random", "live after the backfill")
    await until(lambda: "live after the backfill" in b.slack_texts("random"))
    assert [t for t in b.slack_texts("random") if "post" in t or "thread" in t] == []

    # a repeat writes nothing (the live message is known too)
    await discord_answer(b, "alice", "random", "link", {"channel": "random", "backfill": 120})
    await setup.finished(2)
    again = await setup.state(key)
    assert (again["status"], again["recorded"]) == ("done", "0"), again
    assert len(await core_messages(chat, "random")) == len(ordered) + 1


async def test_a_bad_count_from_either_platform_is_refused_and_writes_nothing(setup: Setup) -> None:
    """Every bad count is tested in tests/core/test_backfill_jobs.py; here the two slash commands."""
    b, chat = setup.bridge, setup.chat
    assert "Created" in await slack_answer(b, "alice", "random", "create random")
    answer = await slack_answer(b, "alice", "random", "link random --backfill 0")
    assert "between 1 and 10000" in answer, answer
    assert await chat.channels.route(b.sref("random")) is None  # not linked either
    assert not await chat.ctx.redis.exists(keys.backfill_state(b.sref("random").key()))
    assert await chat.ctx.redis.xlen(keys.BACKFILL_JOBS) == 0
    discord_reply = await discord_answer(b, "alice", "random", "link", {"channel": "random", "backfill": 0})
    assert "between 1 and 10000" in discord_reply, discord_reply
    assert await chat.channels.route(b.dref("random")) is None


async def test_cli_exec_queues_and_follows_and_a_second_request_waits(setup: Setup) -> None:
    b, chat = setup.bridge, setup.chat
    with bot_away_cm(b, "cricket"):
        for i in range(5):
            b.slack.user_says(user="bob", channel="cricket", text=f"cricket talk {i}")
    await chat.channels.create("cricket")
    admin = Invocation(platform="cli", is_admin=True)
    target = b.sref("cricket").key()
    reply = await chat.commands.execute(admin, f"link cricket {target} --backfill 3")
    assert reply.ok and reply.data["backfill"]["runner_up"] is True, reply
    lines: list[str] = []
    from bridge.core.backfill_jobs import Ticket, follow

    ticket = Ticket(**reply.data["backfill"])
    final = await asyncio.wait_for(follow(chat.ctx.redis, ticket, lines.append, poll_s=0.02), 30)
    assert final["status"] == "done" and final["recorded"] == "3", final
    assert lines[-1].startswith(f"Backfill of {target} done: 3 messages recorded")
    assert [m.text for m in await core_messages(chat, "cricket")] == [f"cricket talk {i}" for i in (2, 3, 4)]


async def backfill_as_cli(chat: Chat, channel: str, target: str, count: int) -> dict[str, str]:
    """``link <channel> <target> --backfill N`` from the CLI, followed until it ends."""
    from bridge.core.backfill_jobs import Ticket, follow

    reply = await chat.commands.execute(
        Invocation(platform="cli", is_admin=True), f"link {channel} {target} --backfill {count}"
    )
    assert reply.ok, reply.text
    return dict(await asyncio.wait_for(follow(chat.ctx.redis, Ticket(**reply.data["backfill"]), lambda _: None), 30))


@pytest.mark.parametrize("media", [False, True])
async def test_discord_forum_backfill_reads_active_and_archived_posts_as_live_posts_are_recorded(
    setup: Setup, media: bool
) -> None:
    b, chat = setup.bridge, setup.chat
    discord = b.discord
    inbound = b.running.adapters["discord"].inbound
    start = inbound.handled
    forum = await discord.create_forum("help", media=media)
    oldest, _ = await discord.forum_post("alice", "help", "Too old", "not among the newest 3 posts")
    vpn, _ = await discord.forum_post("carol", "help", "VPN broken", "since this morning")
    for j in range(3):
        await discord.say("bob" if j % 2 else "alice", vpn.id, f"vpn answer {j}")
    printer, _ = await discord.forum_post("bob", "help", "Printer jam", "third floor")
    await discord.say("carol", printer.id, "fixed it")
    await discord.update_thread(printer.id, archived=True)  # archived: List Public Archived Threads on the forum
    gone, first = await discord.forum_post("carol", "help", "Lost starter", "deleted soon")
    await discord.say("alice", gone.id, "the post stays")
    await discord.delete(gone.id, first["id"])  # the post's first message deleted: the thread stays
    # every event handled (ignored: not linked yet), so none is taken in live once the link stands
    await until(lambda: inbound.handled >= start + 10, what="every Discord event handled")
    await chat.channels.create("helpdesk")
    target = f"discord:{discord.guild_id}:{forum.id}"
    # Discord rate limits: a 429 on the archived list and on a post's messages, waited out by discord.py
    archived_429 = discord.rate_limit("GET", rf"/channels/{forum.id}/threads/archived/public", retry_after=0.3)
    post_429 = discord.rate_limit("GET", rf"/channels/{vpn.id}/messages", retry_after=0.3)

    final = await backfill_as_cli(chat, "helpdesk", target, 3)
    assert archived_429.hits == 1 and post_429.hits == 1
    assert (final["status"], final["recorded"], final.get("left_out", "")) == ("done", "8", ""), final
    ordered = await core_messages(chat, "helpdesk")
    texts = [m.text for m in ordered]
    assert not any("Too old" in t or "not among" in t for t in texts)  # N counts posts: the 3 newest
    assert [m.ts for m in ordered] == sorted(m.ts for m in ordered)
    by_text = {m.text: m for m in ordered}
    guild = discord.guild_id
    carol = await chat.find_username("discord", guild, discord.user("carol").id)
    root = by_text["🧵 **VPN broken**\nsince this morning"]  # the root a live forum post gets
    assert root.username == carol and root.replies == 3
    vpn_answers = [m for m in ordered if m.text.startswith("vpn answer")]
    assert [m.text for m in vpn_answers] == [f"vpn answer {j}" for j in range(3)]
    assert all(m.thread == root.id for m in vpn_answers)
    assert by_text["fixed it"].thread == by_text["🧵 **Printer jam**\nthird floor"].id  # the archived post
    lost = by_text["🧵 **Lost starter**"]  # no first message: the root the live path makes, as its creator
    assert lost.username == carol and by_text["the post stays"].thread == lost.id
    # a reply arriving live afterwards joins the same core thread (the mapping the live path uses)
    await discord.say("alice", vpn.id, "live answer")
    live = await until_async(lambda: _message(chat, "helpdesk", "live answer"), what="the live reply recorded")
    assert live.thread == root.id
    await discord.say("bob", gone.id, "live in the lost one")
    live = await until_async(lambda: _message(chat, "helpdesk", "live in the lost one"), what="the live reply")
    assert live.thread == lost.id
    # a repeat writes nothing
    again = await backfill_as_cli(chat, "helpdesk", target, 3)
    assert (again["status"], again["recorded"]) == ("done", "0"), again
    del oldest


async def _message(chat: Chat, channel: str, text: str) -> Any:
    return next((m for m in await core_messages(chat, channel) if m.text == text), None)


async def test_discord_private_archived_threads_are_read_or_their_absence_is_told(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    from bridge.emulators.discord import permissions as perms
    from bridge.emulators.discord.permissions import MANAGE_THREADS

    b, chat = setup.bridge, setup.chat
    discord = b.discord
    bot = discord.world.bot.id
    inbound = b.running.adapters["discord"].inbound
    start = inbound.handled
    for name in ("plans", "secrets"):
        await discord.create_channel(name)
        await discord.say("alice", name, f"hello {name}")
    await until(lambda: b.running.adapters["discord"].inbound.client.get_channel(int(discord.channel("secrets").id)))
    # #plans: the bot may list private archived threads (Manage Threads, as its invite asks)
    private = await discord.start_thread("carol", "plans", "offsite", private=True)
    await discord.say("carol", private.id, "budget is 500")
    await discord.say("bob", private.id, "book the train")
    await discord.update_thread(private.id, archived=True)
    await until(lambda: inbound.handled >= start + 4, what="every Discord event handled (not linked yet)")
    await chat.channels.create("plans")
    final = await backfill_as_cli(chat, "plans", f"discord:{discord.guild_id}:{discord.channel('plans').id}", 10)
    assert (final["status"], final["recorded"], final.get("left_out", "")) == ("done", "4", ""), final
    ordered = await core_messages(chat, "plans")
    root = next(m for m in ordered if m.text == "🧵 **offsite**")  # started from nothing: the live root
    assert root.username == await chat.find_username("discord", discord.guild_id, discord.user("carol").id)
    assert [m.text for m in ordered if m.thread == root.id and m.id != root.id] == ["budget is 500", "book the train"]

    # #secrets: no Manage Threads there; the private thread the bot is in is read, the other is told
    secrets = discord.channel("secrets")
    perms.overwrite(secrets, bot, perms.MEMBER, deny=MANAGE_THREADS)
    joined = await discord.start_thread("alice", "secrets", "with the bot", private=True)
    await discord.add_to_thread(joined.id, "bot", by="alice")
    await discord.say("alice", joined.id, "the bot may read this")
    hidden = await discord.start_thread("alice", "secrets", "without the bot", private=True)
    await discord.say("alice", hidden.id, "the bot may not list this")  # nor see: Discord sends it nothing
    for thread in (joined, hidden):
        await discord.update_thread(thread.id, archived=True)
    await discord.say("alice", "secrets", "after the threads")
    # hello ×2, the plans thread's 2, the joined thread's, "after the threads"
    await until(lambda: inbound.handled >= start + 6, what="every Discord event handled (not linked yet)")
    await chat.channels.create("secrets")
    who = Invocation(platform="discord", user=_discord_user(b, "alice"), is_admin=True, channel=b.dref("secrets"))
    await chat.channels.link("secrets", b.dref("secrets"))
    from bridge.core import backfill_jobs

    await backfill_jobs.request(chat, b.dref("secrets"), 10, who)
    await setup.finished(2)
    final = await setup.state(b.dref("secrets").key())
    # hello, after the threads, the joined thread's root + reply
    assert (final["status"], final["recorded"]) == ("done", "4"), final
    texts = [m.text for m in await core_messages(chat, "secrets")]
    assert "the bot may read this" in texts and "the bot may not list this" not in texts
    assert "private archived threads of #secrets the bot is not a member of" in final["left_out"]
    assert "Manage Threads in #secrets" in final["left_out"]
    closing = await until(lambda: [m["content"] for m in discord.dm_messages("alice") if "done" in m["content"]])
    assert "Not read: private archived threads of #secrets" in closing[-1] and "Manage Threads" in closing[-1]
    assert any(r.levelname == "WARNING" and "Manage Threads in #secrets" in r.getMessage() for r in caplog.records)


def _discord_user(b: Bridge, name: str) -> Any:
    from bridge.core.ports import PlatformUser

    user = b.discord.user(name)
    return PlatformUser("discord", b.discord.guild_id, user.id, name)


async def test_link_typed_in_a_forum_post_links_and_backfills_the_forum(setup: Setup) -> None:
    """A forum takes no messages, so no command is typed there: `/chat link` in one of its posts
    acts on the forum; in a thread of a text channel it is still refused."""
    b, chat = setup.bridge, setup.chat
    discord = b.discord
    inbound = b.running.adapters["discord"].inbound
    start = inbound.handled
    forum = await discord.create_forum("support")
    post, _ = await discord.forum_post("carol", "support", "Where is the wiki", "I cannot find it")
    await discord.say("bob", post.id, "see the pinned post")
    await until(lambda: inbound.handled >= start + 2, what="every Discord event handled (not linked yet)")
    await chat.channels.create("support")
    answer = await discord_answer(b, "alice", post.id, "link", {"channel": "support", "backfill": 10})
    ref = ChannelRef("discord", discord.guild_id, forum.id)
    assert f"Linked {ref.key()}" in answer and "Importing its last 10 messages" in answer, answer
    assert await chat.channels.route(ref) == "support"
    await setup.finished(1)
    final = await setup.state(ref.key())
    assert (final["status"], final["recorded"]) == ("done", "2"), final
    texts = [m.text for m in await core_messages(chat, "support")]
    assert texts == ["🧵 **Where is the wiki**\nI cannot find it", "see the pinned post"]
    thread = await discord.start_thread("bob", "random", "side talk")
    refused = await discord_answer(b, "alice", thread.id, "link", {"channel": "support"})
    assert "This is a thread" in refused, refused
    assert await chat.channels.route(ChannelRef("discord", discord.guild_id, thread.id)) is None
