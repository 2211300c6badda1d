"""Discord's webhook rules as the emulator enforces them (resources/webhook.mdx,
topics/opcodes-and-status-codes.mdx) and how the adapter copes."""

from __future__ import annotations

import pytest
from both_sides import both_sides
from waiting import until

from bridge.adapters.discord.text import webhook_username
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, Invocation
from bridge.formatting import ZWSP


def test_webhook_names_are_rewritten_deterministically() -> None:
    for name in ("Discord Dan", "clyde", "CLYDE the DISCORDIAN", "ok name"):
        assert webhook_username(name) == webhook_username(name)
        for visible in (False, True):
            folded = webhook_username(name, visible=visible).lower()
            assert "discord" not in folded and "clyde" not in folded
    assert webhook_username("Discord Dan") == f"Dis{ZWSP}cord Dan"
    assert webhook_username("Discord Dan", visible=True) == "Dis-cord Dan"
    assert webhook_username("x" * 100) == "x" * 80
    assert webhook_username("   ") == "unknown"


@pytest.mark.parametrize("strict", [False, True], ids=["zwsp-accepted", "zwsp-refused"])
async def test_forbidden_names_cross_either_way_discord_checks_them(chat: Chat, redis_url: str, strict: bool) -> None:
    async with both_sides(chat, redis_url) as b:
        b.discord.world.config.webhook_names_strict = strict
        cli = Invocation(platform="cli")
        assert (await b.chat.commands.execute(cli, "register discordclyde Dee Cee")).ok
        for n in range(2):
            posted = await b.chat.commands.execute(
                Invocation(platform="cli", username="discordclyde"), f"post general post {n} by a fan"
            )
            assert posted.ok, posted.text
        got = await until(
            lambda: (
                [m for m in b.discord.messages("general") if "by a fan" in m["content"]] or None
                if len([m for m in b.discord.messages("general") if "by a fan" in m["content"]]) == 2
                else None
            ),
            what="both posts on Discord",
        )
        names = {m["author"]["username"] for m in got}
        assert len(names) == 1, names  # deterministic: one rewrite for one person
        (name,) = names
        assert "discord" not in name.lower() and "clyde" not in name.lower()
        assert name.replace(ZWSP, "").replace("-", "") == "discordclyde"
        refused = [r for r in b.discord.requests if r.status == 400 and "/webhooks/" in r.path]
        assert len(refused) == (1 if strict else 0)  # refused once, then the visible form from then on
        assert await b.dead_letters() == 0


async def test_a_channel_with_15_webhooks_holds_its_room_until_an_admin_frees_one(chat: Chat, redis_url: str) -> None:
    async with both_sides(chat, redis_url) as b:
        random = b.discord.channel("random")
        others = [b.discord.world.new_webhook(random, f"other integration {i}", b.discord.user("alice").id)
                  for i in range(15)]  # fmt: skip
        await b.chat.channels.link("general", ChannelRef("discord", b.discord.guild_id, random.id))
        b.slack.user_says(user="bob", channel="general", text="waiting for a webhook slot")
        await until(lambda: "waiting for" in " ".join(b.discord_texts("general")), what="the free channel")
        lane = f"discord:{b.discord.guild_id}:{random.id}"
        stats = await until(
            lambda: (s := b.worker.stats.get(lane)) and s.last_error and "15 webhooks" in s.last_error and s,
            what="the full channel reported",
        )
        assert stats.dead_lettered == 0
        assert "30007" in stats.last_error
        del b.discord.world.webhooks[others[0].id]  # the admin deletes one
        await until(lambda: "waiting for a webhook slot" in b.discord_texts("random"), what="the held message")
        assert await b.dead_letters() == 0
        assert len([w for w in b.discord.world.webhooks.values() if w.channel_id == random.id]) == 15


async def test_an_interaction_answered_after_3_s_is_unknown_and_a_token_expires(chat: Chat, redis_url: str) -> None:
    async with both_sides(chat, redis_url) as b:
        emu = b.discord
        emu.world.config.interaction_initial_s = 0.0  # every answer is late
        since = len(emu.requests)
        inter = await emu.slash("alice", "general", "chat channels")
        late = await emu.wait_for_request("POST", rf"/interactions/{inter.id}/[^/]+/callback", since=since)
        assert late.status == 404 and late.answer["code"] == 10062
        assert not inter.callbacks

        emu.world.config.interaction_initial_s = 3.0
        emu.world.config.interaction_token_s = 0.0  # the token has expired by the first followup
        b.adapter("discord").config.__dict__["defer_after"] = 0.0  # defer at once, answer by followup
        since = len(emu.requests)
        inter = await emu.slash("alice", "general", "chat channels")
        followup = await emu.wait_until(
            lambda: next((r for r in emu.requests[since:] if r.path.startswith("/webhooks/") and r.status), None)
        )
        assert followup.status == 401 and followup.answer["code"] == 50027, followup


def test_the_defer_budget_counts_from_the_snowflake() -> None:
    from datetime import timedelta

    import discord

    from bridge.adapters.discord.interactions import interaction_age

    class Seen:
        created_at = discord.utils.utcnow() - timedelta(seconds=2.5)

    assert 2.4 < interaction_age(Seen()) < 3.5  # type: ignore[arg-type]


def test_the_gateway_reconnect_delay_is_capped_and_restarts_after_a_connection() -> None:
    import discord.client

    from bridge.adapters.discord import gateway_backoff

    gateway_backoff.install(2.0)
    backoff = discord.client.ExponentialBackoff()
    assert isinstance(backoff, gateway_backoff.CappedBackoff)
    assert max(backoff.delay() for _ in range(30)) <= 2.0  # discord.py alone: up to 1024 s
    gateway_backoff.connected()
    assert backoff.delay() <= 2.0 and backoff._exp == 1  # started again from the first step
