"""The real discord.py against the emulator's threads and forums (discord-api-docs topics/threads.mdx,
resources/channel.mdx, resources/webhook.mdx)."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from discord_kit import RecordingClient, StartClient

from bridge.emulators.discord import DiscordEmulator
from bridge.emulators.discord import permissions as perms
from bridge.emulators.discord.api_errors import APIError
from bridge.emulators.discord.threads import meta


class ThreadClient(RecordingClient):
    async def on_thread_create(self, thread: discord.Thread) -> None:
        self._record("thread_create", thread)

    async def on_thread_update(self, before: discord.Thread, after: discord.Thread) -> None:
        self._record("thread_update", after)

    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        self._record("thread_delete", payload)

    async def on_socket_event_type(self, event_type: str) -> None:
        self._record("socket", event_type)

    async def on_thread_join(self, thread: discord.Thread) -> None:
        self._record("thread_join", thread)

    async def on_thread_member_join(self, member: discord.ThreadMember) -> None:
        self._record("thread_member_join", member)


@pytest.fixture
async def bot(run_client: StartClient) -> ThreadClient:
    client = ThreadClient()
    await run_client(client, client.ready_event)
    return client


def _events(bot: ThreadClient, kind: str) -> list[Any]:
    return [v for k, v in bot.events if k == kind]


async def test_thread_on_a_message_shares_its_id_and_its_messages_are_in_the_thread(
    bot: ThreadClient, emulator: DiscordEmulator
) -> None:
    root = await emulator.say("alice", "general", "let us discuss")
    channel = bot.get_channel(int(emulator.channel("general").id))
    assert isinstance(channel, discord.TextChannel)
    message = await channel.fetch_message(int(root["id"]))
    thread = await message.create_thread(name="discussion")
    assert thread.id == message.id and thread.parent_id == channel.id
    assert thread.type == discord.ChannelType.public_thread
    await bot.wait_for_events(lambda ev: bool(_events(bot, "thread_create")))
    assert emulator.messages("general")[0]["thread"]["id"] == root["id"]
    assert emulator.messages("general")[0]["flags"] & (1 << 5)
    # a second thread on the same message is refused (160004)
    with pytest.raises(discord.HTTPException) as err:
        await message.create_thread(name="again")
    assert err.value.code == 160004
    said = await emulator.say("bob", root["id"], "in the thread")
    assert said["channel_id"] == root["id"]
    await bot.wait_for_events(lambda ev: any(m.content == "in the thread" for m in _events(bot, "message")))
    got = next(m for m in _events(bot, "message") if m.content == "in the thread")
    assert isinstance(got.channel, discord.Thread) and got.channel.parent_id == channel.id


async def test_webhook_posts_into_a_thread_only_with_thread_id(bot: ThreadClient, emulator: DiscordEmulator) -> None:
    channel = bot.get_channel(int(emulator.channel("general").id))
    assert isinstance(channel, discord.TextChannel)
    hook = await channel.create_webhook(name="bridge")
    thread = await channel.create_thread(name="no starter", type=discord.ChannelType.public_thread)
    await bot.wait_for_events(lambda ev: bool(_events(bot, "thread_create")))
    sent = await hook.send("as alice", username="Alice", thread=thread, wait=True)
    assert sent.channel.id == thread.id
    assert [m["content"] for m in emulator.messages(str(thread.id))] == ["as alice"]
    edited = await hook.edit_message(sent.id, content="edited", thread=thread)
    assert edited.content == "edited"
    with pytest.raises(discord.NotFound):  # without thread_id the message is not found
        await hook.edit_message(sent.id, content="lost")
    other = await bot.get_channel(int(emulator.channel("random").id)).create_thread(  # type: ignore[union-attr]
        name="elsewhere", type=discord.ChannelType.public_thread
    )
    with pytest.raises(discord.NotFound):  # a thread of another channel
        await hook.send("nope", thread=other, wait=True)
    await hook.delete_message(sent.id, thread=thread)
    assert emulator.messages(str(thread.id)) == []


async def test_archived_threads_unarchive_on_post_but_locked_ones_refuse(
    bot: ThreadClient, emulator: DiscordEmulator
) -> None:
    thread_channel = await emulator.start_thread("alice", "general", "quiet")
    await emulator.update_thread(thread_channel.id, archived=True)
    await bot.wait_for_events(lambda ev: any(t.archived for t in _events(bot, "thread_update")))
    thread = await bot.fetch_channel(int(thread_channel.id))  # discord.py drops archived threads from its cache
    assert isinstance(thread, discord.Thread) and thread.archived
    await thread.send("wake up")
    assert not emulator.channel(thread_channel.id).thread.archived  # the post unarchived it
    await bot.wait_for_events(lambda ev: "THREAD_UPDATE" in _events(bot, "socket")[-3:])
    await emulator.update_thread(thread_channel.id, archived=True, locked=True)
    with pytest.raises(discord.HTTPException) as err:
        await thread.send("locked out")
    assert err.value.code == 50083
    # the bot has MANAGE_THREADS: it may unarchive a locked thread, then post
    await thread.edit(archived=False)
    await thread.send("back in")
    assert [m["content"] for m in emulator.messages(thread_channel.id)] == ["wake up", "back in"]
    # a person without MANAGE_THREADS cannot unarchive a locked thread
    await emulator.update_thread(thread_channel.id, archived=True)
    with pytest.raises(Exception, match="Missing Permissions"):
        await emulator.update_thread(thread_channel.id, archived=False, by="bob")


async def test_forum_posts_and_deletes(bot: ThreadClient, emulator: DiscordEmulator) -> None:
    forum_channel = await emulator.create_forum("help")
    created = lambda ev: any(isinstance(c, discord.ForumChannel) for c in _events(bot, "channel_create"))  # noqa: E731
    await bot.wait_for_events(created)
    forum = bot.get_channel(int(forum_channel.id))
    assert isinstance(forum, discord.ForumChannel)
    hook = await forum.create_webhook(name="bridge")
    with pytest.raises(discord.HTTPException) as err:  # 220001: a forum takes posts only in threads
        await hook.send("no title", wait=True)
    assert err.value.code == 220001
    first = await hook.send("how do I", username="Bob", thread_name="Question", wait=True)
    assert first.channel.id == first.id  # the first message of a post has the thread's id
    stored = emulator.channel(str(first.id))
    assert stored.name == "Question" and stored.parent_id == forum_channel.id and stored.type == 11
    thread, message = await emulator.forum_post("carol", "help", "Another", "details here")
    assert message["id"] == thread.id and message["channel_id"] == thread.id
    with pytest.raises(discord.HTTPException) as err:  # nothing is posted in a forum itself
        await bot.http.send_message(forum.id, params=discord.http.handle_message_parameters(content="x"))
    assert err.value.code == 50024
    await emulator.delete_thread(thread.id)
    await bot.wait_for_events(lambda ev: bool(_events(bot, "thread_delete")))
    [deleted] = _events(bot, "thread_delete")
    assert deleted.thread_id == int(thread.id) and deleted.parent_id == int(forum_channel.id)


async def test_guild_create_lists_active_threads_and_list_sync(
    run_client: StartClient, emulator: DiscordEmulator
) -> None:
    active = await emulator.start_thread("alice", "general", "active one")
    archived = await emulator.start_thread("alice", "general", "old one")
    await emulator.update_thread(archived.id, archived=True)
    late = ThreadClient()
    await run_client(late, late.ready_event)
    guild = late.get_guild(int(emulator.guild_id))
    assert guild is not None
    assert [t.id for t in guild.threads] == [int(active.id)]
    event = await emulator.thread_list_sync(["general"])
    assert [t["id"] for t in event["threads"]] == [active.id]
    await late.wait_for_events(lambda ev: "THREAD_LIST_SYNC" in _events(late, "socket"))


async def test_a_private_thread_reaches_the_bot_only_as_a_member_or_a_moderator(
    run_client: StartClient, emulator: DiscordEmulator
) -> None:
    """resources/channel.mdx: a private thread "is only viewable by those invited and those with the
    MANAGE_THREADS permission"; topics/threads.mdx: the gateway syncs only the threads an app may
    view, and sends THREAD_CREATE when the app is added to one."""
    general, bot_id = emulator.channel("general"), emulator.world.bot.id
    perms.overwrite(general, bot_id, perms.MEMBER, deny=perms.MANAGE_THREADS)
    before = await emulator.start_thread("alice", "general", "before the bot", private=True)
    bot = ThreadClient()
    await run_client(bot, bot.ready_event)
    guild = bot.get_guild(int(emulator.guild_id))
    assert guild is not None and guild.get_thread(int(before.id)) is None  # not in GUILD_CREATE
    hidden = await emulator.start_thread("alice", "general", "hidden", private=True)
    await emulator.say("alice", hidden.id, "not for the bot")
    await emulator.update_thread(hidden.id, name="still hidden", by="alice")
    public = await emulator.start_thread("alice", "general", "public")
    await emulator.say("alice", public.id, "for everyone")
    await bot.wait_for_events(lambda ev: any(m.content == "for everyone" for m in _events(bot, "message")))
    assert [t.id for t in _events(bot, "thread_create")] == [int(public.id)]
    assert [t.id for t in _events(bot, "thread_update")] == []
    assert not any(m.content == "not for the bot" for m in _events(bot, "message"))
    with pytest.raises(discord.Forbidden) as read:
        await bot.http.logs_from(int(hidden.id), 10)
    with pytest.raises(discord.Forbidden) as join:
        await bot.http.join_thread(int(hidden.id))  # it cannot see the thread to join it
    assert read.value.code == join.value.code == 50001
    listed = await emulator.thread_list_sync(["general"])
    assert [t["id"] for t in listed["threads"]] == [public.id]

    # alice adds the bot: THREAD_CREATE (then THREAD_MEMBERS_UPDATE), and it reads the thread
    await emulator.add_to_thread(hidden.id, "bot", by="alice")
    await bot.wait_for_events(lambda ev: guild.get_thread(int(hidden.id)) is not None)
    thread = guild.get_thread(int(hidden.id))
    assert thread is not None and thread.me is not None and thread.name == "still hidden"
    await emulator.say("alice", hidden.id, "now the bot is in")
    await bot.wait_for_events(lambda ev: any(m.content == "now the bot is in" for m in _events(bot, "message")))
    assert [m.content async for m in thread.history()] == ["now the bot is in", "not for the bot"]

    # with Manage Threads back, the bot is a moderator: every private thread reaches it
    perms.overwrite(general, bot_id, perms.MEMBER, allow=0, deny=0)
    await emulator.say("alice", before.id, "a moderator reads this")
    await bot.wait_for_events(lambda ev: any(m.content == "a moderator reads this" for m in _events(bot, "message")))
    assert [m["id"] async for m in _raw_history(bot, before.id)]


async def _raw_history(bot: ThreadClient, channel_id: str) -> Any:
    for message in await bot.http.logs_from(int(channel_id), 10):
        yield message


async def test_adding_a_member_to_a_thread_is_refused_as_discord_refuses(emulator: DiscordEmulator) -> None:
    """Add Thread Member "Requires the ability to send messages in the thread. Also requires the
    thread is not archived"; a private thread that is not ``invitable`` ("whether non-moderators can
    add other non-moderators") takes new members from moderators only."""
    thread = await emulator.start_thread("alice", "general", "plans", private=True)
    with pytest.raises(APIError, match="Missing Access"):
        await emulator.add_to_thread(thread.id, "carol", by="bob")  # bob cannot see it
    await emulator.add_to_thread(thread.id, "bob", by="alice")
    await emulator.add_to_thread(thread.id, "bob", by="alice")  # already a member: nothing more
    assert meta(thread).members == {emulator.user("alice").id, emulator.user("bob").id}
    await emulator.update_thread(thread.id, archived=True)
    with pytest.raises(APIError, match="archived"):
        await emulator.add_to_thread(thread.id, "carol", by="alice")
    await emulator.update_thread(thread.id, archived=False)
    meta(thread).invitable = False
    with pytest.raises(APIError, match="Missing Permissions"):
        await emulator.add_to_thread(thread.id, "carol", by="bob")
    assert emulator.user("carol").id not in meta(thread).members


