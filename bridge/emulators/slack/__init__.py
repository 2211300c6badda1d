"""A local Slack emulator (Web API, Socket Mode, Events API over HTTP) for tests and the sandbox."""

from __future__ import annotations

from bridge.emulators.slack.config import EmulatorConfig, RateLimit
from bridge.emulators.slack.limits import Injected
from bridge.emulators.slack.message_ops import EmulatorError
from bridge.emulators.slack.payloads import sign
from bridge.emulators.slack.server import SlackEmulator
from bridge.emulators.slack.state import (
    CommandRun,
    RecordedRequest,
    SlackChannel,
    SlackMessage,
    SlackUser,
    Workspace,
)

__all__ = [
    "CommandRun",
    "EmulatorConfig",
    "EmulatorError",
    "Injected",
    "RateLimit",
    "RecordedRequest",
    "SlackChannel",
    "SlackEmulator",
    "SlackMessage",
    "SlackUser",
    "Workspace",
    "sign",
]
