"""`chatbridge sandbox react` and the `reactions` key of `sandbox log --json`, against a real `chatbridge run`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_make_run_sandbox import cli, sandbox, wait_for

__all__ = ["sandbox"]  # the fixture, shared with test_make_run_sandbox


def log_json(cfg: Path, cwd: Path, platform: str) -> list[dict[str, Any]]:
    out = cli(cfg, cwd, "sandbox", "log", platform, "--json")
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def find(cfg: Path, cwd: Path, platform: str, text: str) -> dict[str, Any] | None:
    return next((m for m in log_json(cfg, cwd, platform) if text in m["text"]), None)


@pytest.mark.timeout(180)  # a real `chatbridge run` driven through some twenty CLI processes
def test_react_both_ways_and_log_shows_reactions(sandbox: tuple[Path, Path]) -> None:
    cfg, cwd = sandbox
    said = cli(cfg, cwd, "sandbox", "say", "discord", "alice", "react to this", "--json")
    assert said.returncode == 0, said.stderr
    discord_id = json.loads(said.stdout)["id"]
    wait_for(lambda: find(cfg, cwd, "slack", "react to this"), 30)
    slack_copy = find(cfg, cwd, "slack", "react to this")
    assert slack_copy is not None
    reacted = cli(cfg, cwd, "sandbox", "react", "slack", "bob", slack_copy["id"], ":wave::skin-tone-3:")
    assert reacted.returncode == 0, reacted.stderr

    def on_discord() -> Any:
        message = find(cfg, cwd, "discord", "react to this")
        return message and message.get("reactions")

    wait_for(on_discord, 30)
    assert on_discord() == [{"emoji": "👋🏼", "count": 1, "users": ["chatbridge"]}]
    assert find(cfg, cwd, "slack", "react to this")["reactions"] == [  # type: ignore[index]
        {"emoji": "wave::skin-tone-3", "count": 1, "users": ["bob"]}
    ]
    assert cli(cfg, cwd, "sandbox", "react", "discord", "carol", discord_id, "🎉").returncode == 0
    wait_for(
        lambda: any(r["emoji"] == "tada" for r in find(cfg, cwd, "slack", "react to this").get("reactions", [])), 30
    )  # type: ignore[union-attr]
    removed = cli(cfg, cwd, "sandbox", "react", "slack", "bob", slack_copy["id"], "👋🏼", "--remove", "--json")
    assert removed.returncode == 0 and json.loads(removed.stdout)["reactions"] == [
        {"emoji": "tada", "count": 1, "users": ["chatbridge"]}
    ], removed.stdout
    wait_for(lambda: [r["emoji"] for r in on_discord() or []] == ["🎉"], 30)
    line = cli(cfg, cwd, "sandbox", "log", "discord").stdout
    assert "react to this [🎉 1]" in line


@pytest.mark.timeout(120)
def test_react_bad_input_is_one_clear_line(sandbox: tuple[Path, Path]) -> None:
    cfg, cwd = sandbox
    said = cli(cfg, cwd, "sandbox", "say", "slack", "bob", "bad reactions", "--json")
    ts = json.loads(said.stdout)["id"]
    for args, words in (
        (("slack", "bob", ts, ":nosuchemoji:"), "no emoji named"),
        (("slack", "bob", ts, "x"), "no emoji Slack knows"),
        (("slack", "bob", "1.000001", ":+1:"), "no message"),
        (("discord", "alice", "123", "👍"), "Unknown Message"),
        (("discord", "alice", "123", " "), "react with what"),
    ):
        out = cli(cfg, cwd, "sandbox", "react", *args)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert words in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
    assert "reactions" not in (find(cfg, cwd, "slack", "bad reactions") or {})
