"""Soak: traffic both ways for a while with the emulators failing at random, then every message
accounted for: delivered exactly once on the other side, or dead-lettered with a reason that an
operator and the sender were told.

One process: its own redis-server + RediSearch (never the machine's 6379), both emulators, both real
adapters (discord.py, slack-bolt) and the mirroring worker, wired as ``chatbridge run`` wires them
in sandbox mode (the dead-letter notice included), with #general, #random and #cricket linked on
both sides. People post on both sides at ``--rate`` messages per second in total, spread over the
three channels. A fault-free baseline comes first (``--baseline`` seconds), then ``--minutes`` of
chaos: ``bench.chaos`` injects, one at a time at seeded random intervals, every fault the
emulators on main offer (found by capability, listed in the output). Then the faults stop, the
bridge drains, and the run prints, per phase and direction and per injection kind: said,
delivered once, dead-lettered, duplicates, lost, and the delivery latency (p50, p99) from the
emulators' own timestamps (Discord snowflakes, Slack ``ts``).

A message counts as
- ``once``: exactly one bridged copy in the linked channel on the other side;
- ``dead``: no copy, and a dead letter for it with a reason, the worker's WARNING line naming it
  and the dead-letter notice hook run for it (``dead?`` when one of those is missing);
- ``dup``: more than one copy (must be 0); ``lost``: neither (must be 0).
Copies in the wrong channel (``misrouted``) or back on the side it was said (``echoes``) are counted
too. The exit status is 1 when anything is duplicated, lost, misrouted or echoed.

``python -m bench.soak --minutes 5 --seed 7`` (the issue asks 30, the default).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.chaos import CHANNELS, Chaos, Injector, Target, available
from bridge.app import Running, dead_letter_notice, start_discord, start_slack
from bridge.config import Config
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.mirror import dlq
from bridge.mirror.worker import Worker
from bridge.runtime import Runtime
from bridge.store import keys
from bridge.store.connection import connect
from bridge.store.embedded import EmbeddedRedis

FAST = {"reconnect_min_s": 0.2, "reconnect_max_s": 2.0, "bad_token_retry_s": 2.0, "admin_fix_retry_s": 1.0}
"""Both adapters retry fast (a soak's faults last seconds; the defaults are minutes for a bad token or
a room waiting for an admin)."""
PEOPLE = ("alice", "bob", "carol")
TOKEN = re.compile(r"\bsoak-(\d+)\b")
DISCORD_EPOCH_MS = 1420070400000
PLATFORMS = ("discord", "slack")


@dataclass
class Said:
    n: int
    origin: str
    channel: str
    at: float
    under: str
    """``baseline``, or the kind of the injection active (or last) when it was said."""
    copies: int = 0
    first_copy_at: float | None = None
    misrouted: int = 0
    echoes: int = 0
    dead: list[dict[str, str]] = field(default_factory=list)

    @property
    def target(self) -> str:
        return "slack" if self.origin == "discord" else "discord"

    @property
    def direction(self) -> str:
        return f"{self.origin} → {self.target}"


@dataclass
class Notices:
    """What an operator and the sender were told about dead letters (captured as it happens)."""

    warned: set[str] = field(default_factory=set)
    """Outbox entries the worker logged a "dead-lettering" WARNING for."""
    hooked: set[str] = field(default_factory=set)
    """Core message ids the dead-letter notice hook (tell the sender) ran for."""
    drops: collections.Counter[str] = field(default_factory=collections.Counter)
    """Inbound events the adapters dropped (``metrics.inbound_dropped``), by logged line."""


class NoticeLog(logging.Handler):
    def __init__(self, notices: Notices) -> None:
        super().__init__(logging.WARNING)
        self.notices = notices

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "bridge.mirror.delivery" and "dead-lettering" in str(record.msg):
            self.notices.warned.add(str(record.args[1]) if isinstance(record.args, tuple) else "")
        elif record.name == "bridge.drops":
            self.notices.drops[record.getMessage()[:120]] += 1


@dataclass
class Soak:
    running: Running
    chat: Chat
    rng: random.Random
    said: dict[int, Said] = field(default_factory=dict)
    n: int = 0

    @property
    def discord(self) -> Any:
        return self.running.emulators["discord"]

    @property
    def slack(self) -> Any:
        return self.running.emulators["slack"]

    async def say(self, under: str) -> None:
        self.n += 1
        origin = PLATFORMS[self.n % 2]
        channel = self.rng.choice(CHANNELS)
        person = self.rng.choice(PEOPLE)
        text = f"soak-{self.n} from {person} on {origin} in {channel}"
        self.said[self.n] = Said(self.n, origin, channel, time.time(), under)
        if origin == "discord":
            await self.discord.say(person, channel, text)
        else:
            self.slack.user_says(user=person, channel=channel, text=text)

    def bridged(self) -> Iterable[tuple[str, str, str, float]]:
        """(platform, channel, text, posted at) of every copy the bridge posted."""
        for channel in CHANNELS:
            for m in self.discord.messages(channel):
                if m.get("webhook_id"):
                    yield "discord", channel, str(m["content"]), ((int(m["id"]) >> 22) + DISCORD_EPOCH_MS) / 1000
            for s in self.slack.history(channel):
                if s.username or s.bot_id:
                    yield "slack", channel, s.text, float(s.ts)

    def observe(self) -> None:
        for said in self.said.values():
            said.copies = said.misrouted = said.echoes = 0
            said.first_copy_at = None
        for platform, channel, text, at in self.bridged():
            found = TOKEN.search(text)
            said = self.said.get(int(found.group(1))) if found else None
            if said is None:
                continue
            if platform == said.origin:
                said.echoes += 1
            elif channel != said.channel:
                said.misrouted += 1
            else:
                said.copies += 1
                said.first_copy_at = at if said.first_copy_at is None else min(said.first_copy_at, at)

    async def collect_dead(self) -> list[dict[str, str]]:
        dead = await dlq.list_dead(self.chat.ctx.redis, limit=100_000)
        for said in self.said.values():
            said.dead = []
        for entry in dead:
            body = await self.chat.ctx.redis.hgetall(keys.message(entry.get("core", ""))) if entry.get("core") else {}
            found = TOKEN.search(body.get("message", ""))
            said = self.said.get(int(found.group(1))) if found else None
            if said is not None:
                said.dead.append(entry)
        return dead

    async def in_core(self) -> set[int]:
        """The soak messages the core has (to tell a message the adapter never got from one the
        worker did not deliver)."""
        redis, found = self.chat.ctx.redis, set()
        for channel in CHANNELS:
            for entry_id, fields in await redis.xrange(keys.channel(channel), "-", "+"):
                if fields.get("type") != "message":
                    continue
                text = fields.get("message") or await redis.hget(keys.message(entry_id), "message") or ""
                token = TOKEN.search(text)
                if token:
                    found.add(int(token.group(1)))
        return found

    def settled(self) -> bool:
        return all(x.copies or x.dead for x in self.said.values())


def outcome(said: Said, notices: Notices) -> str:
    if said.copies > 1:
        return "dup"
    if said.copies == 1:
        return "once"
    if said.dead:
        told = all(
            e.get("error") and e.get("entry") in notices.warned and e.get("core") in notices.hooked for e in said.dead
        )
        return "dead" if told else "dead?"
    return "lost"


OUTCOMES = ("once", "dead", "dead?", "dup", "lost")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(label: str, rows: list[Said], notices: Notices, width: int) -> str:
    counts = collections.Counter(outcome(x, notices) for x in rows)
    lat = [x.first_copy_at - x.at for x in rows if x.first_copy_at is not None]
    cells = " ".join(f"{counts.get(o, 0):5d}" for o in OUTCOMES)
    return f"  {label:{width}} {len(rows):6d} {cells} {percentile(lat, 0.5):7.2f} {percentile(lat, 0.99):7.2f}"


def header(label: str, width: int) -> str:
    cells = " ".join(f"{o:>5}" for o in OUTCOMES)
    return f"  {label:{width}} {'said':>6} {cells} {'p50 s':>7} {'p99 s':>7}"


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp), appendonly=True, appendfsync="everysec")
        url = server.start()
        redis = connect(url)
        try:
            chat = await Chat.open(redis)
            return await soak(chat, url, args)
        finally:
            await redis.aclose()
            server.stop()


async def link_channels(chat: Chat, running: Running) -> None:
    """#general is linked by the sandbox start; #random and #cricket the same way."""
    discord, slack = running.emulators["discord"], running.emulators["slack"]
    for name in CHANNELS[1:]:
        if not await chat.channels.exists(name):
            await chat.channels.create(name)
        await chat.channels.link(name, ChannelRef("discord", discord.guild_id, discord.channel(name).id))
        team = slack.workspace.team_id
        await chat.channels.link(name, ChannelRef("slack", team, slack.workspace.channel(name).id))