async def test_threads_of_a_channel_the_bot_cannot_view_send_it_nothing_until_it_can(
    bot: ThreadClient, emulator: DiscordEmulator
) -> None:
    """topics/threads.mdx: "The Gateway will only sync threads that the app has permission to view";
    "When an app gains access to a channel ... the Gateway will send a Thread List Sync event"."""
    await emulator.permissions.revoke("general", "VIEW_CHANNEL")
    unseen = await emulator.start_thread("alice", "general", "while hidden")
    await emulator.update_thread(unseen.id, name="renamed while hidden")
    await emulator.permissions.reset("general")
    await bot.wait_for_events(lambda ev: "THREAD_LIST_SYNC" in _events(bot, "socket"))
    assert _events(bot, "thread_create") == [] and _events(bot, "thread_update") == []
    guild = bot.get_guild(int(emulator.guild_id))
    assert guild is not None
    thread = guild.get_thread(int(unseen.id))
    assert thread is not None and thread.name == "renamed while hidden"  # from the sync, as it is now


async def test_thread_members_update_reaches_the_bot_for_others_only_with_guild_members(
    bot: ThreadClient, run_client: StartClient, emulator: DiscordEmulator
) -> None:
    """topics/gateway-events.mdx, Thread Members Update: "If the current user does not have the
    GUILD_MEMBERS Gateway Intent, then this event will only be sent if the current user was added to
    or removed from the thread"."""
    intents = discord.Intents.default()
    intents.members = True
    members = ThreadClient(intents=intents)
    await run_client(members, members.ready_event)
    thread = await emulator.start_thread("alice", "general", "plans")
    await emulator.add_to_thread(thread.id, "bob", by="alice")
    await members.wait_for_events(lambda ev: bool(_events(members, "thread_member_join")))
    assert [m.id for m in _events(members, "thread_member_join")] == [int(emulator.user("bob").id)]
    await emulator.add_to_thread(thread.id, "bot", by="alice")
    for client in (bot, members):
        await client.wait_for_events(lambda ev, c=client: bool(_events(c, "thread_join")))
    assert _events(bot, "thread_member_join") == []  # bob's came only with the intent
    guild = bot.get_guild(int(emulator.guild_id))
    joined = guild.get_thread(int(thread.id)) if guild is not None else None
    assert joined is not None and joined.me is not None
