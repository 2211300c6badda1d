"""Gateway recovery figures: N messages said on Discord while the bridge's gateway session is away,
then the time from the session coming back to the last of them in the core and on Slack.

- baseline (same run): the session is resumable (close 4000 during an outage): the RESUME replays the
  N buffered dispatches;
- gap: the session is invalidated (op 9 ``d: false``) during the outage: the new session starts
  with READY and the adapter's catch-up reads the N messages back from channel history
  (``bridge.adapters.discord.catch_up``), through the normal inbound path to the core and the worker;
- view: no outage; the bot cannot view #general (its View Channel revoked: Discord sends it nothing
  from there) while the N are said, then it can again: the one-channel catch-up reads them back
  (``bridge.adapters.discord.view_watch``).

The clock starts when the emulator answers the RESUME / the new IDENTIFY (so discord.py's reconnect
backoff during the outage is not counted) / when the permission is given back, and stops when the
N-th message is in the core / held by the Slack emulator. One process, as in the e2e tests: a
redis-server + RediSearch of its own, both emulators on 127.0.0.1, the real adapters, the worker.
Medians of ``--rounds`` rounds.

``python -m bench.gateway [--quick] [--sizes 10,100]``. Slack's ``chat.postMessage`` limit (1/s per
channel, on by default in the emulator since the rate-limit work) paces the Slack side: "to Slack"
is about N seconds whatever the mode, so the catch-up itself shows in "to core"; N = 100 takes
about 5 minutes a size.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bridge.adapters.discord import DiscordAdapter
from bridge.app import Running, start_discord, start_slack
from bridge.config import Config
from bridge.core.chat import Chat
from bridge.mirror.worker import Worker
from bridge.runtime import Runtime
from bridge.store.connection import connect
from bridge.store.embedded import EmbeddedRedis

MODES = {"resume": "RESUME replay (baseline)", "gap": "op 9 false + catch-up", "view": "view restored + catch-up"}
FAST = {"identify_delay": 0.0, "reconnect_min_s": 0.05, "reconnect_max_s": 0.3}
POLL_S = 0.005


async def _until(probe: Any, what: str, timeout: float = 120.0) -> float:
    """Wait for ``probe()`` (sync or async) to be true; the monotonic time it became so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return time.monotonic()
        await asyncio.sleep(POLL_S)
    raise TimeoutError(f"timed out waiting for {what}")


class Rig:
    def __init__(self, url: str) -> None:
        self.url = url
        self.running = Running()
        self.stop = asyncio.Event()

    async def __aenter__(self) -> Rig:
        self.redis = connect(self.url)
        await self.redis.flushall()
        self.chat = await Chat.open(self.redis)
        rt = Runtime(self.url, self.redis, self.chat, None)
        await start_discord(rt, Config(discord=dict(FAST)), self.running, sandbox=True)
        await start_slack(rt, Config(), self.running, sandbox=True)
        self.discord = self.running.emulators["discord"]
        self.slack = self.running.emulators["slack"]
        adapter = self.running.adapters["discord"]
        assert isinstance(adapter, DiscordAdapter)
        self.adapter = adapter
        worker = Worker(chat=self.chat, redis_url=self.url, destinations=self.running.destinations)
        self.task = asyncio.create_task(worker.run(self.stop))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await self.task
        for close in self.running.closers:
            await close()
        await self.redis.aclose()

    async def core_has(self, text: str) -> bool:
        return any(m.text == text for m in await self.chat.messages.history("general", 20))

    def slack_has(self, text: str) -> bool:
        return any(m.text == text for m in self.slack.history("general")[-20:])

    async def round(self, label: str, n: int, *, mode: str) -> tuple[float, float]:
        """(seconds to the last message in the core, seconds to it on Slack) from the session's (or
        the view's) return; ``mode``: resume, gap or view."""
        gw = self.discord.gateway
        resumes, identifies, runs = gw.resumes, gw.identifies, len(self.adapter.catch_up.runs)
        restored = len(self.adapter.catch_up.restored)
        general = int(self.discord.channel("general").id)
        if mode == "view":
            await self.discord.permissions.revoke("general", "VIEW_CHANNEL")
            await _until(lambda: general in self.adapter.view.hidden, "the loss of view noticed")
        else:
            await self.discord.outage(True)
        if mode == "gap":
            await gw.fault("invalid_session")
        texts = [f"{label} {i}" for i in range(n)]
        for i, text in enumerate(texts):
            await self.discord.say(("alice", "bob", "carol")[i % 3], "general", text)
        if mode == "view":
            await self.discord.permissions.reset("general")
            back = time.monotonic()
        else:
            await self.discord.outage(False)
        if mode == "resume":
            back = await _until(lambda: gw.resumes > resumes, "the RESUME")
        elif mode == "gap":
            back = await _until(lambda: gw.identifies > identifies, "the new IDENTIFY")
        in_core = await _until(lambda: self.core_has(texts[-1]), "the last message in the core")
        on_slack = await _until(lambda: self.slack_has(texts[-1]), "the last message on Slack")
        if mode == "gap":
            assert len(self.adapter.catch_up.runs) > runs, "no catch-up ran"
        if mode == "view":
            assert len(self.adapter.catch_up.restored) > restored, "no catch-up of the channel ran"
        wanted = set(texts)
        got = [m.text for m in self.slack.history("general") if m.text in wanted]
        assert got == texts, f"on Slack: {len(got)} of {len(texts)} (or out of order / twice)"
        return in_core - back, on_slack - back


async def main(quick: bool, rounds: int, chosen: str | None = None) -> None:
    sizes = tuple(int(x) for x in chosen.split(",")) if chosen else (10, 100) if quick else (10, 100, 300)
    with tempfile.TemporaryDirectory(prefix="cb-bench-gateway-") as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp))
        url = server.start()
        try:
            async with Rig(url) as rig:
                print(f"{'N':>5} {'mode':<28} {'to core p50':>12} {'to Slack p50':>13} {'ratio (Slack)':>14}")
                for n in sizes:
                    figures: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
                    for r in range(rounds):
                        for mode in MODES:
                            figures[mode].append(await rig.round(f"n{n} r{r} {mode}", n, mode=mode))
                    base = statistics.median(s for _, s in figures["resume"])
                    for mode, name in MODES.items():
                        core_ms = statistics.median(c for c, _ in figures[mode]) * 1000
                        slack_s = statistics.median(s for _, s in figures[mode])
                        ratio = slack_s / base
                        print(f"{n:>5} {name:<28} {core_ms:>10.0f}ms {slack_s * 1000:>11.0f}ms {ratio:>13.2f}x")
                runs, restored = rig.adapter.catch_up.runs, rig.adapter.catch_up.restored
                print(f"catch-ups: {len(runs)}, failed channels: {sum(r.failed for r in runs)}")
                print(f"channel catch-ups (view restored): {len(restored)}, failed: {sum(r.failed for r in restored)}")
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", help="comma-separated N to run (default 10,100,300; --quick 10,100)")
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.rounds, args.sizes))
