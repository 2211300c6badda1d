"""`chatbridge doctor` checks what threads need: Create Public Threads, Send Messages in Threads and
Manage Threads in every guild the bridge serves (and the invite URL asks for them)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from test_doctor import run_doctor

from bridge.adapters.discord.config import DiscordConfig
from bridge.adapters.discord.invite import THREAD_PERMISSIONS, invite_url
from bridge.emulators.discord.server import DiscordEmulator
from bridge.emulators.slack.server import SlackEmulator


def test_the_invite_asks_for_the_thread_permissions() -> None:
    url = invite_url(DiscordConfig(application_id=123))
    asked = int(parse_qs(urlparse(url).query)["permissions"][0])
    assert all(asked & bit for bit in THREAD_PERMISSIONS)


async def test_doctor_names_missing_thread_permissions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    async with DiscordEmulator() as discord, SlackEmulator() as slack:
        code = await run_doctor(monkeypatch, redis_url, discord, slack)
        assert code == 0 and "[ok] the bot may start, post in and manage threads in" in capsys.readouterr().out
        discord.world.owner_id = discord.user("alice").id  # an owner has every permission
        for role in discord.world.roles.values():  # a server that never granted them
            role.permissions &= ~sum(THREAD_PERMISSIONS)
        code = await run_doctor(monkeypatch, redis_url, discord, slack)
    out = capsys.readouterr().out
    assert code == 1
    line = next(x for x in out.splitlines() if "threads" in x and x.startswith("[!!]"))
    assert "lacks Create Public Threads, Send Messages in Threads, Manage Threads in Emulated Guild" in line
    assert " — re-invite it with the URL from `chatbridge discord-invite`" in line
