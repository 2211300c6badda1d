"""bridge.logs: secrets masked in every line (message, args, traceback), JSON lines, library noise."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bridge import logs


@pytest.fixture
def captured(logging_restored: None) -> io.StringIO:
    return io.StringIO()


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("POST https://discord.com/api/v10/webhooks/123/Tok-en_abc.DEF?wait=true", "Tok-en_abc.DEF"),
        ("callback /interactions/99/aW50ZXJhY3Rpb24/callback", "aW50ZXJhY3Rpb24"),
        ("headers {'Authorization': 'Bot MTIzNDU2Nzg5MDEyMzQ1Njc4.abc.def'}", "MTIzNDU2Nzg5MDEyMzQ1Njc4.abc.def"),
        ("using xoxb-1234-5678-abcdEFGH and xapp-1-A0-99-ffff", "abcdEFGH"),
        ("connect ws://h/link/?ticket=0a1b2c3d&app_id=A0", "0a1b2c3d"),
        ("redis at rediss://default:s3cr3t-pw@redis.example:6380/0", "s3cr3t-pw"),
        ("""webhook {'id': '1', 'token': 'plainvalue42', "name": 'x'}""", "plainvalue42"),
    ],
)
def test_shaped_secrets_are_masked(line: str, secret: str) -> None:
    assert secret not in logs.redact(line) and logs.MASK in logs.redact(line)


def test_registered_secrets_are_masked_in_messages_args_and_tracebacks(captured: io.StringIO) -> None:
    logs.configure(fmt="text", stream=captured)
    logs.add_secret("signing-secret-value")
    log = logging.getLogger("bridge.test")
    log.warning("checking %s", "signing-secret-value")
    try:
        raise ValueError("bad signature for signing-secret-value")
    except ValueError:
        log.exception("request refused")
    text = captured.getvalue()
    assert "signing-secret-value" not in text and text.count(logs.MASK) >= 2 and "Traceback" in text


def test_json_lines_carry_level_logger_message_and_the_traceback(captured: io.StringIO) -> None:
    logs.configure(fmt="json", stream=captured, verbose=1)
    log = logging.getLogger("bridge.test")
    log.debug("debug shows with -v")
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.error("it broke: %s", "xoxb-1-2-3", exc_info=True)
    lines = captured.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "DEBUG" and first["logger"] == "bridge.test" and first["ts"].endswith("+00:00")
    assert second["message"] == "it broke: xoxb-***" and "ZeroDivisionError" in second["exc"]


def test_library_notes_are_dropped_and_reconnect_tracebacks_are_one_line(captured: io.StringIO) -> None:
    logs.configure(stream=captured)
    logging.getLogger("discord.client").warning("PyNaCl is not installed, voice will NOT be supported")
    logging.getLogger(logs.SLACK_SDK_LOGGER).warning("As you gave `client` as well, `token` will be unused.")
    logging.getLogger("discord.http").debug("not shown without -vv")
    try:
        raise ConnectionError("503 from the gateway")
    except ConnectionError:
        logging.getLogger("discord.client").exception("Attempting a reconnect in %.2fs", 1.5)
    lines = captured.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "WARNING discord.client: Attempting a reconnect in 1.50s (ConnectionError: 503 from the gateway)" in lines[0]
