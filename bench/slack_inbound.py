"""Slack inbound capacity: N messages said at R msg/s into ONE Slack channel, against a baseline in
the same run with the same messages spread over 10 channels (their events are not serialized by
anything per channel).

The whole real path: the Slack emulator's Socket Mode on 127.0.0.1 (Slack's 3 s ack timeout, 3
redeliveries), the real slack-bolt app and adapter (``chatbridge run``'s sandbox wiring, as
``bench/slack_refresh.py``), a redis-server + RediSearch of its own. Per round: how many messages
reached the core (lost = N - recorded, after Slack's last redelivery), how many were recorded twice
(doubled, by text), how many envelopes Slack had to redeliver (not acked within 3 s), the ack latency
of the first deliveries (envelope written → its ack read by the emulator; p50/p99), and where an
event's time goes: the mean per event of each step, timed around the adapter's and the core's calls
(users.info through the directory cache, route lookup, user resolve, the ingest script call,
the anchor write when it is a call of its own, WAIT) and the whole handler (``RoomTraffic.handle``:
what is not in the steps is waiting for the channel's turn). Timed steps overlap when events are
handled concurrently; a script call's time is counted once per call (``calls`` says how many).

``--rtt-ms 2`` puts Redis behind a proxy that adds that round trip (``bench/delay_proxy.py``): Redis
on another host or a managed service, or a loaded machine, where each of an event's round trips
costs milliseconds rather than the ~0.1 ms of an idle loopback.

``python -m bench.slack_inbound [--n 900] [--rate 50] [--saturate] [--rtt-ms 2]``: ``--saturate`` also looks for
the rate one channel saturates at (the highest rate of 10, 20, 30, 50, 75, 100, 150, 200, 300, 400 msg/s whose 300
messages all cross with no redelivery).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import delay_proxy, slack_refresh
from bridge.core import chat as chat_module
from bridge.core.ports import ChannelRef
from bridge.store import keys
from bridge.store.embedded import EmbeddedRedis

POLL_S = 0.05
SETTLE_S = 30.0
"""After the last message: Slack's 3 redeliveries, 3 s apart, are over well within this."""
DRAIN_S = 300.0
PEOPLE = ("alice", "bob", "carol")


class Timings:
    """Time spent in wrapped calls, by step."""

    def __init__(self) -> None:
        self.seconds: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()

    def wrap(self, owner: Any, attr: str, step: str) -> None:
        original = getattr(owner, attr, None)
        if original is None:
            return

        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self.seconds[step] += time.perf_counter() - start
                self.calls[step] += 1

        setattr(owner, attr, timed)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()


class Rig(slack_refresh.Rig):
    """``bench/slack_refresh.py``'s rig (Redis, the emulator, the sandbox's Slack adapter), with ten
    linked channels, the steps timed and the first deliveries' acks."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.timings = Timings()
        self.acks: list[float] = []
        self.in_flight = 0

    async def __aenter__(self) -> Rig:
        await super().__aenter__()
        self.slack.limiter.off()  # users.info is Tier 4; this measures the bridge, not Slack's pacing
        adapter = self.running.adapters["slack"]
        team = self.slack.workspace.team_id
        self.channels = ["general"]
        for i in range(1, 10):
            name = f"room{i}"
            chan = self.slack.workspace.add_channel(f"CBENCH{i:02d}", name)
            await self.chat.channels.create(name)
            await self.chat.channels.link(name, ChannelRef("slack", team, chan.id))
            self.channels.append(name)
        t = self.timings
        t.wrap(adapter.rooms, "handle", "handler (whole)")
        t.wrap(adapter.directory, "platform_user", "users.info (cached)")
        t.wrap(self.chat.channels, "route", "route lookup")
        t.wrap(self.chat.users, "resolve", "user resolve")
        t.wrap(self.chat, "ingest", "Chat.ingest (one event)")
        t.wrap(self.chat, "ingest_many", "Chat.ingest_many (a group)")
        t.wrap(self.chat.messages.batcher, "post", "ingest script (post)")
        t.wrap(self.chat.messages.batcher, "post_many", "ingest script (post_many)")
        t.wrap(adapter.rooms, "noted", "anchor write")
        t.wrap(chat_module.replication, "replicated", "WAIT")
        hub = self.slack.socket
        send_once = hub._send_once

        async def timed_send(env: Any, ack_within: float) -> bool:
            self.in_flight += 1
            start = time.perf_counter()
            try:
                acked: bool = await send_once(env, ack_within)
                if acked and not env.retry_attempt:
                    self.acks.append(time.perf_counter() - start)
                return acked
            finally:
                self.in_flight -= 1

        hub._send_once = timed_send
        return self

    async def drain(self) -> float:
        """Wait until the bridge handles no event any more (a round that fell behind leaves handlers
        queued after Slack gave up on them): the next round starts on an idle bridge. Seconds waited."""
        start = time.monotonic()
        hold = self.running.adapters["slack"].rooms.hold
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DRAIN_S):
                while hold.pending or self.in_flight:
                    await asyncio.sleep(POLL_S)
        return time.monotonic() - start

    async def rtt(self) -> float:
        times = []
        for _ in range(50):
            start = time.perf_counter()
            await self.redis.ping()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    async def texts_in(self, channels: list[str]) -> list[str]:
        """Every message text in the channels' streams (XRANGE, then the hashes in one pipeline)."""
        texts: list[str] = []
        for name in channels:
            ids = [eid for eid, entry in await self.redis.xrange(keys.channel(name)) if entry.get("type") == "message"]
            async with self.redis.pipeline(transaction=False) as pipe:
                for eid in ids:
                    pipe.hget(keys.message(eid), "message")
                texts += [str(t) for t in await pipe.execute() if t is not None]
        return texts

    async def burst(self, label: str, n: int, rate: float, channels: list[str]) -> dict[str, Any]:
        socket = self.slack.socket
        envelopes = len(socket.envelopes)
        self.acks = []
        self.timings.reset()
        posted = [f"{label} {i}" for i in range(n)]
        start = time.monotonic()
        for i, text in enumerate(posted):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.slack.user_says(user=PEOPLE[i % 3], channel=channels[i % len(channels)], text=text)
        sent_s = time.monotonic() - start
        wanted = set(posted)
        deadline = time.monotonic() + SETTLE_S
        texts: list[str] = []
        while time.monotonic() < deadline:
            texts = [t for t in await self.texts_in(channels) if t in wanted]
            if len(set(texts)) == n and self.in_flight == 0:
                break
            await asyncio.sleep(POLL_S)
        with contextlib.suppress(TimeoutError):  # the last redeliveries (a lost message's) end
            async with asyncio.timeout(SETTLE_S):
                while self.in_flight:
                    await asyncio.sleep(POLL_S)
        texts = [t for t in await self.texts_in(channels) if t in wanted]
        drained = await self.drain()
        acks = sorted(self.acks)
        handled = max(1, self.timings.calls["handler (whole)"])
        return {
            "recorded": len(set(texts)),
            "lost": n - len(set(texts)),
            "doubled": len(texts) - len(set(texts)),
            "redelivered": sum(1 for e in socket.envelopes[envelopes:] if e.retry_attempt),
            "sent_rate": n / sent_s if sent_s else float("inf"),
            "ack_p50": statistics.median(acks) if acks else float("nan"),
            "ack_p99": acks[max(0, int(len(acks) * 0.99) - 1)] if acks else float("nan"),
            "acked_first": len(acks),
            "drain_s": drained,
            "split": {
                step: (self.timings.seconds[step] / handled, self.timings.calls[step]) for step in self.timings.seconds
            },
        }


