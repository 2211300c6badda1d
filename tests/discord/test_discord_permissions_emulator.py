"""The emulator's permissions through the real discord.py: the docs' computation (topics/permissions.mdx
"Permission Overwrites"), the refusals of the routes the bridge uses (50001 / 50013), the control
routes, and GUILD_CREATE without the presences intent (events/gateway-events.mdx, Guild Create)."""

from __future__ import annotations

import aiohttp
import discord
import pytest
from discord_kit import RecordingClient, StartClient
from waiting import until

from bridge.emulators.discord import DiscordEmulator
from bridge.emulators.discord import permissions as perms
from bridge.emulators.discord.state import Role


def test_the_computation_follows_the_docs_order() -> None:
    from bridge.emulators.discord.state import EmulatorConfig, World

    world = World(EmulatorConfig())
    general = world.channel_by_name("general")
    bot = world.bot.id
    view, send, hooks = perms.VIEW_CHANNEL, perms.SEND_MESSAGES, perms.MANAGE_WEBHOOKS
    assert perms.in_channel(world, bot, general) & hooks  # the bot's role grants it
    perms.overwrite(general, world.guild_id, perms.ROLE, deny=send)  # @everyone denied ...
    perms.overwrite(general, world.bot_role.id, perms.ROLE, allow=send)  # ... a role allow wins
    assert perms.in_channel(world, bot, general) & send
    perms.overwrite(general, bot, perms.MEMBER, deny=send)  # the member's own overwrite comes last
    assert not perms.in_channel(world, bot, general) & send
    assert not perms.in_channel(world, bot, general) & perms.ATTACH_FILES  # implicitly denied with send
    extra = Role("9", "helpers", 0, 3)  # roles' overwrites: denies and allows OR-ed, deny applied first
    world.roles[extra.id] = extra
    world.members[bot].roles.append(extra.id)
    perms.overwrite(general, bot, perms.MEMBER, deny=0)
    perms.overwrite(general, extra.id, perms.ROLE, deny=hooks)
    assert not perms.in_channel(world, bot, general) & hooks  # a role overwrite's deny beats the base
    perms.overwrite(general, world.bot_role.id, perms.ROLE, allow=send | hooks)
    assert perms.in_channel(world, bot, general) & hooks  # any role's allow beats any role's deny
    perms.overwrite(general, world.bot_role.id, perms.ROLE, allow=send, deny=view)
    assert perms.in_channel(world, bot, general) == 0  # no View Channel: nothing at all
    assert perms.in_channel(world, world.owner_id, general) == perms.ALL  # the owner (alice), never the bot
    assert world.owner_id == world.user_by_name("alice").id


async def test_routes_refuse_what_the_bot_may_not_do(client: RecordingClient, emulator: DiscordEmulator) -> None:
    general = client.get_channel(int(emulator.channel("general").id))
    assert isinstance(general, discord.TextChannel)
    hook = await general.create_webhook(name="ours")
    await emulator.permissions.revoke("general", "MANAGE_WEBHOOKS")
    with pytest.raises(discord.Forbidden) as refused:
        await general.create_webhook(name="another")
    assert refused.value.code == 50013 and refused.value.text == "Missing Permissions"
    with pytest.raises(discord.Forbidden):
        await general.webhooks()
    sent = await hook.send("a webhook needs no permission of the bot", wait=True)  # its token is enough
    assert sent.content.startswith("a webhook")

    await emulator.permissions.revoke("general", "SEND_MESSAGES")
    with pytest.raises(discord.Forbidden) as no_send:
        await general.send("hello")
    assert no_send.value.code == 50013
    await emulator.permissions.revoke("general", "READ_MESSAGE_HISTORY")
    assert [m async for m in general.history(limit=5)] == []  # Get Channel Messages: none returned
    with pytest.raises(discord.Forbidden):
        await general.fetch_message(sent.id)
    with pytest.raises(discord.Forbidden):
        await general.get_partial_message(sent.id).add_reaction("👍")
    await emulator.permissions.revoke("general", "VIEW_CHANNEL")
    with pytest.raises(discord.Forbidden) as hidden:
        await client.fetch_channel(general.id)
    assert hidden.value.code == 50001 and hidden.value.text == "Missing Access"

    await emulator.permissions.reset("general")
    await general.send("allowed again")
    assert len(await general.webhooks()) == 1
    await hook.delete()
    with pytest.raises(discord.NotFound) as gone:
        await hook.send("after its deletion", wait=True)
    assert gone.value.code == 10015  # Unknown Webhook


