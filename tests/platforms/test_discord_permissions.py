"""The bot's Discord permissions, through the real adapters, discord.py and the emulators: ``link``
refuses with the missing permission named; a permission removed later holds that channel's backlog
(never dead-lettered), tells an admin (log, metric, /healthz, a message), and the backlog crosses on
its own once the permission is back, while the other rooms keep mirroring."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from both_sides import both_sides
from waiting import until

from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.metrics import REGISTRY

NEEDS_ADMIN = "chatbridge_needs_admin"


def _needs_admin(guild: str, channel: str, problem: str = "missing_permissions") -> float | None:
    labels = {"platform": "discord", "channel": f"{guild}:{channel}", "problem": problem}
    return REGISTRY.get_sample_value(NEEDS_ADMIN, labels)


def _lacks(b: Any, channel: str, name: str) -> bool:
    found = b.adapter("discord").watch.lacking(int(b.discord.channel(channel).id))
    return found is not None and name in found[1]


async def test_link_refuses_with_the_missing_permission_named(chat: Chat, redis_url: str) -> None:
    async with both_sides(chat, redis_url) as b:
        emu = b.discord
        await emu.permissions.revoke("random", "MANAGE_WEBHOOKS", "SEND_MESSAGES")
        await until(lambda: _lacks(b, "random", "Manage Webhooks"), what="discord.py's cache to follow")
        reply = await emu.wait_for_reply(await emu.slash("alice", "random", "chat link", {"channel": "general"}))
        assert "I need Send Messages and Manage Webhooks in #random" in reply["content"], reply["content"]
        ref = ChannelRef("discord", emu.guild_id, emu.channel("random").id)
        assert await b.chat.channels.route(ref) is None  # nothing was linked

        await emu.permissions.revoke("cricket", "VIEW_CHANNEL")
        await until(lambda: _lacks(b, "cricket", "View Channel"), what="the hidden channel")
        reply = await emu.wait_for_reply(await emu.slash("alice", "cricket", "chat link", {"channel": "general"}))
        assert "I need View Channel in #cricket" in reply["content"], reply["content"]

        await emu.permissions.reset("random")
        await until(lambda: not _lacks(b, "random", "Manage Webhooks"), what="the permissions back")
        reply = await emu.wait_for_reply(await emu.slash("alice", "random", "chat link", {"channel": "general"}))
        assert reply["content"].startswith("Linked"), reply["content"]


async def test_a_permission_removed_later_holds_the_room_until_it_is_back(
    chat: Chat, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.adapters.discord.admin_alerts")
    async with both_sides(chat, redis_url) as b:
        emu, guild = b.discord, b.discord.guild_id
        general, random = emu.channel("general"), emu.channel("random")
        await b.chat.channels.link("general", ChannelRef("discord", guild, random.id))  # a second destination
        b.slack.user_says(user="bob", channel="general", text="before")
        await until(lambda: "before" in b.discord_texts("general") and "before" in b.discord_texts("random"),
                    what="the first message on both")  # fmt: skip

        # an admin removes the bridge's webhook and the bot's Manage Webhooks in #general
        for hook in [h for h in emu.world.webhooks.values() if h.channel_id == general.id]:
            del emu.world.webhooks[hook.id]
        await emu.permissions.revoke("general", "MANAGE_WEBHOOKS")
        for n in range(3):
            b.slack.user_says(user="bob", channel="general", text=f"held {n}")
        lane = f"discord:{guild}:{general.id}"
        stats = await until(
            lambda: (s := b.worker.stats.get(lane)) and s.last_error and s.last_error.startswith("held:") and s,
            what="the held channel",
        )
        assert "I need Manage Webhooks in #general" in stats.last_error
        await until(lambda: "held 2" in b.discord_texts("random"), what="the other room, not held up")
        assert not [t for t in b.discord_texts("general") if t.startswith("held")]
        # told: a WARNING, the gauge, /healthz, and a DM to the server's owner (no webhook to post with)
        assert any("I need Manage Webhooks in #general" in r.getMessage() for r in caplog.records)
        assert _needs_admin(guild, general.id) == 1.0
        health = b.adapter("discord").health()
        assert health.ok and any("I need Manage Webhooks in #general" in x for x in health.info["needs_admin"])
        dms = await until(lambda: [m for m in emu.dm_messages("alice") if "Manage Webhooks" in m["content"]],
                          what="the owner told")  # fmt: skip
        assert "grant them to the bot's role" in dms[0]["content"] and len(dms) == 1  # told once

        await emu.permissions.grant("general", "MANAGE_WEBHOOKS")  # the admin fixes it
        await until(
            lambda: [t for t in b.discord_texts("general") if t.startswith("held")] == ["held 0", "held 1", "held 2"],
            what="the backlog in order",
        )
        assert await b.dead_letters() == 0
        assert _needs_admin(guild, general.id) == 0.0
        assert not b.adapter("discord").health().info.get("needs_admin")


async def test_a_channel_hidden_later_is_reported_and_cleared(chat: Chat, redis_url: str) -> None:
    async with both_sides(chat, redis_url) as b:
        emu, guild = b.discord, b.discord.guild_id
        general = emu.channel("general")
        b.slack.user_says(user="bob", channel="general", text="first")  # the bridge's webhook is made
        await until(lambda: "first" in b.discord_texts("general"), what="the first message")
        await emu.permissions.revoke("general", "VIEW_CHANNEL")  # CHANNEL_UPDATE: the adapter re-checks
        await until(lambda: _needs_admin(guild, general.id) == 1.0, what="the problem reported")
        # the webhook still works without any permission of the bot: the admins are told in the channel
        notice = await until(
            lambda: [m for m in emu.messages("general") if "I need View Channel in #general" in m["content"]],
            what="the notice in the channel",
        )
        assert notice[0]["webhook_id"]
        await emu.permissions.reset("general")
        await until(lambda: _needs_admin(guild, general.id) == 0.0, what="the problem cleared")
        b.slack.user_says(user="bob", channel="general", text="visible again")
        await until(lambda: "visible again" in b.discord_texts("general"), what="mirroring")
