"""The real discord.py against the emulator's reaction routes and events (discord-api-docs
resources/message.mdx reactions routes, events/gateway-events.mdx MESSAGE_REACTION_*)."""

from __future__ import annotations

from typing import Any

import aiohttp
import discord
import pytest
from discord_kit import RecordingClient, StartClient

from bridge.emulators.discord import DiscordEmulator


class ReactionClient(RecordingClient):
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self._record("add", payload)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        self._record("remove", payload)

    async def on_raw_reaction_clear(self, payload: discord.RawReactionClearEvent) -> None:
        self._record("clear", payload)

    async def on_raw_reaction_clear_emoji(self, payload: discord.RawReactionClearEmojiEvent) -> None:
        self._record("clear_emoji", payload)


@pytest.fixture
async def rclient(run_client: StartClient) -> ReactionClient:
    bot = ReactionClient()
    await run_client(bot, bot.ready_event)
    return bot


def _of(client: ReactionClient, kind: str) -> list[Any]:
    return [v for k, v in client.events if k == kind]


async def _message(client: ReactionClient, emu: DiscordEmulator, text: str) -> discord.PartialMessage:
    sent = await emu.say("alice", "general", text)
    channel = client.get_channel(int(emu.channel("general").id))
    assert isinstance(channel, discord.TextChannel)
    return channel.get_partial_message(int(sent["id"]))


async def test_person_reactions_reach_the_client_as_raw_events(
    rclient: ReactionClient, emulator: DiscordEmulator
) -> None:
    msg = await _message(rclient, emulator, "react to me")
    await emulator.react("bob", "general", str(msg.id), "👍")
    await emulator.react("bob", "general", str(msg.id), "blobwave")
    await rclient.wait_for_events(lambda ev: len(_of(rclient, "add")) == 2)
    unicode, custom = _of(rclient, "add")
    assert str(unicode.emoji) == "👍" and unicode.user_id == int(emulator.user("bob").id)
    assert unicode.member is not None and unicode.message_author_id == int(emulator.user("alice").id)
    assert custom.emoji.name == "blobwave" and custom.emoji.id is not None
    await emulator.react("bob", "general", str(msg.id), "👍", remove=True)
    await rclient.wait_for_events(lambda ev: len(_of(rclient, "remove")) == 1)
    assert emulator.reactions_of(str(msg.id)) == [
        {"emoji": f"blobwave:{custom.emoji.id}", "count": 1, "users": [emulator.user("bob").id]}
    ]


async def test_guild_lists_its_custom_emoji(rclient: ReactionClient, emulator: DiscordEmulator) -> None:
    guild = rclient.get_guild(int(emulator.guild_id))
    assert guild is not None
    assert sorted((e.name, e.animated) for e in guild.emojis) == [("blobdance", True), ("blobwave", False)]


async def test_bot_reacts_and_is_rate_limited_per_channel(rclient: ReactionClient, emulator: DiscordEmulator) -> None:
    msg = await _message(rclient, emulator, "bot reacts")
    guild = rclient.get_guild(int(emulator.guild_id))
    assert guild is not None
    blob = next(e for e in guild.emojis if e.name == "blobwave")
    await msg.add_reaction("🎉")
    await msg.add_reaction(blob)  # the answer said 1 per 0.25 s: discord.py waits before asking again
    puts = [r for r in emulator.requests if r.method == "PUT" and "/reactions/" in r.path]
    assert [r.status for r in puts] == [204, 204]
    assert puts[1].at - puts[0].at >= 0.2
    # a client that ignores the headers is refused within the 0.25 s
    url = f"{emulator.api_base}/channels/{msg.channel.id}/messages/{msg.id}/reactions/%F0%9F%91%8D/@me"
    session = aiohttp.ClientSession(headers={"Authorization": f"Bot {emulator.token}"})
    async with session as http, http.put(url) as first, http.put(url) as second:
        assert (first.status, second.status) == (204, 429)
        assert (await second.json())["retry_after"] <= 0.25
    fetched = await msg.fetch()
    assert [(str(r.emoji), r.count, r.me) for r in fetched.reactions] == [
        ("🎉", 1, True),
        (f"<:blobwave:{blob.id}>", 1, True),
        ("👍", 1, True),
    ]
    await msg.remove_reaction("🎉", discord.Object(id=int(emulator.bot_user_id)))
    await rclient.wait_for_events(lambda ev: len(_of(rclient, "remove")) == 1)


async def test_unknown_emoji_is_refused(rclient: ReactionClient, emulator: DiscordEmulator) -> None:
    msg = await _message(rclient, emulator, "bad emoji")
    with pytest.raises(discord.HTTPException) as err:
        await msg.add_reaction("notanemoji")
    assert err.value.code == 10014
    with pytest.raises(discord.HTTPException) as err:
        await msg.add_reaction("ghost:123")
    assert err.value.code == 10014
    assert emulator.reactions_of(str(msg.id)) == []


async def test_remove_all_and_remove_emoji_events(rclient: ReactionClient, emulator: DiscordEmulator) -> None:
    msg = await _message(rclient, emulator, "clear me")
    await emulator.react("bob", "general", str(msg.id), "👍")
    await emulator.react("carol", "general", str(msg.id), "🎉")
    await emulator.reactions.remove_emoji(emulator.channel("general").id, str(msg.id), emulator.reactions.resolve("👍"))
    await rclient.wait_for_events(lambda ev: len(_of(rclient, "clear_emoji")) == 1)
    assert str(_of(rclient, "clear_emoji")[0].emoji) == "👍"
    await emulator.reactions.remove_all(emulator.channel("general").id, str(msg.id))
    await rclient.wait_for_events(lambda ev: len(_of(rclient, "clear")) == 1)
    assert emulator.reactions_of(str(msg.id)) == []
    assert "reactions" not in emulator.channel("general").messages[str(msg.id)]


async def test_reaction_events_need_the_reactions_intent(run_client: StartClient, emulator: DiscordEmulator) -> None:
    intents = discord.Intents.default()
    intents.guild_reactions = False
    bot = ReactionClient(intents=intents)
    await run_client(bot, bot.ready_event)
    sent = await emulator.say("alice", "general", "unseen reaction")
    await emulator.react("bob", "general", sent["id"], "👍")
    await emulator.say("alice", "general", "after")
    await bot.wait_for_events(lambda ev: any(k == "message" and v.content == "after" for k, v in ev))
    assert _of(bot, "add") == []


async def test_no_reaction_event_of_a_channel_the_bot_cannot_view(
    rclient: ReactionClient, emulator: DiscordEmulator
) -> None:
    """topics/threads.mdx "Losing Access to Channels": no further events of a channel the app lost."""
    hidden = await emulator.say("alice", "random", "in a channel the bot cannot view")
    seen = await _message(rclient, emulator, "in view")
    await emulator.permissions.revoke("random", "VIEW_CHANNEL")
    await emulator.react("bob", "random", str(hidden["id"]), "👍")
    await emulator.react("bob", "general", str(seen.id), "👍")
    await rclient.wait_for_events(lambda ev: len(_of(rclient, "add")) == 1)
    assert [p.message_id for p in _of(rclient, "add")] == [seen.id]
    assert emulator.reactions_of(str(hidden["id"]))  # the reaction is there all the same
