"""``chatbridge sandbox say --file`` and ``sandbox log --json`` files, against a real run: a newcomer
sends an image from Discord and sees it on Slack, and the other way; sha256 of what the destination
emulator holds equals the file sent."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_kit import Run, bridge_run, wait_for


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    with bridge_run(tmp_path_factory.mktemp("sandbox-files")) as running:
        yield running


def log_json(run: Run, platform: str) -> list[dict[str, object]]:
    done = run.cli("sandbox", "log", platform, "--json", "-n", "50")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_files_cross_both_ways_byte_for_byte(run: Run, tmp_path: Path) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(os.urandom(200_000))
    done = run.cli("sandbox", "say", "discord", "alice", "--file", str(image), "--json")  # no text at all
    assert done.returncode == 0, done.stderr
    want = {
        "name": "photo.png",
        "size": 200_000,
        "content_type": "image/png",
        "sha256": hashlib.sha256(image.read_bytes()).hexdigest(),
    }

    def on_slack() -> dict[str, object] | None:
        return next((m for m in log_json(run, "slack") if m.get("files") == [want]), None)

    wait_for(on_slack, 30, "the image mirrored to Slack")
    original = next(m for m in log_json(run, "discord") if m.get("files"))
    assert original["files"] == [want]  # what the Discord emulator received from the sandbox

    a, b = tmp_path / "a.txt", tmp_path / "b.bin"
    a.write_bytes(b"plain text\n")
    b.write_bytes(os.urandom(3000))
    done = run.cli("sandbox", "say", "slack", "bob", "two", "files", "--file", str(a), "--file", str(b))
    assert done.returncode == 0, done.stderr
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)]

    def on_discord() -> dict[str, object] | None:
        return next((m for m in log_json(run, "discord") if m["text"] == "two files" and m.get("files")), None)

    copy = wait_for(on_discord, 30, "the files mirrored to Discord")
    assert [f["sha256"] for f in copy["files"]] == digests  # type: ignore[index, union-attr]
    plain = run.cli("sandbox", "log", "discord")
    assert "📎 a.txt (11 bytes)" in plain.stdout


def test_bad_file_arguments_are_one_line(run: Run, tmp_path: Path) -> None:
    missing = run.cli("sandbox", "say", "discord", "alice", "--file", str(tmp_path / "nope.png"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
    empty = run.cli("sandbox", "say", "slack", "bob")
    assert empty.returncode == 1 and "say what?" in empty.stderr
