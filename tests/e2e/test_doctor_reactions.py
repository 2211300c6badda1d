"""`chatbridge doctor` checks what mirrored reactions need: Add Reactions in every guild the bridge
serves on Discord, and the reaction scopes on Slack (the manifest asks for both)."""

from __future__ import annotations

import pytest
from test_doctor import run_doctor

from bridge.emulators.discord.reaction_routes import ADD_REACTIONS
from bridge.emulators.discord.server import DiscordEmulator
from bridge.emulators.slack.config import EmulatorConfig
from bridge.emulators.slack.server import SlackEmulator


async def test_doctor_names_a_missing_add_reactions_permission(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    async with DiscordEmulator() as discord, SlackEmulator() as slack:
        code = await run_doctor(monkeypatch, redis_url, discord, slack)
        assert code == 0 and "[ok] the bot may add reactions in Emulated Guild" in capsys.readouterr().out
        discord.world.owner_id = discord.user("alice").id  # an owner has every permission
        for role in discord.world.roles.values():  # a server that never granted it
            role.permissions &= ~ADD_REACTIONS
        code = await run_doctor(monkeypatch, redis_url, discord, slack)
    out = capsys.readouterr().out
    assert code == 1
    line = next(x for x in out.splitlines() if "reactions" in x and x.startswith("[!!]"))
    assert "lacks Add Reactions in Emulated Guild" in line and "chatbridge discord-invite" in line


async def test_doctor_names_missing_reaction_scopes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    scopes = tuple(s for s in EmulatorConfig().scopes if s not in ("reactions:read", "reactions:write", "emoji:read"))
    async with DiscordEmulator() as discord, SlackEmulator(config=EmulatorConfig(scopes=scopes)) as slack:
        code = await run_doctor(monkeypatch, redis_url, discord, slack)
    out = capsys.readouterr().out
    assert code == 1
    assert "lacks the scope(s) emoji:read, reactions:read, reactions:write" in out
