"""Text between Slack mrkdwn, Discord markdown and core markdown: parse, render, sanitise, split.

A leaf package: pure functions, no Redis, no platform SDK, no I/O. The core and both adapters
import it; it imports nothing else of ``bridge``. ``convert`` holds the public conversions and
their conventions; the other modules are its parts:

- ``tree`` — the syntax tree and the scanning loop both lexers share;
- ``parse_markdown`` — core/Discord markdown → tree; ``parse_mrkdwn`` — Slack mrkdwn → tree;
- ``render_markdown`` — tree → core/Discord markdown; ``render_mrkdwn`` — tree → Slack mrkdwn;
- ``sanitize`` — the only home of the mass-mention and bidi rules;
- ``split`` — cutting rendered text at a platform's limit.
"""

from bridge.formatting.convert import (
    core_mentions,
    core_to_discord,
    core_to_discord_with_mentions,
    core_to_plain,
    core_to_slack,
    discord_to_core,
    slack_to_core,
)
from bridge.formatting.parse_markdown import format_unix_time
from bridge.formatting.sanitize import (
    MASS_MENTIONS,
    ZWSP,
    is_mass_mention,
    neutralise_mass_mentions,
    restore_mass_mentions,
    sanitize_text,
)
from bridge.formatting.split import (
    DISCORD_LIMIT,
    SLACK_HARD_LIMIT,
    SLACK_LIMIT,
    split_for_discord,
    split_for_slack,
    split_message,
)

__all__ = [
    "DISCORD_LIMIT",
    "MASS_MENTIONS",
    "SLACK_HARD_LIMIT",
    "SLACK_LIMIT",
    "ZWSP",
    "core_mentions",
    "core_to_discord",
    "core_to_discord_with_mentions",
    "core_to_plain",
    "core_to_slack",
    "discord_to_core",
    "format_unix_time",
    "is_mass_mention",
    "neutralise_mass_mentions",
    "restore_mass_mentions",
    "sanitize_text",
    "slack_to_core",
    "split_for_discord",
    "split_for_slack",
    "split_message",
]
