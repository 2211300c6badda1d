"""Sharding: the adapter on discord.py's AutoShardedClient, against a two-shard emulator."""

from __future__ import annotations

import discord
import pytest
import yarl

from bridge.adapters.discord import DiscordAdapter, DiscordConfig
from bridge.adapters.discord.client import ShardedBridgeClient
from bridge.core.chat import Chat
from bridge.emulators.discord import DiscordEmulator, EmulatorConfig


@pytest.mark.parametrize("shards", ["auto", 2])
async def test_sharded_adapter(chat: Chat, monkeypatch: pytest.MonkeyPatch, shards: str | int) -> None:
    async with DiscordEmulator(EmulatorConfig(recommended_shards=2, guild_shard=1)) as emu:
        monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(emu.gateway_url))
        config = DiscordConfig(
            api_base=emu.api_base,
            gateway_url=emu.gateway_url,
            guild_ids=(int(emu.guild_id),),
            shards=shards,
            identify_delay=0,
        )
        bridge = DiscordAdapter(chat=chat, config=config)
        assert isinstance(bridge.client, ShardedBridgeClient)
        await bridge.start(emu.token, ready_within=15)
        try:
            sessions = {s.shard: s for s in emu.gateway.sessions.values()}
            assert set(sessions) == {(0, 2), (1, 2)}
            assert bridge.client.shard_count == 2
            for command, options in (("create", {"channel": "cricket"}), ("link", {"channel": "cricket"})):
                reply = await emu.wait_for_reply(await emu.slash("alice", "general", f"chat {command}", options))
                assert not reply["content"].startswith("⚠️"), reply["content"]
            await emu.say("bob", "general", "over shard one")
            [result] = await bridge.inbound.wait_handled(1)
            assert result.status == "recorded"
            events = {shard: [p["t"] for p in s.buffer] for shard, s in sessions.items()}
            assert "GUILD_CREATE" not in events[(0, 2)] and "MESSAGE_CREATE" not in events[(0, 2)]
            assert "GUILD_CREATE" in events[(1, 2)] and "MESSAGE_CREATE" in events[(1, 2)]
        finally:
            await bridge.close()


def test_bad_shard_settings() -> None:
    from bridge.errors import ConfigError

    with pytest.raises(ConfigError, match=r"discord\.shards"):
        DiscordConfig.load({"shards": 0}, environ={})
    with pytest.raises(ConfigError, match=r"discord\.shards"):
        DiscordConfig.load({"shards": "many"}, environ={})


async def test_startup_failures_are_config_errors(chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.errors import ConfigError

    async with DiscordEmulator(EmulatorConfig(message_content_enabled=False)) as emu:
        monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(emu.gateway_url))
        config = DiscordConfig(api_base=emu.api_base, gateway_url=emu.gateway_url)
        with pytest.raises(ConfigError, match="DISCORD_TOKEN: Discord refused the bot token"):
            await DiscordAdapter(chat=chat, config=config).start("not-the-token", ready_within=10)
        with pytest.raises(ConfigError, match="Message Content intent is not enabled"):
            await DiscordAdapter(chat=chat, config=config).start(emu.token, ready_within=10)
        without = DiscordAdapter(chat=chat, config=config.model_copy(update={"message_content": False}))
        await without.start(emu.token, ready_within=10)
        await without.close()
