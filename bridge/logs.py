"""Logging set-up for every ``chatbridge`` command: one line per record, text or JSON, secrets masked.

- ``--log-format text`` (default): ``2026-12-01 21:40:00,123 WARNING bridge.drops: ...``;
  ``--log-format json``: one JSON object per line (``ts`` ISO 8601 UTC, ``level``, ``logger``,
  ``message``, and ``exc`` with the traceback when there is one), for log shippers.
- ``-v`` turns the bridge's own loggers (``bridge.*``) to DEBUG; the libraries stay at INFO (their
  DEBUG output carries whole gateway payloads and request URLs) unless ``-vv``.
- Secrets never reach the output: every formatted line (message, arguments and traceback) goes
  through :func:`redact`, which masks the values registered with :func:`add_secret` (bot tokens, app
  token, signing secret) and anything shaped like a secret (Slack ``xox?-``/``xapp-`` tokens, the
  Socket Mode URL's ``ticket``, Discord webhook and interaction-callback tokens in URLs,
  ``Authorization: Bot ...``, the password in a ``redis://`` URL, the value of any ``token`` /
  ``secret`` / ``password`` key in a logged payload, e.g. a webhook object discord.py logs at DEBUG).
- Library noise that says nothing to an operator is dropped: discord.py's "voice will NOT be
  supported" warnings (the bridge has no voice) and slack-bolt's start-up notes about the token /
  client it was given (the adapter passes its own ``AsyncWebClient`` on purpose). Reconnect loops
  in discord.py and slack_sdk that log a whole traceback per attempt are cut to one WARNING line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"

_secrets: set[str] = set()
_format: LogFormat = "text"
_PATTERNS = (
    (re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+"), r"\1-" + MASK),
    (re.compile(r"(/webhooks/\d+/)[A-Za-z0-9_.-]+"), r"\g<1>" + MASK),
    (re.compile(r"(/interactions/\d+/)[A-Za-z0-9_.-]+"), r"\g<1>" + MASK),
    (re.compile(r"(\bBot\s+)[A-Za-z0-9_.-]{16,}"), r"\g<1>" + MASK),
    (re.compile(r"(\brediss?://[^/\s:@]*:)[^@\s/]+@"), r"\g<1>" + MASK + "@"),
    (re.compile(r"([?&]ticket=)[A-Za-z0-9_-]+"), r"\g<1>" + MASK),
    (re.compile(r"""(\\?['"]\w*(?:token|secret|password)\\?['"]\s*:\s*\\?['"])[^'"\\]+"""), r"\g<1>" + MASK),
)


def add_secret(value: str | None) -> None:
    """Mask ``value`` wherever it would appear in a log line (values shorter than 6 are ignored:
    masking them would garble ordinary words)."""
    if value and len(value) >= 6:
        _secrets.add(value)


def is_json() -> bool:
    """True when the logs are JSON lines (then nothing else should be printed to stderr/stdout
    beside them that a log shipper would have to skip)."""
    return _format == "json"


def redact(text: str) -> str:
    for value in sorted(_secrets, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record; ``exc`` carries the traceback (newlines inside the string)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return redact(json.dumps(out, ensure_ascii=False))


SLACK_SDK_LOGGER = "bridge.adapters.slack.sdk"
"""The logger the Slack adapter hands to slack-bolt and slack_sdk (their own lines)."""
LIBRARY_LOGGERS = ("discord", "slack_bolt", "slack_sdk", SLACK_SDK_LOGGER, "aiohttp")
"""At INFO but with ``-vv`` (their DEBUG lines carry whole payloads). Every other logger of the
bridge is named for its module (``logging.getLogger(__name__)``); ``bridge.drops`` is the one
channel named for what it carries: every inbound event that did not cross, with its reason."""
_DROP = (
    ("discord.client", "voice will NOT be supported"),
    ("slack_bolt", "`token` will be unused"),
    ("slack_bolt", "`token` (or SLACK_BOT_TOKEN env variable) will be ignored"),
    (SLACK_SDK_LOGGER, "`token` will be unused"),
    (SLACK_SDK_LOGGER, "`token` (or SLACK_BOT_TOKEN env variable) will be ignored"),
)
_ONE_LINE = (
    ("discord.client", "Attempting a reconnect in"),
    ("slack_sdk.socket_mode", "Failed to connect"),
    (SLACK_SDK_LOGGER, "Failed to connect"),
)


class LibraryNoise(logging.Filter):
    """Drops the notes in :data:`_DROP`; turns the reconnect tracebacks of :data:`_ONE_LINE` into
    one WARNING line that still says what failed."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        message = record.getMessage()
        if any(name.startswith(prefix) and text in message for prefix, text in _DROP):
            return False
        if record.exc_info and any(name.startswith(p) and message.startswith(t) for p, t in _ONE_LINE):
            error = record.exc_info[1]
            said = error is None or str(error) in message
            record.msg = message if said else f"{message} ({type(error).__name__}: {error})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def configure(*, verbose: int = 0, fmt: LogFormat = "text", stream: object = None) -> None:
    """Install the one handler on the root logger (replacing earlier ones)."""
    global _format
    _format = fmt
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(TEXT_FORMAT))
    handler.addFilter(LibraryNoise())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("bridge").setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
    logging.captureWarnings(True)