async def soak(chat: Chat, url: str, args: argparse.Namespace) -> int:
    notices = Notices()
    handler = NoticeLog(notices)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)
    rt = Runtime(url, chat.ctx.redis, chat, None)
    running = Running()
    cfg = Config(discord=dict(FAST), slack=dict(FAST))
    stop = asyncio.Event()
    await start_discord(rt, cfg, running, sandbox=True)
    await start_slack(rt, cfg, running, sandbox=True)
    await link_channels(chat, running)
    tell = dead_letter_notice(chat, running)

    async def on_dead(destination: ChannelRef, job: dict[str, str], error: str) -> None:
        notices.hooked.add(job.get("core", ""))
        await tell(destination, job, error)

    opts = cfg.worker
    worker = Worker(
        chat=chat,
        redis_url=url,
        destinations=running.destinations,
        max_attempts=opts.max_attempts,
        outage_hold_s=opts.outage_hold_s,
        call_timeout_s=opts.call_timeout_s,
        on_dead=on_dead,
    )
    task = asyncio.create_task(worker.run(stop))
    rng = random.Random(args.seed)
    s = Soak(running, chat, random.Random(rng.random()))
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    targets = {
        "discord": Target("discord", s.discord, s.discord.base_url, http),
        "slack": Target("slack", s.slack, s.slack.url, http),
    }
    have, missing = await available(targets)
    chaos = Chaos(targets, have, random.Random(rng.random()), args.fault_every)
    load_before = os.getloadavg()
    chaos_stop = asyncio.Event()
    try:
        await traffic(s, args.rate, args.baseline, lambda: "baseline")
        injecting = asyncio.create_task(chaos.run(chaos_stop))

        def under() -> str:
            current = chaos.active_at(time.monotonic() - chaos.started)
            return current.kind if current is not None else "(before the first injection)"

        await traffic(s, args.rate, args.minutes * 60, under)
        chaos_stop.set()
        await injecting
        await chaos.restore()
        drained_in = await drain(s, args.drain)
        load_after = os.getloadavg()
        dead = await s.collect_dead()
        core = await s.in_core()
        return report(s, chaos, have, missing, notices, dead, core, args, drained_in, (load_before, load_after))
    finally:
        stop.set()
        await http.close()
        await asyncio.wait_for(task, 30)
        for close in running.closers:
            await close()
        logging.getLogger().removeHandler(handler)


