"""DiscordConfig validation and how the emulator URLs reach discord.py."""

from __future__ import annotations

import asyncio
import sys

import discord
import pytest

from bridge.adapters.discord import DiscordConfig
from bridge.adapters.discord.endpoints import apply_endpoints, current_endpoints, restore_endpoints
from bridge.errors import ConfigError


def test_defaults_and_token_from_environment() -> None:
    config = DiscordConfig.load({}, environ={})
    assert config.command_name == "chat" and config.message_content and config.guild_ids == ()
    assert config.token({}) is None
    assert config.token({"DISCORD_TOKEN": "  abc  "}) == "abc"
    custom = DiscordConfig.load({"token_env": "MY_BOT"}, environ={})
    assert custom.token({"MY_BOT": "xyz", "DISCORD_TOKEN": "other"}) == "xyz"


def test_token_in_the_file_is_refused() -> None:
    with pytest.raises(ConfigError, match="must not be in the config file"):
        DiscordConfig.load({"token": "secret"}, environ={})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"command_name": "Chat Room"}, "discord.command_name"),
        ({"webhook_name": "my discord bridge"}, "discord.webhook_name"),
        ({"api_base": "ftp://x"}, "discord.api_base"),
        ({"gateway_url": "http://127.0.0.1/gateway"}, "discord.gateway_url"),
        ({"guild_ids": ["abc"]}, "discord.guild_ids.0"),
        ({"defer_after": 5}, "discord.defer_after"),
        ({"unknown_key": 1}, "discord.unknown_key"),
    ],
)
def test_bad_settings_are_named(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DiscordConfig.load(raw, environ={})


def test_environment_overrides_the_urls() -> None:
    env = {"DISCORD_API_BASE": "http://127.0.0.1:9/api/v10/", "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/gateway"}
    config = DiscordConfig.load({"guild_ids": [1, 2], "admin_role_ids": [3]}, environ=env)
    assert config.api_base == "http://127.0.0.1:9/api/v10"
    assert config.gateway_url == "ws://127.0.0.1:9/gateway"
    assert config.guild_ids == (1, 2) and config.admin_role_ids == (3,) and config.uses_emulator


def test_apply_endpoints_sets_and_restores_discord_py(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    )
    before = current_endpoints()
    previous = apply_endpoints(api_base="http://127.0.0.1:1/api/v10", gateway_url="ws://127.0.0.1:1/gateway")
    assert previous == before
    assert discord.http.Route("GET", "/users/@me").url == "http://127.0.0.1:1/api/v10/users/@me"
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:1/gateway"
    restore_endpoints(previous)
    assert current_endpoints() == before


async def test_emulator_runs_as_a_process() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge.emulators.discord", "--port", "0", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=20)
        assert line.decode().startswith("DISCORD_API_BASE=http://127.0.0.1:")
    finally:
        proc.terminate()
        await proc.wait()


def test_invite_url() -> None:
    from urllib.parse import parse_qs, urlsplit

    from bridge.adapters.discord.invite import ADD_REACTIONS, ATTACH_FILES, MANAGE_WEBHOOKS, invite_url

    url = invite_url(DiscordConfig.load({"application_id": 123456789012345678}, environ={}))
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "discord.com", "/oauth2/authorize")
    query = parse_qs(parts.query)
    assert query["client_id"] == ["123456789012345678"] and query["scope"] == ["bot applications.commands"]
    assert int(query["permissions"][0]) & MANAGE_WEBHOOKS
    assert int(query["permissions"][0]) & ATTACH_FILES == 1 << 15  # files mirrored from Slack
    assert int(query["permissions"][0]) & ADD_REACTIONS  # the bot mirrors other people's reactions
    assert "client_id=42" in invite_url(DiscordConfig.load({}, environ={}), 42)
    with pytest.raises(ConfigError, match="application_id"):
        invite_url(DiscordConfig.load({}, environ={}))
