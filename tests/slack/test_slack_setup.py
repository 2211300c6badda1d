"""Slack setup: the app manifest, the adapter settings and the secrets from the environment."""

from __future__ import annotations

import json

import pytest
import yaml
from pydantic import ValidationError

from bridge.adapters.slack import SlackAdapter, SlackConfig, SlackSecrets, render_manifest, slack_manifest
from bridge.errors import ConfigError


def test_manifest_socket_mode() -> None:
    m = slack_manifest()
    assert m["settings"]["socket_mode_enabled"] is True
    assert m["oauth_config"]["scopes"]["bot"] == [
        "channels:history",
        "channels:join",
        "channels:read",
        "chat:write",
        "chat:write.customize",
        "commands",
        "emoji:read",
        "files:read",
        "files:write",
        "groups:history",
        "groups:read",
        "im:write",
        "reactions:read",
        "reactions:write",
        "users:read",
    ]
    assert m["settings"]["event_subscriptions"] == {
        "bot_events": [
            "message.channels",
            "message.groups",
            "reaction_added",
            "reaction_removed",
            "member_joined_channel",
            "channel_left",
            "group_left",
        ]
    }
    [command] = m["features"]["slash_commands"]
    assert command["command"] == "/chat" and command["should_escape"] is True and "url" not in command
    assert yaml.safe_load(render_manifest(m)) == m
    assert json.loads(render_manifest(m, fmt="json")) == m


def test_manifest_http_mode() -> None:
    url = "https://bridge.example.com/slack/events"
    m = slack_manifest(mode="http", request_url=url, command="/bridge")
    assert m["settings"]["socket_mode_enabled"] is False
    assert m["settings"]["event_subscriptions"]["request_url"] == url
    assert m["features"]["slash_commands"][0] == {
        **m["features"]["slash_commands"][0],
        "url": url,
        "command": "/bridge",
    }
    with pytest.raises(ValueError, match="request URL"):
        slack_manifest(mode="http")


def test_config_validation() -> None:
    cfg = SlackConfig.model_validate({"api_base_url": "http://127.0.0.1:9/api", "admin_users": ["U123ABC"]})
    assert cfg.api_base_url == "http://127.0.0.1:9/api/" and cfg.mode == "socket"
    assert SlackConfig(api_base_url="http://x/api/").api_base_url == "http://x/api/"
    for bad in ({"mode": "webhook"}, {"api_base_url": "ftp://x"}, {"admin_users": ["bob"]}, {"http_path": "events"},
                {"max_message_chars": 50_000}, {"token": "xoxb-in-a-file"}):  # fmt: skip
        with pytest.raises(ValidationError):
            SlackConfig.model_validate(bad)


def test_secrets_from_env() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SLACK_SIGNING_SECRET": "s3"}
    assert SlackSecrets.from_env("socket", env) == SlackSecrets("xoxb-1", app_token="xapp-1")
    assert SlackSecrets.from_env("http", env) == SlackSecrets("xoxb-1", signing_secret="s3")
    assert "xoxb" not in repr(SlackSecrets.from_env("socket", env))
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        SlackSecrets.from_env("socket", {})
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        SlackSecrets.from_env("socket", {"SLACK_BOT_TOKEN": "xoxb-1"})
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        SlackSecrets.from_env("http", {"SLACK_BOT_TOKEN": "xoxb-1"})


async def test_adapter_refuses_missing_secret_and_bad_token(slack: object) -> None:
    from bridge.emulators.slack import SlackEmulator

    assert isinstance(slack, SlackEmulator)
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        SlackAdapter(chat=None, config=SlackConfig(), secrets=SlackSecrets("xoxb-1"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        SlackAdapter(chat=None, config=SlackConfig(mode="http"), secrets=SlackSecrets("xoxb-1"))  # type: ignore[arg-type]
    adapter = SlackAdapter(
        chat=None,  # type: ignore[arg-type]
        config=SlackConfig(api_base_url=slack.api_url),
        secrets=SlackSecrets("xoxb-wrong", app_token=slack.config.app_token),
    )
    with pytest.raises(ConfigError, match="invalid_auth"):
        await adapter.start()
    await adapter.stop()
