"""``chatbridge sandbox say --thread`` and ``sandbox log --thread`` / ``log --json`` threads, against a
real run: a Slack thread crosses to a Discord thread and back, as a newcomer would drive it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from run_kit import Run, bridge_run, wait_for


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    with bridge_run(tmp_path_factory.mktemp("sandbox-threads")) as running:
        yield running


def log_json(run: Run, platform: str, *extra: str) -> list[dict[str, Any]]:
    done = run.cli("sandbox", "log", platform, "--json", "-n", "100", *extra)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def say(run: Run, *args: str) -> dict[str, Any]:
    done = run.cli("sandbox", "say", *args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    posted: dict[str, Any] = json.loads(done.stdout)
    return posted


def test_a_thread_crosses_both_ways_through_the_sandbox(run: Run, tmp_path: Path) -> None:
    root = say(run, "slack", "alice", "Friday", "plan")
    reply = say(run, "slack", "bob", "notes", "from", "bob", "--thread", root["id"])

    def on_discord() -> dict[str, Any] | None:
        return next((m for m in log_json(run, "discord") if m["text"] == "notes from bob"), None)

    copy = wait_for(on_discord, 30, "the reply in a Discord thread")
    thread = copy["thread"]
    root_copy = next(m for m in log_json(run, "discord") if m["text"] == "Friday plan")
    assert thread["name"] == "Friday plan" and thread["parent_id"] == root_copy["channel"]
    assert "thread" not in root_copy and thread["id"] == root_copy["id"]  # started on the root's copy
    slack_rows = {m["id"]: m for m in log_json(run, "slack")}
    assert "thread" not in slack_rows[root["id"]] and slack_rows[reply["id"]]["thread"] == {"thread_ts": root["id"]}

    # a Discord reply "in the thread of" the root's copy joins that thread, and reaches Slack's
    say(run, "discord", "carol", "count", "me", "in", "--thread", root_copy["id"])

    def in_slack_thread() -> list[dict[str, Any]] | None:
        rows = log_json(run, "slack", "--thread", reply["id"])  # a reply's id names its thread
        return rows if len(rows) == 3 else None

    rows = wait_for(in_slack_thread, 30, "the Discord reply in the Slack thread")
    assert [r["text"] for r in rows] == ["Friday plan", "notes from bob", "count me in"]
    assert [r.get("thread") for r in rows[1:]] == [{"thread_ts": root["id"]}] * 2
    discord_rows = log_json(run, "discord", "--thread", thread["id"])
    assert [r["text"] for r in discord_rows] == ["Friday plan", "notes from bob", "count me in"]
    assert "thread" not in discord_rows[0] and all(r["thread"]["id"] == thread["id"] for r in discord_rows[1:])
    plain = run.cli("sandbox", "log", "discord")
    assert "(in thread Friday plan): notes from bob" in plain.stdout


def test_a_thread_of_nothing_is_refused_in_one_line(run: Run) -> None:
    done = run.cli("sandbox", "say", "discord", "alice", "x", "--thread", "123")
    assert done.returncode == 1 and "refused" in done.stdout and "Traceback" not in done.stdout + done.stderr
    done = run.cli("sandbox", "say", "slack", "alice", "x", "--thread", "1.000001")
    assert done.returncode == 1 and "refused" in done.stdout
    done = run.cli("sandbox", "log", "discord", "--thread", "123", "--json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
