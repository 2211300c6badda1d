"""Draining a backlog into one Slack channel and one Discord channel with the platforms' rate limits on.

The whole bridge in one process: the sandbox's emulators (limits on: Slack 1 post/s per channel
after a burst of 3, Discord's webhook bucket 5 per 2 s), the real adapters (slack_sdk, discord.py)
and the worker; ``--messages`` messages are posted to the room while no worker runs, then the worker
starts and the drain is timed until both channels show every message, in order.

Two runs, same process, same machine:

* paced (the bridge as shipped): Slack posts wait their slot at 1/s per channel (``slack.pacing``);
  discord.py paces the webhook from the emulator's ``X-RateLimit-*`` headers;
* baseline: no proactive pacing on Slack (``post_per_second`` at its maximum; 429s and their
  ``Retry-After`` are still honoured by the lane, as before pacing) and Discord's answers without
  bucket headers (discord.py cannot pace: it meets each limit as a 429 and sleeps it).

Both emulators' clocks and the Slack pacer run ``--speed`` times faster (default 10), so 300
messages at Slack's 1/s take about 30 s instead of 5 minutes; "platform s" is the time at the real
rate (``wall × speed``). Prints medians over ``--runs``.

``python -m bench.ratelimits [--messages 300] [--speed 10] [--runs 1]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bridge.app import Running, start_discord, start_slack
from bridge.config import Config
from bridge.core.chat import Chat
from bridge.mirror.worker import Worker
from bridge.runtime import Runtime
from bridge.store.connection import connect
from bridge.store.embedded import EmbeddedRedis


async def drain(url: str, messages: int, speed: float, *, paced: bool) -> dict[str, tuple[float, int]]:
    """``{platform: (seconds to drain, 429s answered)}`` for one run."""
    redis = connect(url)
    await redis.flushall()
    chat = await Chat.open(redis)
    await chat.users.register("ada", {"firstname": "Ada"})
    slack_cfg: dict[str, Any] = {"rate_limit_speed": speed}
    if not paced:
        slack_cfg.update(post_per_second=100, post_burst=50)
    running = Running()
    rt = Runtime(url, redis, chat, None)
    await start_discord(rt, Config(), running, sandbox=True)
    await start_slack(rt, Config(slack=slack_cfg), running, sandbox=True)
    discord, slack = running.emulators["discord"], running.emulators["slack"]
    discord.limits.speed = slack.limiter.speed = speed
    discord.limits.send_headers = paced
    expected = [f"backlog {i}" for i in range(messages)]
    for text in expected:
        await chat.messages.post("general", "ada", text)
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(Worker(chat=chat, redis_url=url, destinations=running.destinations).run(stop))
    done: dict[str, float] = {}
    try:
        while len(done) < 2:
            seen = {
                "slack": [m.text for m in slack.history("general")],
                "discord": [m["content"] for m in discord.messages("general")],
            }
            for platform, texts in seen.items():
                if platform not in done and len(texts) >= messages:
                    if texts[-messages:] != expected:
                        raise AssertionError(f"{platform}: messages out of order or doubled")
                    done[platform] = time.monotonic() - started
            if time.monotonic() - started > messages * 2 / speed + 120:
                raise TimeoutError(f"not drained: { ({k: len(v) for k, v in seen.items()}) }")
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task
        for close in running.closers:
            await close()
        await redis.aclose()
    slack_429 = sum(1 for method, status in slack.throttled if method == "chat.postMessage" and status == 429)
    discord_429 = sum(1 for r in discord.requests if r.status == 429 and r.path.startswith("/webhooks/"))
    return {"slack": (done["slack"], slack_429), "discord": (done["discord"], discord_429)}


async def main(messages: int, speed: float, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cb-bench-limits-") as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp))
        url = server.start()
        try:
            results: dict[bool, list[dict[str, tuple[float, int]]]] = {True: [], False: []}
            for _ in range(runs):
                for paced in (True, False):
                    results[paced].append(await drain(url, messages, speed, paced=paced))
        finally:
            server.stop()
    print(
        f"drain a backlog of {messages} messages into one channel of each platform, limits on "
        f"(clocks x{speed:g}; median of {runs} run(s))"
    )
    print("  platform   run        wall s   platform s   429s")
    for platform in ("slack", "discord"):
        walls: dict[bool, float] = {}
        for paced, label in ((True, "paced"), (False, "baseline")):
            wall = statistics.median(r[platform][0] for r in results[paced])
            hits = statistics.median(r[platform][1] for r in results[paced])
            walls[paced] = wall
            print(f"  {platform:<9}  {label:<9}  {wall:7.1f}   {wall * speed:10.0f}   {hits:4.0f}")
        print(f"  {platform:<9}  baseline / paced wall time: {walls[False] / walls[True]:.2f}x")
    print(
        "  paced: Slack 1 post/s per channel (slack.pacing), discord.py pacing from X-RateLimit-* headers;\n"
        "  baseline: Slack unpaced (Retry-After still honoured), Discord answers without bucket headers."
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.speed, args.runs))
