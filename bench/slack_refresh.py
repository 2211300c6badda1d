"""Socket Mode refresh figures: N messages said on Slack at a steady pace while the emulator refreshes
the bridge's Socket Mode connection every K messages (``disconnect`` ``refresh_requested``, then the
server closes the socket: ``bridge.emulators.slack.socket_faults``), against a baseline in the same
run with no refresh.

Per message: the latency from the person posting it to its core record (polled), and at the end,
how many reached the core (lost = N - delivered), how many were recorded twice (doubled, by text),
and how many envelopes Slack had to redeliver (``retry_attempt`` > 0: sent on a connection that
closed before the ack). Real timers: Slack's 3 s ack timeout, the emulator's 10 s warning window is
not used (``refresh_requested`` directly), the socket is closed 0.5 s after the frame unless the
bridge closed it first. One process: a redis-server + RediSearch of its own, the Slack emulator on
127.0.0.1, the real Slack adapter (``chatbridge run``'s sandbox wiring). Medians of the per-message
latencies.

``python -m bench.slack_refresh [--quick]``; a full run takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bridge.app import Running, start_slack
from bridge.config import Config
from bridge.core.chat import Chat
from bridge.runtime import Runtime
from bridge.store.connection import connect
from bridge.store.embedded import EmbeddedRedis

POLL_S = 0.005
PACE_S = 0.1
"""Between two messages (10 a second in one channel; at 50 a second on the shared machine under load
~10 the bridge's per-channel processing fell behind Slack's 3 s ack timeout even without refreshes)."""


class Rig:
    def __init__(self, url: str) -> None:
        self.url = url
        self.running = Running()

    async def __aenter__(self) -> Rig:
        self.redis = connect(self.url)
        await self.redis.flushall()
        self.chat = await Chat.open(self.redis)
        rt = Runtime(self.url, self.redis, self.chat, None)
        await start_slack(rt, Config(), self.running, sandbox=True)
        self.slack: Any = self.running.emulators["slack"]
        self.slack.socket.faults.timers.close_after_s = 0.5
        return self

    async def __aexit__(self, *exc: object) -> None:
        for close in self.running.closers:
            await close()
        await self.redis.aclose()

    async def core_texts(self) -> list[str]:
        return [m.text for m in await self.chat.messages.history("general", 1000) if m.kind == "message"]

    async def round(self, label: str, n: int, every: int | None) -> dict[str, Any]:
        socket = self.slack.socket
        envelopes, connections = len(socket.envelopes), socket.connection_count
        posted: dict[str, float] = {}
        seen: dict[str, float] = {}

        async def watch() -> None:
            while len(seen) < n:
                now = time.monotonic()
                for text in await self.core_texts():
                    if text in posted and text not in seen:
                        seen[text] = now
                await asyncio.sleep(POLL_S)

        watcher = asyncio.create_task(watch())
        for i in range(n):
            text = f"{label} {i}"
            posted[text] = time.monotonic()
            self.slack.user_says(user=("alice", "bob", "carol")[i % 3], channel="general", text=text)
            if every and i % every == every - 1:
                await socket.faults.disconnect(None, "refresh_requested")
            await asyncio.sleep(PACE_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watcher, 120)
        texts = [t for t in await self.core_texts() if t in posted]
        latencies = sorted(seen[t] - posted[t] for t in seen)
        return {
            "delivered": len(set(texts)),
            "lost": n - len(set(texts)),
            "doubled": len(texts) - len(set(texts)),
            "redelivered": sum(1 for e in socket.envelopes[envelopes:] if e.retry_attempt),
            "connections": socket.connection_count - connections,
            "p50": statistics.median(latencies) if latencies else float("nan"),
            "p95": latencies[int(len(latencies) * 0.95) - 1] if latencies else float("nan"),
        }


async def main(n: int, every: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="cb-bench-slack-refresh-") as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp))
        url = server.start()
        try:
            async with Rig(url) as rig:
                print(f"{'N':>5} {'mode':<26} {'delivered':>9} {'lost':>5} {'doubled':>7} {'redelivered':>11} "
                      f"{'new conns':>9} {'p50':>8} {'p95':>8} {'p50 ratio':>9}")  # fmt: skip
                results: dict[str, list[dict[str, Any]]] = {"baseline": [], "refresh": []}
                for r in range(rounds):
                    results["baseline"].append(await rig.round(f"r{r} base", n, None))
                    results["refresh"].append(await rig.round(f"r{r} refresh", n, every))
                base = statistics.median(x["p50"] for x in results["baseline"])
                for mode, name in (("baseline", "no refresh (baseline)"), ("refresh", f"refresh every {every}")):
                    rows = results[mode]
                    p50 = statistics.median(x["p50"] for x in rows)
                    p95 = statistics.median(x["p95"] for x in rows)
                    total = {k: sum(x[k] for x in rows) for k in ("delivered", "lost", "doubled", "redelivered")}
                    conns = sum(x["connections"] for x in rows)
                    print(f"{n * rounds:>5} {name:<26} {total['delivered']:>9} {total['lost']:>5} "
                          f"{total['doubled']:>7} {total['redelivered']:>11} {conns:>9} {p50 * 1000:>6.0f}ms "
                          f"{p95 * 1000:>6.0f}ms {p50 / base:>8.2f}x")  # fmt: skip
        finally:
            server.stop()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="60 messages a round instead of 120")
    parser.add_argument("--every", type=int, default=30, help="refresh the connection after this many messages")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(60 if args.quick else 120, args.every, args.rounds))


if __name__ == "__main__":
    cli()
