"""`chatbridge doctor` checks the bot's permissions in every linked Discord channel, overwrites
included (computed from REST: the channel, the guild's roles, the bot's member)."""

from __future__ import annotations

import pytest
from test_doctor import run_doctor

from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.emulators.discord.server import DiscordEmulator
from bridge.emulators.slack.server import SlackEmulator


async def test_doctor_names_what_the_bot_lacks_in_each_linked_channel(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], redis_url: str, chat: Chat
) -> None:
    try:
        await _doctor_on_linked_channels(monkeypatch, capsys, redis_url, chat)
    finally:  # the other doctor tests share this Redis without flushing it: no links left for them
        await chat.ctx.redis.flushall()


async def _doctor_on_linked_channels(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], redis_url: str, chat: Chat
) -> None:
    async with DiscordEmulator() as discord, SlackEmulator() as slack:
        await chat.channels.create("general")
        for name in ("general", "random", "cricket"):
            await chat.channels.link("general", ChannelRef("discord", discord.guild_id, discord.channel(name).id))
        code = await run_doctor(monkeypatch, redis_url, discord, slack, keep_data=True)
        out = capsys.readouterr().out
        assert code == 0, out
        assert "[ok] the bot has what mirroring needs in #general" in out and "#cricket" in out

        await discord.permissions.revoke("general", "MANAGE_WEBHOOKS", "READ_MESSAGE_HISTORY")
        await discord.permissions.revoke("random", "SEND_MESSAGES", who="chatbridge")  # on the bot's role
        await discord.permissions.revoke("cricket", "VIEW_CHANNEL", who="@everyone")
        await discord.permissions.grant("cricket", "VIEW_CHANNEL", who="chatbridge")  # a role allow wins
        await discord.permissions.revoke("cricket", "ADD_REACTIONS")
        code = await run_doctor(monkeypatch, redis_url, discord, slack, keep_data=True)
    out = capsys.readouterr().out
    assert code == 1
    problems = [line for line in out.splitlines() if line.startswith("[!!]")]
    assert len(problems) == 2, out
    assert problems[0].startswith("[!!] I need Read Message History and Manage Webhooks in #general")
    assert problems[1].startswith("[!!] I need Send Messages in #random")
    assert all(" — grant them to the bot's role" in line for line in problems)
    assert "[ok] the bot has what mirroring needs in #cricket" in out
    assert "[--] #cricket mirrors without Add Reactions" in out
