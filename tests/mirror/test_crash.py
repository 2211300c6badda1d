"""Crashes and restarts: cancellation mid-backlog (clean and abrupt), a send cut off mid-call, two
workers sharing the partitions, and a worker process killed with SIGKILL and restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from mirror_kit import D1, D2, S1, S2, Recorder, recorders, register, setup_room

from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.mirror.router import owned_partitions
from bridge.mirror.worker import Worker
from bridge.store import keys
from bridge.store.connection import RedisClient

ROOT = Path(__file__).resolve().parents[2]


def make_worker(chat: Chat, url: str, dests: dict[str, Recorder], **kw: Any) -> Worker:
    return Worker(chat=chat, redis_url=url, destinations=dests, backoff_base_s=0.01, **kw)


async def post_many(chat: Chat, n: int, room: str = "general") -> list[str]:
    texts = [f"{room}-{i}" for i in range(n)]
    for text in texts:
        await chat.messages.post(room, "ada", text)
    return texts


def collapse(seq: list[str]) -> tuple[list[str], int]:
    """The sequence as people see it after a crash resend (a repeat of the previous item dropped),
    and how many such repeats there were."""
    out: list[str] = []
    for item in seq:
        if not out or out[-1] != item:
            out.append(item)
    return out, len(seq) - len(out)


async def test_clean_stop_mid_backlog_then_restart_delivers_each_once_in_order(chat: Chat, redis_url: str) -> None:
    await setup_room(chat)
    await register(chat, "ada")
    texts = await post_many(chat, 200)
    discord, slack, dests = recorders()
    for _ in range(3):
        stop = asyncio.Event()
        task = asyncio.create_task(make_worker(chat, redis_url, dests).run(stop))
        before = len(discord.calls)
        await discord.wait_for(lambda before=before: len(discord.calls) >= before + 40)  # type: ignore[misc]
        stop.set()
        await asyncio.wait_for(task, 10)
    await make_worker(chat, redis_url, dests).drain(20)
    for rec, ref in ((discord, D1), (discord, D2), (slack, S1), (slack, S2)):
        assert rec.texts(ref) == texts, ref


async def test_abrupt_cancel_mid_backlog_loses_nothing_and_keeps_order(
    chat: Chat, redis: RedisClient, redis_url: str
) -> None:
    """Lanes are cancelled wherever they are (no grace). The only possible repeat is the job whose
    platform call had returned but whose record was not written yet: at most one per lane per crash."""
    await setup_room(chat)
    await register(chat, "ada")
    texts = await post_many(chat, 300)
    discord, slack, dests = recorders()
    crashes = 4
    for _ in range(crashes):
        task = asyncio.create_task(make_worker(chat, redis_url, dests, shutdown_grace_s=0).run(asyncio.Event()))
        before = len(slack.calls)
        await slack.wait_for(lambda before=before: len(slack.calls) >= before + 30)  # type: ignore[misc]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await make_worker(chat, redis_url, dests).drain(20)
    for rec, ref in ((discord, D1), (discord, D2), (slack, S1), (slack, S2)):
        seen, repeats = collapse(rec.texts(ref))
        assert seen == texts, ref
        assert repeats <= crashes
    for ref in (D1, D2, S1, S2):
        assert await redis.xlen(keys.outbox(ref.key())) == 0


async def test_send_cut_off_by_a_crash_is_delivered_after_restart(chat: Chat, redis_url: str) -> None:
    await setup_room(chat, "general", (D1, S1))
    await register(chat, "ada")
    discord, slack, dests = recorders()
    slack.gate[S1.key()] = asyncio.Event()  # Slack hangs mid-call
    await post_many(chat, 3)
    task = asyncio.create_task(make_worker(chat, redis_url, dests, shutdown_grace_s=0).run(asyncio.Event()))
    await slack.entered.wait()
    await discord.wait_for(lambda: len(discord.sent(D1)) == 3)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    del slack.gate[S1.key()]
    await make_worker(chat, redis_url, dests).drain(10)
    assert slack.texts(S1) == ["general-0", "general-1", "general-2"]
    assert len(discord.sent(D1)) == 3


async def test_two_workers_share_partitions_without_reordering_a_room(chat: Chat, redis_url: str) -> None:
    await register(chat, "ada")
    rooms = [f"room{i}" for i in range(8)]
    refs = {room: (ChannelRef("discord", "g", room), ChannelRef("slack", "T", room)) for room in rooms}
    for room in rooms:
        await setup_room(chat, room, refs[room])
    discord, slack, dests = recorders()
    workers = [make_worker(chat, redis_url, dests, worker_index=i, workers=2) for i in range(2)]
    assert sorted(workers[0].partitions + workers[1].partitions) == list(range(8))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    expected: dict[str, list[str]] = {room: [] for room in rooms}
    for i in range(240):
        room = rooms[(i * 5) % len(rooms)]
        expected[room].append(f"{room}-{i}")
        await chat.messages.post(room, "ada", f"{room}-{i}")
    await slack.wait_for(lambda: len(slack.calls) == 240)
    await discord.wait_for(lambda: len(discord.calls) == 240)
    stop.set()
    await asyncio.gather(*tasks)
    for room in rooms:
        assert discord.texts(refs[room][0]) == expected[room]
        assert slack.texts(refs[room][1]) == expected[room]
    for w in workers:  # each worker delivered exactly the rooms of its own partitions
        mine = set(owned_partitions(8, w.index, 2))
        for dest in w.metrics()["destinations"]:
            room = ChannelRef.parse(dest).channel_id
            assert keys.partition_of(room, 8) in mine
    assert sum(w.metrics()["delivered"] for w in workers) == 480


async def test_sigkill_mid_backlog_then_restart_every_message_once_in_order(
    chat: Chat, redis: RedisClient, redis_url: str
) -> None:
    """The worker runs in its own process (tests/mirror/worker_proc.py) and is killed with SIGKILL
    mid-backlog, twice; after a restart every message reaches every destination, in order."""
    await setup_room(chat, "general", (D1, S1, S2))
    await register(chat, "ada")
    texts = await post_many(chat, 300)
    seen: list[tuple[str, str]] = []
    last = "0"

    async def read_until(count: int) -> None:
        nonlocal last
        async with asyncio.timeout(30):
            while len(seen) < count:
                reply = await redis.xread({"test:sent": last}, block=2000)
                for _, entries in reply or []:
                    for entry_id, fields in entries:
                        seen.append((fields["dest"], fields["text"]))
                        last = entry_id

    kills = 2
    for round_ in range(kills + 1):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).with_name("worker_proc.py")),
            redis_url,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.PIPE,
        )
        signalled = False
        try:
            assert proc.stdout is not None
            assert (await asyncio.wait_for(proc.stdout.readline(), 30)).strip() == b"ready"
            if round_ < kills:
                await read_until(len(seen) + 150)
                proc.send_signal(signal.SIGKILL)
                signalled = True
            else:
                await read_until(3 * len(texts))
                delivered = {dest: collapse([t for d, t in seen if d == dest])[0] for dest, _ in seen}
                async with asyncio.timeout(30):  # repeats after kills make `seen` longer than 900
                    while any(len(v) < len(texts) for v in delivered.values()):
                        await read_until(len(seen) + 1)
                        delivered = {dest: collapse([t for d, t in seen if d == dest])[0] for dest, _ in seen}
                proc.send_signal(signal.SIGTERM)
                signalled = True
        finally:
            if not signalled:  # a failed wait above: do not leave the worker running
                proc.kill()
            await asyncio.wait_for(proc.wait(), 15)
        if round_ < kills:
            assert proc.returncode == -signal.SIGKILL
    for ref in (D1, S1, S2):
        sequence, repeats = collapse([t for d, t in seen if d == ref.key()])
        assert sequence == texts, ref
        assert repeats <= kills
    assert D1.key() in {d for d, _ in seen}
