"""``chatbridge sandbox say/log --json`` against a real run, and one-line errors when nothing runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_kit import Run, bridge_run, cli, wait_for


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    with bridge_run(tmp_path_factory.mktemp("sandbox-json")) as running:
        yield running


def log_json(run: Run, platform: str, *extra: str) -> list[dict[str, object]]:
    done = run.cli("sandbox", "log", platform, "--json", *extra)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_say_json_prints_the_posted_message(run: Run) -> None:
    done = run.cli("sandbox", "say", "discord", "alice", "hello", "json", "--json")
    assert done.returncode == 0, done.stderr
    posted = json.loads(done.stdout)
    assert posted["platform"] == "discord" and posted["channel"] == run.info["discord"]["general"]
    assert posted["user"] == "alice" and posted["text"] == "hello json" and posted["id"]
    stored = log_json(run, "discord")
    mine = next(m for m in stored if m["id"] == posted["id"])
    assert mine["author"]["username"] == "alice" and mine["author"]["id"] and not mine["author"]["bot"]  # type: ignore[index]
    assert mine["text"] == "hello json" and mine["edited"] is False and mine["created_at"]

    done = run.cli("sandbox", "say", "slack", "bob", "from slack", "--json")
    assert done.returncode == 0, done.stderr
    posted = json.loads(done.stdout)
    assert posted["platform"] == "slack" and posted["channel"] == run.info["slack"]["general"]
    assert posted["id"] and "." in posted["id"]


def test_log_json_shows_the_mirrored_copy_as_the_bridge_posted_it_and_its_edit(run: Run) -> None:
    said = json.loads(run.cli("sandbox", "say", "discord", "carol", "to be edited", "--json").stdout)

    def copy_on_slack() -> dict[str, object] | None:
        return next((m for m in log_json(run, "slack") if m["text"] == "to be edited"), None)

    copy = wait_for(copy_on_slack, 30, "the message mirrored to Slack")
    author = copy["author"]
    assert isinstance(author, dict)
    assert author["bot"] is True and author["bot_id"] and author["id"] is None
    assert author["username"], copy  # the custom username the bridge posted with
    assert copy["channel"] == run.info["slack"]["general"] and copy["edited"] is False
    assert str(copy["created_at"]).endswith("+00:00")

    status, _ = run.emulator(
        "discord", "PATCH", f"/messages/{said['channel']}/{said['id']}", {"content": "edited on discord"}
    )
    assert status == 200

    def edited_on_slack() -> dict[str, object] | None:
        found = next((m for m in log_json(run, "slack") if m["id"] == copy["id"]), None)
        return found if found and found["edited"] else None

    edited = wait_for(edited_on_slack, 30, "the edit mirrored to Slack")
    assert edited["text"] == "edited on discord" and edited["edited_at"]

    original = next(m for m in log_json(run, "discord") if m["id"] == said["id"])
    assert original["edited"] is True and original["edited_at"]


def test_log_json_shows_webhook_author_on_discord(run: Run) -> None:
    run.cli("sandbox", "say", "slack", "bob", "webhook please")

    def copy() -> dict[str, object] | None:
        return next((m for m in log_json(run, "discord", "-n", "50") if m["text"] == "webhook please"), None)

    found = wait_for(copy, 30, "the message mirrored to Discord")
    author = found["author"]
    assert isinstance(author, dict)
    assert author["webhook_id"] and author["id"] is None and author["bot"] is True and author["username"]
    assert log_json(run, "discord", "-n", "1")[-1]["id"] == log_json(run, "discord")[-1]["id"]


def test_log_json_of_an_unknown_channel_is_one_line(run: Run) -> None:
    done = run.cli("sandbox", "log", "discord", "--channel", "no-such-room", "--json")
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "verb",
    [
        ("say", "discord", "alice", "hi"),
        ("say", "slack", "bob", "hi", "--json"),
        ("log", "slack", "--json"),
        ("slash", "discord", "alice", "channels"),
        ("users", "slack"),
    ],
)
def test_every_sandbox_command_says_in_one_line_that_nothing_runs(tmp_path: Path, verb: tuple[str, ...]) -> None:
    data = tmp_path / "data"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"redis:\n  data_dir: {data}\n")
    done = cli(cfg, tmp_path, "sandbox", *verb)
    assert done.returncode == 4, done
    assert len(done.stderr.strip().splitlines()) == 1 and "no sandbox is running" in done.stderr, done.stderr

    # a run that was SIGKILLed leaves its sandbox file behind: the bridge and emulators are gone
    data.mkdir()
    dead = "http://127.0.0.1:9"
    stale = {"discord": {"url": dead}, "slack": {"url": dead}, "http": dead, "redis": "redis://127.0.0.1:9"}
    (data / "chatbridge-sandbox.json").write_text(json.dumps(stale))
    done = cli(cfg, tmp_path, "sandbox", *verb)
    assert done.returncode == 4, done
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "the bridge is not running" in done.stderr