async def test_a_thread_needs_send_messages_in_threads(client: RecordingClient, emulator: DiscordEmulator) -> None:
    root = await emulator.say("alice", "general", "a thread root")
    thread = await emulator.start_thread("alice", "general", "talk", message_id=root["id"])
    await emulator.permissions.revoke("general", "SEND_MESSAGES")  # not inherited by threads
    channel = await client.fetch_channel(int(thread.id))
    assert isinstance(channel, discord.Thread)
    await channel.send("in the thread")
    await emulator.permissions.revoke("general", "SEND_MESSAGES_IN_THREADS")
    with pytest.raises(discord.Forbidden):
        await channel.send("not any more")


async def test_discord_py_sees_the_changes_and_the_control_routes(
    client: RecordingClient, emulator: DiscordEmulator
) -> None:
    general = client.get_channel(int(emulator.channel("general").id))
    assert isinstance(general, discord.TextChannel) and general.guild.me is not None
    assert general.permissions_for(general.guild.me).manage_webhooks
    async with aiohttp.ClientSession() as http:
        base = f"{emulator.base_url}/_emulator"
        async with http.post(f"{base}/permissions", json={"channel": "general", "revoke": ["MANAGE_WEBHOOKS"]}) as r:
            body = await r.json()
            assert r.status == 200 and "MANAGE_WEBHOOKS" not in body["names"] and "VIEW_CHANNEL" in body["names"]
        await client.wait_for_events(lambda _: not general.permissions_for(general.guild.me).manage_webhooks)
        async with http.post(f"{base}/permissions", json={"channel": "general", "revoke": ["FLY"]}) as r:
            assert r.status == 400 and "unknown permission 'FLY'" in (await r.json())["message"]
        async with http.post(f"{base}/permissions", json={"channel": "general", "who": "nobody", "grant": 8}) as r:
            assert r.status == 400
        async with http.put(f"{base}/roles/@everyone", json={"permissions": ["VIEW_CHANNEL"]}) as r:
            assert r.status == 200 and (await r.json())["permissions"] == str(perms.VIEW_CHANNEL)
        async with http.get(f"{base}/permissions", params={"channel": "general", "who": "bob"}) as r:
            assert (await r.json())["names"] == ["VIEW_CHANNEL"]
        async with http.post(f"{base}/permissions", json={"channel": "general", "reset": True}) as r:
            assert "MANAGE_WEBHOOKS" in (await r.json())["names"]
    await client.wait_for_events(lambda _: general.permissions_for(general.guild.me).manage_webhooks)
    bob = emulator.user("bob").id
    assert emulator.permissions.of("general", "bob") == perms.VIEW_CHANNEL and emulator.permissions.changes == 3
    assert bob  # the role change reached discord.py's cache too
    assert general.guild.default_role.permissions.value == perms.VIEW_CHANNEL


async def test_a_role_overwrite_over_the_control_route_answers_with_the_bots_permissions(
    client: RecordingClient, emulator: DiscordEmulator
) -> None:
    # the soak's flip of @everyone was applied but answered 400: the answer looked for a member named @everyone
    async with aiohttp.ClientSession() as http:
        base = f"{emulator.base_url}/_emulator"
        flip = {"channel": "general", "who": "@everyone", "revoke": ["SEND_MESSAGES"]}
        async with http.post(f"{base}/permissions", json=flip) as r:
            body = await r.json()
            assert r.status == 200, body
        everyone = emulator.world.everyone_role.id
        assert any(o["id"] == everyone and int(o["deny"]) & perms.SEND_MESSAGES for o in body["overwrites"])
        assert body["names"] == perms.names(emulator.permissions.of("general"))
        async with http.get(f"{base}/permissions", params={"channel": "general", "who": "@everyone"}) as r:
            assert r.status == 200
        back = {"channel": "general", "who": "@everyone", "reset": True}
        async with http.post(f"{base}/permissions", json=back) as r:
            assert r.status == 200 and not any(o["id"] == everyone for o in (await r.json())["overwrites"])


async def test_no_message_of_a_channel_the_bot_cannot_view(client: RecordingClient, emulator: DiscordEmulator) -> None:
    await emulator.permissions.revoke("random", "VIEW_CHANNEL")
    await emulator.say("alice", "random", "unseen")
    await emulator.say("alice", "general", "seen")
    await client.wait_for_events(lambda ev: any(k == "message" and v.content == "seen" for k, v in ev))
    assert not any(k == "message" and v.content == "unseen" for k, v in client.events)


async def test_guild_create_lists_only_the_bot_without_the_presences_intent(
    client: RecordingClient, run_client: StartClient, emulator: DiscordEmulator
) -> None:
    guild = client.get_guild(int(emulator.guild_id))
    assert guild is not None and guild.member_count == 4
    assert [m.id for m in guild.members] == [int(emulator.bot_user_id)]
    assert guild.get_member(int(emulator.user("alice").id)) is None
    fetched = await guild.fetch_member(int(emulator.user("alice").id))  # REST still answers
    assert fetched.display_name == "Alice A."
    intents = discord.Intents.default()
    intents.presences = intents.members = True  # discord.py caches others only with the members intent
    full = RecordingClient(intents=intents)
    await run_client(full, full.ready_event)
    guild = full.get_guild(int(emulator.guild_id))
    assert guild is not None and len(guild.members) == 4