async def traffic(s: Soak, rate: float, seconds: float, under: Any) -> None:
    start = time.monotonic()
    next_at = start
    while time.monotonic() - start < seconds:
        await s.say(under())
        next_at += 1 / rate
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def drain(s: Soak, limit_s: float) -> float:
    """Wait until every message is delivered or dead-lettered (at most ``limit_s``), then a few
    seconds more for late duplicates; returns how long the backlog took."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        s.observe()
        await s.collect_dead()
        if s.settled():
            break
        await asyncio.sleep(1.0)
    took = time.monotonic() - start
    await asyncio.sleep(5.0)
    s.observe()
    return took


def report(
    s: Soak,
    chaos: Chaos,
    have: list[Injector],
    missing: list[Injector],
    notices: Notices,
    dead: list[dict[str, str]],
    core: set[int],
    args: argparse.Namespace,
    drained_in: float,
    load: tuple[tuple[float, float, float], tuple[float, float, float]],
) -> int:
    said = list(s.said.values())
    print(
        f"soak: seed {args.seed}, {args.minutes:g} min of chaos after a {args.baseline:g} s baseline, "
        f"{args.rate:g} msg/s over {len(CHANNELS)} linked channel pairs; drained in {drained_in:.1f} s"
    )
    print(f"load average (1/5/15 min) before {load[0][0]:.2f}/{load[0][1]:.2f}/{load[0][2]:.2f}, ", end="")
    print(f"after {load[1][0]:.2f}/{load[1][1]:.2f}/{load[1][2]:.2f} ({os.cpu_count()} cores)")
    print(f"injectors on main ({len(have)}): {', '.join(i.kind for i in have)}")
    if missing:
        print(f"not offered by the emulators ({len(missing)}): {', '.join(i.kind for i in missing)}")
    failed = [i for i in chaos.log if i.error]
    print(f"injections: {len(chaos.log)} ({len(failed)} refused by the emulator)")
    for injection in failed[:5]:
        print(f"  refused at +{injection.at:.1f} s {injection.kind}: {injection.error}")
    tables(said, chaos, notices)
    reasons = collections.Counter(str(e.get("error", "") or "(no reason)")[:100] for e in dead)
    told = sum(1 for x in said if outcome(x, notices) == "dead")
    print(f"dead letters: {len(dead)} (messages dead-lettered with a reason, a WARNING and the sender notice: {told})")
    for reason, count in reasons.most_common(10):
        print(f"  {count:5d}  {reason}")
    if notices.drops:
        print(f"inbound drops logged: {sum(notices.drops.values())}")
        for line, count in notices.drops.most_common(5):
            print(f"  {count:5d}  {line}")
    return faults(said, chaos, notices, core)


def tables(said: list[Said], chaos: Chaos, notices: Notices) -> None:
    kinds = collections.Counter(i.kind for i in chaos.log)
    by_kind = {f"{k} ({kinds.get(k, 0)})": k for k in sorted({x.under for x in said if x.under != "baseline"})}
    width = max([24, *(len(label) for label in by_kind)])
    print("by phase and direction:")
    print(header("", width))
    for phase in ("baseline", "chaos"):
        for direction in ("discord → slack", "slack → discord"):
            rows = [x for x in said if (x.under == "baseline") == (phase == "baseline") and x.direction == direction]
            print(row(f"{phase} {direction}", rows, notices, width))
    print("by injection active (or last) when the message was said:")
    print(header("injection (times)", width))
    for label, kind in by_kind.items():
        print(row(label, [x for x in said if x.under == kind], notices, width))
    print(row("all", said, notices, width))


def faults(said: list[Said], chaos: Chaos, notices: Notices, core: set[int]) -> int:
    """Print what went wrong, message by message (the first ten of each), and the injections
    around the first of them; returns the exit status."""
    bad = {o: [x for x in said if outcome(x, notices) == o] for o in ("dup", "lost", "dead?")}
    misrouted = sum(x.misrouted for x in said)
    echoes = sum(x.echoes for x in said)
    print(
        f"duplicates: {len(bad['dup'])}  lost: {len(bad['lost'])}  dead without notice: {len(bad['dead?'])}  "
        f"misrouted: {misrouted}  echoes: {echoes}"
    )
    lost_inbound = sum(1 for x in bad["lost"] if x.n not in core)
    if bad["lost"]:
        print(f"  of the lost: {lost_inbound} never reached the core, {len(bad['lost']) - lost_inbound} not delivered")
    for name, rows in bad.items():
        for x in rows[:10]:
            where = "in the core" if x.n in core else "not in the core"
            print(f"  {name}: soak-{x.n} {x.direction} #{x.channel} at {x.at:.3f} under {x.under!r}, {where}")
    at_fault = [x for rows in bad.values() for x in rows]
    if at_fault:
        first = min(x.at for x in at_fault) - chaos.started_wall
        print(f"injections around the first of them (+{first:.1f} s into the chaos):")
        for injection in chaos.log:
            if first - 30 <= injection.at <= first + 5:
                print(f"  +{injection.at:7.1f} s {injection.kind}: {injection.detail or injection.error}")
    return 1 if at_fault or misrouted or echoes else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="minutes of chaos (default 30)")
    parser.add_argument("--seed", type=int, default=1, help="seeds the chaos schedule and the traffic (default 1)")
    parser.add_argument("--rate", type=float, default=4.0, help="messages per second, both sides together")
    parser.add_argument("--baseline", type=float, default=30.0, help="fault-free seconds first (same-run baseline)")
    parser.add_argument("--fault-every", type=float, default=8.0, help="mean seconds between injections")
    parser.add_argument("--drain", type=float, default=180.0, help="seconds allowed to deliver the backlog")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
