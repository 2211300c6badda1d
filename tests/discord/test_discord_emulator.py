"""The real discord.py 2.7.1 against the Discord emulator."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord
import pytest
from discord_kit import RecordingClient, StartClient

from bridge.emulators.discord import DiscordEmulator


def _messages(client: RecordingClient, content: str) -> list[discord.Message]:
    return [v for k, v in client.events if k == "message" and v.content == content]


def _text_channel(client: RecordingClient, emu: DiscordEmulator, name: str) -> discord.TextChannel:
    channel = client.get_channel(int(emu.channel(name).id))
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_login_ready_and_guild(client: RecordingClient, emulator: DiscordEmulator) -> None:
    assert client.user is not None and str(client.user.id) == emulator.bot_user_id
    assert client.application_id == int(emulator.application_id)
    guild = client.get_guild(int(emulator.guild_id))
    assert guild is not None
    assert sorted(c.name for c in guild.text_channels) == ["cricket", "general", "random"]
    assert guild.member_count == 4  # members are only cached with the members intent
    paths = [(r.method, r.path) for r in emulator.requests]
    assert paths[:2] == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me")]
    assert emulator.gateway.identifies == 1


async def test_bad_token_is_a_login_failure(discord_endpoints: DiscordEmulator) -> None:
    bot = discord.Client(intents=discord.Intents.default())
    with pytest.raises(discord.LoginFailure):
        await bot.start("wrong-token")
    await bot.close()


async def test_user_message_reaches_the_client(client: RecordingClient, emulator: DiscordEmulator) -> None:
    sent = await emulator.say("alice", "general", "hello from alice")
    await client.wait_for_events(lambda ev: bool(_messages(client, "hello from alice")))
    [message] = _messages(client, "hello from alice")
    assert str(message.id) == sent["id"]
    assert message.author.name == "alice"
    assert isinstance(message.author, discord.Member)
    assert message.channel.id == int(emulator.channel("general").id)
    assert message.webhook_id is None


async def test_bot_send_is_stored_and_echoed(client: RecordingClient, emulator: DiscordEmulator) -> None:
    channel = _text_channel(client, emulator, "random")
    sent = await channel.send("bot speaking")
    assert emulator.messages("random")[-1]["id"] == str(sent.id)
    await client.wait_for_events(lambda ev: bool(_messages(client, "bot speaking")))
    [echo] = _messages(client, "bot speaking")
    assert echo.author == client.user
    request = await emulator.wait_for_request("POST", r"/channels/\d+/messages")
    assert request.json["content"] == "bot speaking"
    assert request.headers["Authorization"] == f"Bot {emulator.token}"


async def test_webhook_send_edit_delete(client: RecordingClient, emulator: DiscordEmulator) -> None:
    channel = _text_channel(client, emulator, "general")
    hook = await channel.create_webhook(name="chatbridge")
    assert [h.id for h in await channel.webhooks()] == [hook.id]
    assert hook.token is not None
    partial = discord.Webhook.partial(hook.id, hook.token, client=client)
    sent = await partial.send(
        "from slack", username="Bob (Slack)", avatar_url="https://example.test/bob.png", wait=True
    )
    assert sent.webhook_id == hook.id and sent.author.name == "Bob (Slack)"
    assert emulator.avatar_url(str(sent.id)) == "https://example.test/bob.png"
    request = await emulator.wait_for_request("POST", rf"/webhooks/{hook.id}/[^/]+")
    assert request.query["wait"] == "1" and "Authorization" not in request.headers
    await client.wait_for_events(lambda ev: bool(_messages(client, "from slack")))
    [echo] = _messages(client, "from slack")
    assert echo.webhook_id == hook.id

    await partial.edit_message(sent.id, content="from slack, edited")
    await client.wait_for_events(lambda ev: any(k == "raw_edit" for k, _ in ev))
    assert emulator.messages("general")[-1]["content"] == "from slack, edited"
    await partial.delete_message(sent.id)
    await client.wait_for_events(lambda ev: any(k == "raw_delete" for k, _ in ev))
    assert emulator.messages("general") == []
    with pytest.raises(discord.HTTPException) as info:
        await discord.Webhook.partial(hook.id, "bad-token", client=client).send("x", wait=True)
    assert info.value.status == 401 and info.value.code == 50027


async def test_content_over_2000_characters_is_rejected(client: RecordingClient, emulator: DiscordEmulator) -> None:
    channel = _text_channel(client, emulator, "general")
    with pytest.raises(discord.HTTPException) as info:
        await channel.send("x" * 2001)
    assert info.value.status == 400 and info.value.code == 50035
    assert "Must be 2000 or fewer in length." in info.value.text
    assert emulator.messages("general") == []
    ok = await channel.send("y" * 2000)
    assert len(ok.content) == 2000


async def test_429_is_waited_out_by_discord_py(client: RecordingClient, emulator: DiscordEmulator) -> None:
    channel = _text_channel(client, emulator, "general")
    emulator.rate_limit("POST", r"/channels/\d+/messages", retry_after=0.3, times=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    message = await channel.send("after the limit")
    assert loop.time() - started >= 0.3
    statuses = [r.status for r in emulator.requests if r.method == "POST" and r.path.endswith("/messages")]
    assert statuses == [429, 200]
    assert emulator.messages("general")[-1]["id"] == str(message.id)


async def test_resume_replays_missed_dispatches_once(client: RecordingClient, emulator: DiscordEmulator) -> None:
    await emulator.say("alice", "general", "before")
    await client.wait_for_events(lambda ev: bool(_messages(client, "before")))
    emulator.hold_gateway()
    await emulator.say("bob", "general", "missed 1")
    await emulator.say("carol", "general", "missed 2")
    assert not _messages(client, "missed 1")
    assert await emulator.close_gateway(4000) == 1
    await client.wait_for_events(lambda ev: any(k == "resumed" for k, _ in ev))
    await client.wait_for_events(lambda ev: bool(_messages(client, "missed 2")))
    contents = [v.content for k, v in client.events if k == "message"]
    assert contents == ["before", "missed 1", "missed 2"]
    assert emulator.gateway.resumes == 1 and emulator.gateway.identifies == 1
    resume = [p for p in emulator.gateway.received if p["op"] == 6]
    assert len(resume) == 1 and resume[0]["d"]["session_id"]


async def test_interaction_defer_and_followup(run_client: StartClient, emulator: DiscordEmulator) -> None:
    bot = RecordingClient()
    chat = discord.app_commands.Group(name="chat", description="chat commands")

    @chat.command(name="echo", description="echo text back")
    async def echo(interaction: discord.Interaction, text: str, times: int = 1) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send(f"echo: {text * times}", ephemeral=True)

    @bot.tree.command(name="ping", description="pong")
    async def ping(interaction: discord.Interaction) -> None:
        response = await interaction.response.send_message("pong")
        assert response is not None and response.message_id is not None

    bot.tree.add_command(chat)
    await run_client(bot, bot.ready_event)
    guild = discord.Object(int(emulator.guild_id))
    bot.tree.copy_global_to(guild=guild)
    await bot.tree.sync(guild=guild)
    await bot.tree.sync()
    await emulator.wait_for_request("PUT", rf"/applications/{emulator.application_id}/guilds/\d+/commands")
    assert {c["name"] for c in emulator.world.guild_commands[emulator.guild_id]} == {"chat", "ping"}

    inter = await emulator.slash("alice", "general", "chat echo", {"text": "hi", "times": 2})
    reply = await emulator.wait_for_reply(inter)
    assert reply["content"] == "echo: hihi" and reply["flags"] & 64
    assert inter.callbacks[0]["type"] == 5 and inter.callbacks[0]["data"]["flags"] & 64
    assert emulator.messages("general") == []  # ephemeral: nobody else sees it

    inter = await emulator.slash("bob", "general", "ping")
    reply = await emulator.wait_for_reply(inter)
    assert reply["content"] == "pong"
    callback = await emulator.wait_for_request("POST", rf"/interactions/{inter.id}/[^/]+/callback")
    assert callback.query == {"with_response": "1"}
    assert emulator.messages("general")[-1]["content"] == "pong"


async def test_autocomplete_interaction(run_client: StartClient, emulator: DiscordEmulator) -> None:
    bot = RecordingClient()

    async def names(interaction: discord.Interaction, current: str) -> list[discord.app_commands.Choice[str]]:
        return [discord.app_commands.Choice(name=n, value=n) for n in ("cricket", "chess") if n.startswith(current)]

    @bot.tree.command(name="find", description="find a channel")
    @discord.app_commands.autocomplete(channel=names)
    async def find(interaction: discord.Interaction, channel: str) -> None:
        await interaction.response.send_message(channel)

    await run_client(bot, bot.ready_event)
    await bot.tree.sync()
    inter = await emulator.autocomplete("alice", "general", "find", {"channel": "cr"}, focused="channel")
    await emulator.wait_until(lambda: inter.callbacks)
    assert inter.callbacks[0] == {"type": 8, "data": {"choices": [{"name": "cricket", "value": "cricket"}]}}


async def test_invalid_command_sync_is_rejected(client: RecordingClient, emulator: DiscordEmulator) -> None:
    bad = [{"name": "Bad Name", "description": "x", "type": 1}]
    with pytest.raises(discord.HTTPException) as info:
        await client.http.bulk_upsert_guild_commands(int(emulator.application_id), int(emulator.guild_id), bad)
    assert info.value.code == 50035


async def test_direct_message(client: RecordingClient, emulator: DiscordEmulator) -> None:
    user = await client.fetch_user(int(emulator.user("carol").id))
    await user.send("psst")
    await emulator.wait_for_request("POST", r"/users/@me/channels")
    assert [m["content"] for m in emulator.dm_messages("carol")] == ["psst"]


async def test_allowed_mentions_are_recorded(client: RecordingClient, emulator: DiscordEmulator) -> None:
    channel = _text_channel(client, emulator, "general")
    bob = emulator.user("bob").id
    quiet = await channel.send(f"@everyone <@{bob}>", allowed_mentions=discord.AllowedMentions.none())
    ping = emulator.ping(str(quiet.id))
    assert ping.users == [] and not ping.everyone
    assert ping.allowed_mentions == {"parse": []}
    loud = await channel.send(f"@everyone <@{bob}>", allowed_mentions=discord.AllowedMentions.all())
    assert emulator.ping(str(loud.id)).everyone and emulator.ping(str(loud.id)).users == [bob]


async def test_message_content_intent_is_enforced(run_client: StartClient, emulator: DiscordEmulator) -> None:
    bot = RecordingClient(message_content=False)
    await run_client(bot, bot.ready_event)
    await emulator.say("alice", "general", "secret")
    await bot.wait_for_events(lambda ev: any(k == "message" for k, _ in ev))
    assert [v.content for k, v in bot.events if k == "message"] == [""]


async def test_control_routes_drive_the_emulator(client: RecordingClient, emulator: DiscordEmulator) -> None:
    async with aiohttp.ClientSession(emulator.base_url) as http:
        async with http.post(
            "/_emulator/messages", json={"user": "bob", "channel": "cricket", "content": "over HTTP"}
        ) as resp:
            assert resp.status == 200
            message: dict[str, Any] = await resp.json()
        await client.wait_for_events(lambda ev: bool(_messages(client, "over HTTP")))
        async with http.patch(f"/_emulator/messages/cricket/{message['id']}", json={"content": "edited"}) as resp:
            assert resp.status == 200
        await client.wait_for_events(lambda ev: any(k == "raw_edit" for k, _ in ev))
        async with http.get("/_emulator/channels/cricket/messages") as resp:
            assert [m["content"] for m in await resp.json()] == ["edited"]
        await _text_channel(client, emulator, "cricket").send("bot reply")
        async with http.get("/_emulator/posted") as resp:
            assert [p["message"]["content"] for p in await resp.json()] == ["bot reply"]
        async with http.post("/_emulator/messages", json={"user": "nobody", "channel": "cricket"}) as resp:
            assert resp.status == 400
        async with http.get("/_emulator/state") as resp:
            state = await resp.json()
            assert state["gateway"]["connected"] == 1


async def test_pings_follow_discord_rules(client: RecordingClient, emulator: DiscordEmulator) -> None:
    channel = _text_channel(client, emulator, "general")
    bob, carol = emulator.user("bob").id, emulator.user("carol").id
    sent = await channel.send(f"<@{bob}> \\<@{carol}> `@everyone <@{carol}>` @\u200bhere")
    ping = emulator.ping(str(sent.id))
    assert ping.users == [bob] and not ping.everyone
    assert emulator.ping(str((await channel.send("hey @here")).id)).everyone


async def test_history_paging_and_new_channels(client: RecordingClient, emulator: DiscordEmulator) -> None:
    ids = [(await emulator.say("alice", "random", f"m{i}"))["id"] for i in range(5)]
    channel = _text_channel(client, emulator, "random")
    newest = [m.content async for m in channel.history(limit=2)]
    assert newest == ["m4", "m3"]
    older = [m.content async for m in channel.history(limit=10, before=discord.Object(int(ids[2])))]
    assert older == ["m1", "m0"]
    later = [m.content async for m in channel.history(limit=10, after=discord.Object(int(ids[2])))]
    assert later == ["m3", "m4"]
    async with (
        aiohttp.ClientSession(emulator.base_url) as http,
        http.post("/_emulator/channels", json={"name": "tennis"}) as resp,
    ):
        created = await resp.json()
    await client.wait_for_events(lambda ev: any(k == "channel_create" for k, _ in ev))
    [(_, new_channel)] = [e for e in client.events if e[0] == "channel_create"]
    assert (str(new_channel.id), new_channel.name) == (created["id"], "tennis")