async def test_losing_and_regaining_the_view_sends_what_discord_sends(
    client: RecordingClient, emulator: DiscordEmulator
) -> None:
    """topics/threads.mdx "Channel Access": a loss is only the event that changed the permission (no
    CHANNEL_DELETE, no THREAD_DELETE); a gain is that event, then THREAD_LIST_SYNC of the channels."""
    from bridge.emulators.discord.state import BOT_PERMISSIONS, DEFAULT_PERMISSIONS

    def sent_since(mark: int) -> list[dict[str, object]]:
        (session,) = emulator.gateway.sessions.values()
        return [{"t": p["t"], **p["d"]} for p in session.buffer[mark:]]

    def mark() -> int:
        (session,) = emulator.gateway.sessions.values()
        return len(session.buffer)

    general, random = emulator.channel("general").id, emulator.channel("random").id
    at = mark()
    await emulator.permissions.revoke("general", "VIEW_CHANNEL")
    assert [e["t"] for e in sent_since(at)] == ["CHANNEL_UPDATE"]
    at = mark()
    await emulator.permissions.reset("general")
    back = sent_since(at)
    assert [e["t"] for e in back] == ["CHANNEL_UPDATE", "THREAD_LIST_SYNC"]
    assert back[1]["channel_ids"] == [general] and back[1]["threads"] == []
    at = mark()
    await emulator.permissions.grant("general", "VIEW_CHANNEL")  # no change of view: no sync
    assert [e["t"] for e in sent_since(at)] == ["CHANNEL_UPDATE"]

    at = mark()  # a role's permissions (GUILD_ROLE_UPDATE): every channel at once
    await emulator.permissions.reset("general")
    await emulator.permissions.set_role("@everyone", DEFAULT_PERMISSIONS & ~perms.VIEW_CHANNEL)
    await emulator.permissions.set_role("chatbridge", BOT_PERMISSIONS & ~perms.VIEW_CHANNEL)
    assert emulator.permissions.of("general") == 0
    await emulator.permissions.set_role("chatbridge", BOT_PERMISSIONS)
    events = sent_since(at)
    assert [e["t"] for e in events] == ["CHANNEL_UPDATE"] + ["GUILD_ROLE_UPDATE"] * 3 + ["THREAD_LIST_SYNC"]
    assert set(events[-1]["channel_ids"]) >= {general, random}  # type: ignore[call-overload]

    at = mark()  # the bot's roles (GUILD_MEMBER_UPDATE, sent for the current user without GUILD_MEMBERS)
    await emulator.permissions.set_role("chatbridge", BOT_PERMISSIONS & ~perms.VIEW_CHANNEL)
    moderators = emulator.world.admin_role.id
    await emulator.permissions.add_role("bot", "Moderators")  # Moderators may view: the bot sees again
    events = sent_since(at)
    assert [e["t"] for e in events] == ["GUILD_ROLE_UPDATE", "GUILD_MEMBER_UPDATE", "THREAD_LIST_SYNC"]
    assert moderators in events[1]["roles"] and events[1]["user"]["id"] == emulator.bot_user_id  # type: ignore[index]
    me = client.get_guild(int(emulator.guild_id)).me  # type: ignore[union-attr]
    await until(lambda: any(r.id == int(moderators) for r in me.roles), what="discord.py's cache follows")
    at = mark()
    await emulator.permissions.remove_role("bot", "Moderators")
    assert [e["t"] for e in sent_since(at)] == ["GUILD_MEMBER_UPDATE"]  # hidden again: nothing else
    at = mark()
    await emulator.permissions.add_role("bob", "Moderators")  # someone else: needs GUILD_MEMBERS
    assert sent_since(at) == [] and moderators in emulator.world.members[emulator.user("bob").id].roles

    async with aiohttp.ClientSession() as http:
        base = f"{emulator.base_url}/_emulator/members"
        async with http.put(f"{base}/bot/roles/Moderators") as r:
            assert r.status == 200 and moderators in (await r.json())["roles"]
        async with http.delete(f"{base}/bot/roles/Moderators") as r:
            assert r.status == 200 and moderators not in (await r.json())["roles"]
        async with http.put(f"{base}/bot/roles/Pilots") as r:
            assert r.status == 400 and "no role 'Pilots" in (await r.json())["message"]
        async with http.put(f"{base}/bot/roles/@everyone") as r:
            assert r.status == 400
        async with http.put(f"{base}/nobody/roles/Moderators") as r:
            assert r.status == 400
