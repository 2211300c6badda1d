"""Exactly once through crashes: `chatbridge run` SIGKILLed at random points while it drains a
backlog both ways into throttled destinations (long messages split into parts, edits that add
parts), at least 20 times, then let finish. Every message and every part is shown exactly once,
in order, and every message the platforms show is one the bridge recorded (nothing unrecorded, so
nothing doubled). The emulators live in this process (they are the platforms and outlive the
bridge); the bridge is the real entry point with the real adapters pointed at them."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, InboundEvent, PlatformUser
from bridge.emulators.discord.server import DiscordEmulator
from bridge.emulators.slack.config import EmulatorConfig, RateLimit
from bridge.emulators.slack.server import SlackEmulator
from bridge.store import keys
from bridge.store.connection import connect
from bridge.store.embedded import EmbeddedRedis

KILLS = 20
# Enough parts that 20 lives (each killed 1-4 parts after it showed more, plus what it shows before
# the kill lands) cannot drain the backlog before the last kill, however fast the machine is: ~140 parts.
PER_SIDE = 48
LONG_EVERY = 6  # every 6th message is long: 2 parts on Slack, 4 on Discord
EDITS = (3, 9, 14)  # these get an edit that makes them long (the edit adds parts)


def body(prefix: str, i: int) -> str:
    if i % LONG_EVERY == LONG_EVERY - 1:
        return f"{prefix}-{i} " + " ".join(f"w{prefix}{i}x{j}" for j in range(900))  # ~7,000 chars
    return f"{prefix}-{i} hello"


def edited(prefix: str, i: int) -> str:
    return f"{prefix}-{i} edited " + " ".join(f"e{prefix}{i}y{j}" for j in range(400))  # ~3,600 chars


async def until(probe: Callable[[], Any], timeout: float, what: str) -> Any:
    try:
        async with asyncio.timeout(timeout):
            while not (value := probe()):
                await asyncio.sleep(0.01)
            return value
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@pytest.mark.timeout(480)  # 20 restarts, each with a Discord catch-up: ~230 s under load 11, far less idle
async def test_sigkill_mid_backlog_both_ways_shows_everything_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(1313)
    server = EmbeddedRedis(data_dir=tmp_path / "redis", appendfsync="always")
    url = await asyncio.to_thread(server.start)
    redis = connect(url)
    discord, slack = DiscordEmulator(), SlackEmulator(config=EmulatorConfig())
    await discord.start()
    await slack.start()
    proc: subprocess.Popen[bytes] | None = None
    try:
        chat = await Chat.open(redis)
        dref = ChannelRef("discord", discord.guild_id, discord.channel("general").id)
        sref = ChannelRef("slack", slack.config.workspace.team_id, slack.config.workspace.channel("general").id)
        await chat.channels.create("general")
        await chat.channels.link("general", dref)
        await chat.channels.link("general", sref)
        # the backlog, both ways, recorded as the adapters' inbound side records it
        cores: dict[str, list[str]] = {"d": [], "s": []}
        for i in range(PER_SIDE):
            for side, ref in (("d", dref), ("s", sref)):
                author = PlatformUser(ref.platform, ref.workspace, f"U{side}{i % 3}", f"{side}-person-{i % 3}")
                pid = f"{9_000_000 + i}" if side == "d" else f"1700000000.{i:06d}"
                event = InboundEvent("message", ref, pid, f"{side}:{pid}:create", author, body(side, i))
                result = await chat.ingest(event)
                assert result.core_id
                cores[side].append(result.core_id)
                if i in EDITS:
                    edit = InboundEvent("edit", ref, pid, f"{side}:{pid}:edit", author, edited(side, i))
                    assert (await chat.ingest(edit)).status == "recorded"
        # throttled destinations: Slack answers 429 (Retry-After 1) past 8 posts a second, Discord
        # 429s a share of webhook executes (discord.py waits them out)
        slack.limiter.set_limit("chat.postMessage", RateLimit(limit=8, window=1.0, retry_after=1))
        discord.rate_limit("POST", r"/webhooks/", retry_after=0.3, times=10)
        # the test is about crashes: Discord's buckets run 4x faster (~140 parts at the real webhook
        # pace take a minute), and the bridge paces Slack a little above the 8/s set here (config
        # below), so some posts are still refused and the 429 path stays under test
        discord.limits.speed = 4
        # 21 starts in two minutes open 21 Socket Mode connections: past Slack's Tier 1 for
        # apps.connections.open (1+ per minute, a small burst), which this test is not about
        slack.limiter.set_limit("apps.connections.open", None)

        cfg, env = _bridge_config(tmp_path, url, discord, slack)

        def shown() -> int:
            return len(discord.messages("general")) + len(slack.history("general"))

        def start() -> subprocess.Popen[bytes]:
            with (tmp_path / "run.log").open("ab") as log:
                return subprocess.Popen(
                    [sys.executable, "-m", "bridge", "-c", str(cfg), "run"],
                    env=env, cwd=tmp_path, stdout=log, stderr=log,
                )  # fmt: skip

        mid_split = 0
        for _ in range(KILLS):
            proc = running = start()
            more = shown() + rng.randint(1, 4)
            await until(lambda: shown() >= more or running.poll() is not None, 30, "the bridge to show more")  # noqa: B023
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            mid_split += _parts_missing(discord.messages("general"))
        proc = start()

        deadline = time.monotonic() + 120
        while not await _drained(redis, cores, {"d": sref, "s": dref}) or not _edits_shown(slack, discord):
            assert time.monotonic() < deadline, "the backlog did not drain"
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            await asyncio.sleep(0.1)  # polling the bridge's records under a deadline
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        proc = None

        # every message the platforms show is recorded in the id map, once, in backlog order
        await _each_shown_once_in_order(redis, cores["d"], sref, [m.ts for m in slack.history("general")])
        await _each_shown_once_in_order(redis, cores["s"], dref, [m["id"] for m in discord.messages("general")])
        slack_texts = [m.text for m in slack.history("general")]
        for i in range(PER_SIDE):
            head = f"d-{i} edited" if i in EDITS else f"d-{i} "
            assert sum(t.startswith(head) for t in slack_texts) == 1, i
        assert mid_split >= 1, "no kill landed in the middle of a split message"
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        await discord.stop()
        await slack.stop()
        await redis.aclose()
        await asyncio.to_thread(server.stop)


def _bridge_config(tmp: Path, url: str, discord: DiscordEmulator, slack: SlackEmulator) -> tuple[Path, dict[str, str]]:
    """`chatbridge run` with the real adapters pointed at these emulators (tokens from the env)."""
    cfg = tmp / "config.yaml"
    settings = {
        "redis": {"data_dir": str(tmp / "data")},
        "http": {"port": 0},
        "discord": {"api_base": discord.api_base, "gateway_url": discord.gateway_url,
                    "guild_ids": [int(discord.guild_id)]},
        "slack": {"api_base_url": slack.api_url, "mode": "socket", "post_per_second": 10, "post_burst": 8},
    }  # fmt: skip
    cfg.write_text(json.dumps(settings))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_", "REDIS_"))}
    env |= {
        "REDIS_URL": url,
        "DISCORD_TOKEN": discord.token,
        "SLACK_BOT_TOKEN": slack.config.bot_token,
        "SLACK_APP_TOKEN": slack.config.app_token,
    }
    return cfg, env


async def _mapped(redis: Any, core: str, ref: ChannelRef) -> list[str]:
    ids: list[str] = json.loads(await redis.hget(keys.mirror_map(core), ref.key()) or "[]")
    return ids


async def _drained(redis: Any, cores: dict[str, list[str]], dest: dict[str, ChannelRef]) -> bool:
    for side, ref in dest.items():
        for i, core in enumerate(cores[side]):
            ids = await _mapped(redis, core, ref)
            short = i not in EDITS and i % LONG_EVERY != LONG_EVERY - 1
            if not ids or (short and len(ids) != 1):
                return False
    return True


async def _each_shown_once_in_order(redis: Any, cores: list[str], ref: ChannelRef, shown: list[str]) -> None:
    mapped: list[str] = []
    for core in cores:
        mapped += await _mapped(redis, core, ref)
    assert len(mapped) == len(set(mapped))
    assert sorted(shown, key=_order) == sorted(mapped, key=_order), f"unrecorded copies on {ref.platform}"
    assert mapped == sorted(mapped, key=_order), f"out of order on {ref.platform}"


def _order(pid: str) -> float:
    return float(pid)


def _parts_missing(messages: list[dict[str, Any]]) -> int:
    """1 when the newest message shown on Discord is a long one's part without its last part."""
    if not messages:
        return 0
    last = messages[-1].get("content", "")
    return int(len(last) > 1500 and not any(f"x{899}" in m.get("content", "") for m in messages[-1:]))


def _edits_shown(slack: SlackEmulator, discord: DiscordEmulator) -> bool:
    on_slack = [m.text for m in slack.history("general")]
    on_discord = [m.get("content", "") for m in discord.messages("general")]
    return all(
        any(t.startswith(f"d-{i} edited") for t in on_slack) and any(t.startswith(f"s-{i} edited") for t in on_discord)
        for i in EDITS
    )
