"""The Slack adapter: slash commands and mirrored room traffic through slack-bolt (async)."""

from __future__ import annotations

from bridge.adapters.slack.adapter import SlackAdapter
from bridge.adapters.slack.config import SlackConfig, SlackSecrets
from bridge.adapters.slack.manifest import render_manifest, slack_manifest
from bridge.adapters.slack.outbound import SlackDestination

__all__ = ["SlackAdapter", "SlackConfig", "SlackDestination", "SlackSecrets", "render_manifest", "slack_manifest"]
