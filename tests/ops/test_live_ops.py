"""A real ``chatbridge --log-format json -vv run`` against both emulators: the Prometheus text moves with
real traffic, ``/healthz`` goes red when an emulator drops every connection and refuses reconnects
and green when it lets them back, and the run's logs are JSON lines that never carry a secret."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from run_kit import Run, bridge_run, wait_for

from bridge import logs
from bridge.emulators.discord.state import EmulatorConfig as DiscordEmulatorConfig
from bridge.emulators.slack.config import EmulatorConfig as SlackEmulatorConfig

CONFIG = """health:
  grace_s: 1
  poll_s: 0.2
slack:
  socket_ping_interval_s: 0.5
"""
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    with bridge_run(tmp_path_factory.mktemp("live-ops"), CONFIG, ("--log-format", "json", "-vv")) as running:
        yield running


def scrape(run: Run) -> tuple[str, Samples]:
    with urllib.request.urlopen(f"{run.info['http']}/metrics", timeout=10) as resp:
        content_type = resp.headers["Content-Type"]
        text = resp.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return content_type, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def mirrored(run: Run, platform: str, text: str) -> bool:
    done = run.cli("sandbox", "log", platform, "--json", "-n", "50")
    return any(json.loads(line)["text"] == text for line in done.stdout.splitlines())


def test_metrics_are_prometheus_text_that_moves_with_real_traffic(run: Run) -> None:
    content_type, before = scrape(run)
    assert content_type.startswith("text/plain; version=")  # prometheus_client.CONTENT_TYPE_LATEST
    assert value(before, "chatbridge_adapter_connected", platform="discord") == 1
    assert value(before, "chatbridge_adapter_connected", platform="slack") == 1
    assert value(before, "chatbridge_part_healthy", part="redis") == 1

    assert run.cli("sandbox", "say", "discord", "alice", "count me").returncode == 0
    wait_for(lambda: mirrored(run, "slack", "count me"), 30, "discord → slack")
    assert run.cli("sandbox", "say", "slack", "bob", "me too").returncode == 0
    wait_for(lambda: mirrored(run, "discord", "me too"), 30, "slack → discord")

    _, after = scrape(run)
    for platform in ("discord", "slack"):
        inbound = "chatbridge_inbound_events_total"
        assert value(after, inbound, platform=platform, kind="message") > value(
            before, inbound, platform=platform, kind="message"
        )
        delivered = value(after, "chatbridge_deliveries_total", platform=platform, outcome="delivered")
        assert delivered >= 1 + value(before, "chatbridge_deliveries_total", platform=platform, outcome="delivered")
        latency = value(after, "chatbridge_delivery_latency_seconds_count", platform=platform)
        assert latency >= 1
        assert 0 < value(after, "chatbridge_delivery_latency_seconds_sum", platform=platform) < 30
    slack_general = f"{run.info['slack']['team']}:{run.info['slack']['general']}"

    def backlog_exported() -> bool:
        found = scrape(run)[1]
        key = ("chatbridge_destination_backlog", frozenset({("platform", "slack"), ("channel", slack_general)}))
        return key in found and found[key] == 0

    wait_for(backlog_exported, 20, "the slack destination's backlog gauge")
    # the worker's refresh (every few seconds) exports the log gauges: read them after it, not from
    # ``after``, which an idle machine can scrape before the first refresh
    assert "chatbridge_mirror_log_lag" in {n for n, _ in scrape(run)[1]}

    status, data = run.http("/metrics?format=json")
    assert status == 200 and data["delivered"] >= 2 and data["adapters"]["slack"]["connected"] is True


@pytest.mark.parametrize("platform", ["discord", "slack"])
def test_health_goes_red_when_the_platform_drops_and_refuses_and_green_when_it_is_back(run: Run, platform: str) -> None:
    status, body = run.http("/healthz")
    assert status == 200 and body["ok"] and body["parts"][platform]["ok"], body
    assert set(body["parts"]) == {"redis", "search", "worker", "discord", "slack"}
    if platform == "discord":
        assert body["parts"]["discord"]["info"]["last_heartbeat_ack_at"] > 0
    else:
        assert body["parts"]["slack"]["info"]["mode"] == "socket"

    status, answer = run.emulator(platform, "POST", "/outage")
    assert status == 200 and answer["closed"] >= 1, answer

    def red() -> tuple[int, dict[str, object]] | None:
        found = run.http("/healthz")
        return found if found[0] == 503 else None

    _, body = wait_for(red, 20, f"/healthz 503 while {platform} refuses connections")
    failing = body["failing"]
    assert isinstance(failing, list) and len(failing) == 1 and failing[0].startswith(f"{platform}: "), failing
    parts = body["parts"]
    assert isinstance(parts, dict) and not parts[platform]["ok"] and parts["redis"]["ok"]
    assert value(scrape(run)[1], "chatbridge_adapter_connected", platform=platform) == 0
    state = run.emulator(platform, "GET", "/state")[1]
    assert (state["gateway"]["refused"] if platform == "discord" else state["socket_refused"]) >= 1

    status, _ = run.emulator(platform, "DELETE", "/outage")
    assert status == 200

    def green() -> dict[str, object] | None:
        found = run.http("/healthz")
        return found[1] if found[0] == 200 else None

    body = wait_for(green, 60, f"/healthz 200 once {platform} accepts connections again")
    parts = body["parts"]
    assert isinstance(parts, dict) and parts[platform]["ok"] and parts[platform]["for_s"] < 60
    assert value(scrape(run)[1], "chatbridge_adapter_connected", platform=platform) == 1
    other = "slack" if platform == "discord" else "discord"
    text = f"after the {platform} outage"
    assert run.cli("sandbox", "say", platform, "alice" if platform == "discord" else "bob", text).returncode == 0
    wait_for(lambda: mirrored(run, other, text), 30, f"{platform} → {other} after the outage")


def test_the_runs_logs_are_json_lines_with_no_secret_in_them(run: Run) -> None:
    """Runs last in this module: the log then holds the traffic, both outages and reconnects."""
    requests = run.emulator("discord", "GET", "/requests")[1]
    webhook_tokens = {
        r["path"].split("/webhooks/")[1].split("/")[1].split("?")[0]
        for r in requests
        if "/webhooks/" in r["path"] and len(r["path"].split("/webhooks/")[1].split("/")) > 1
    }
    assert webhook_tokens, "the bridge posted through no webhook"
    slack = SlackEmulatorConfig()
    secrets = {DiscordEmulatorConfig().token, slack.bot_token, slack.app_token, slack.signing_secret, *webhook_tokens}

    log = run.log()
    for secret in secrets:
        assert secret not in log, f"a secret ({secret[:4]}…) is in the log"
    records = [json.loads(line) for line in log.splitlines()]  # every line: the banner is a record too
    assert len(records) > 20
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)
    messages = [(r["level"], r["logger"], r["message"]) for r in records]
    assert any(level == "DEBUG" and name.startswith("bridge.") for level, name, _ in messages)  # -v
    assert any(level == "DEBUG" and name.startswith("discord.http") for level, name, _ in messages)  # -vv
    assert "/webhooks/" in log and "/***" in log  # the webhook URLs discord.http logs were masked
    links = [(level, m) for level, name, m in messages if name == "bridge.adapters.linkstate"]
    assert any(level == "WARNING" and m.startswith("discord: down: gateway disconnected") for level, m in links), links
    assert any(level == "INFO" and m.startswith("slack: connected") for level, m in links[1:]), links
    assert not any(name == "bridge.health_server" and "discord" in m for _, name, m in messages)  # said once
    assert not any("voice will NOT be supported" in m for _, _, m in messages)
    assert not any("exc" in r for r in records if r["logger"].startswith(("discord.client", logs.SLACK_SDK_LOGGER)))
    assert "Traceback" not in log
    assert any(r["message"].startswith("sandbox is up") for r in records)
