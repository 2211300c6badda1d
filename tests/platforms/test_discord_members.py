"""Without the privileged GUILD_MEMBERS / GUILD_PRESENCES intents (the bridge asks for neither),
GUILD_CREATE lists only the bot (events/gateway-events.mdx, Guild Create): names and mentions must
not depend on the member cache. Through the real adapters, discord.py and both emulators."""

from __future__ import annotations

from both_sides import both_sides
from waiting import until

from bridge.core.chat import Chat
from bridge.store import keys


async def test_names_and_mentions_resolve_without_the_member_cache(chat: Chat, redis_url: str) -> None:
    async with both_sides(chat, redis_url) as b:
        emu, guild_id = b.discord, b.discord.guild_id
        adapter = b.adapter("discord")
        carol, alice = emu.user("carol").id, emu.user("alice").id
        guild = adapter.client.get_guild(int(guild_id))
        assert guild is not None and guild.get_member(int(carol)) is None  # the cache has only the bot
        assert [m.id for m in guild.members] == [int(emu.bot_user_id)]

        # a forward carries no `mentions` for the text it quotes: carol is looked up over REST
        original = await emu.say("alice", "random", f"ask <@{carol}> about it")  # random is not linked
        await emu.forward("bob", "random", original["id"], to="general")
        text = await until(
            lambda: next((t for t in b.slack_texts("general") if "about it" in t), None), what="the forward on Slack"
        )
        assert "@carol" in text and "unknown" not in text, text
        members = adapter.inbound.members
        assert members.fetched == 1
        key = keys.discord_member(guild_id, carol)
        assert await b.chat.ctx.redis.hget(key, "name") == "carol"
        assert 0 < await b.chat.ctx.redis.ttl(key) <= members.ttl_s  # a bounded lifetime
        again = await members.user(guild_id, carol)  # from Redis now, not REST
        assert again is not None and again.display_name == "carol" and members.fetched == 1
        assert await members.user(guild_id, "4242") is None and members.fetched == 2  # unknown: remembered
        assert await members.user(guild_id, "4242") is None and members.fetched == 2

        # the author's name comes with the message itself, cached member or not
        await emu.say("alice", "general", "hello from alice")
        await until(lambda: any("hello from alice" in t for t in b.slack_texts("general")), what="alice's message")
        posted = next(m for m in b.slack.history("general") if "hello from alice" in m.text)
        assert posted.username == "Alice A."

        # an outbound mention of a Discord user pings them (no member cache needed)
        name = await b.chat.find_username("discord", guild_id, alice)
        assert name
        b.slack.user_says(user="bob", channel="general", text=f"thanks @{name}")
        copy = await until(
            lambda: next((m for m in emu.messages("general") if m["content"].startswith("thanks")), None),
            what="the mention on Discord",
        )
        assert copy["content"] == f"thanks <@{alice}>" and emu.ping(copy["id"]).users == [alice]