def _row(name: str, r: dict[str, Any]) -> str:
    return (
        f"{name:<34} {r['recorded']:>8} {r['lost']:>5} {r['doubled']:>7} {r['redelivered']:>11} "
        f"{r['ack_p50'] * 1000:>7.0f}ms {r['ack_p99'] * 1000:>7.0f}ms {r['sent_rate']:>7.1f}/s"
        + (f"  (backlog drained {r['drain_s']:.0f}s later)" if r["drain_s"] > 1 else "")
    )


def _split(name: str, r: dict[str, Any]) -> list[str]:
    lines = [f"  time per event, {name} (mean ms; calls):"]
    for step, (per_event, calls) in sorted(r["split"].items(), key=lambda kv: -kv[1][0]):
        lines.append(f"    {step:<28} {per_event * 1000:>8.2f} ms  {calls:>6}")
    return lines


async def saturation(rig: Rig, rates: tuple[float, ...], n: int, channels: list[str], tag: str) -> float:
    """The highest of ``rates`` whose ``n`` messages all cross with no redelivery."""
    best = 0.0
    for rate in rates:
        r = await rig.burst(f"{tag} sat{rate:g}", n, rate, channels)
        ok = r["lost"] == 0 and r["redelivered"] == 0 and r["doubled"] == 0
        print(f"  {tag} {rate:>5g} msg/s: {_row('', r).strip()}  {'ok' if ok else 'saturated'}")
        if not ok:
            break
        best = rate
    return best


async def main(n: int, rate: float, saturate: bool, rtt_ms: float) -> None:
    with tempfile.TemporaryDirectory(prefix="cb-bench-slack-inbound-") as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp))
        url = server.start()
        proxy = None
        if rtt_ms:
            port, proxy = delay_proxy.start(server.port, rtt_ms / 2000)
            url = f"redis://127.0.0.1:{port}/0"
        try:
            async with Rig(url) as rig:
                print(f"Redis round trip: {await rig.rtt() * 1000:.2f} ms (median of 50 PINGs)")
                header = (f"{'mode':<34} {'recorded':>8} {'lost':>5} {'doubled':>7} {'redelivered':>11} "
                          f"{'ack p50':>9} {'ack p99':>9} {'sent at':>9}")  # fmt: skip
                print(f"{n} messages at {rate:g} msg/s")
                print(header)
                spread = await rig.burst("spread", n, rate, rig.channels)
                print(_row("10 channels (baseline)", spread))
                one = await rig.burst("one", n, rate, rig.channels[:1])
                print(_row("1 channel", one))
                for line in _split("10 channels", spread) + _split("1 channel", one):
                    print(line)
                if saturate:
                    rates = (10.0, 20.0, 30.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 400.0)
                    many = await saturation(rig, rates, 300, rig.channels, "10 channels")
                    single = await saturation(rig, rates, 300, rig.channels[:1], "1 channel")
                    ratio = single / many if many else float("nan")
                    print(f"saturation (300 messages, no redelivery): 1 channel {single:g} msg/s, "
                          f"10 channels {many:g} msg/s, ratio {ratio:.2f}")  # fmt: skip
        finally:
            if proxy is not None:
                proxy.terminate()
            server.stop()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=900)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--saturate", action="store_true")
    parser.add_argument(
        "--rtt-ms", type=float, default=0.0, help="Redis behind a proxy adding this round trip (a network)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.n, args.rate, args.saturate, args.rtt_ms))


if __name__ == "__main__":
    cli()
