"""File mirroring figures: an 8 MiB image each way through both emulators (time and peak memory),
and the worker's throughput when 10% of messages carry a 100 KiB image, each beside a same-run
text-only baseline.

Everything runs in one process, as in the e2e tests: a redis-server + RediSearch of its own (never
the machine's 6379), the Discord and Slack emulators on 127.0.0.1, the real discord.py and
slack-bolt adapters, the fan-out worker. A transfer is timed from the person's post to the moment
the destination emulator holds the file with the same sha256. Peak memory is ``tracemalloc``'s
peak of Python allocations during one transfer (every part of the process: both emulators, both
adapters, aiohttp's buffers), in a separate run from the timings (tracing slows the process).

``python -m bench.files [--quick]``; a full run takes about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

from bridge.app import Running, start_discord, start_slack
from bridge.config import Config
from bridge.core.chat import Chat
from bridge.core.ports import Attachment, ChannelRef, InboundEvent, PlatformUser
from bridge.mirror.worker import Worker
from bridge.runtime import Runtime
from bridge.store.connection import connect
from bridge.store.embedded import EmbeddedRedis

MIB = 1024 * 1024


class Rig:
    """Both emulators, both adapters, the worker, on one Redis."""

    def __init__(self, url: str, *, worker: bool = True) -> None:
        self.url = url
        self.with_worker = worker
        self.running = Running()
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Rig:
        self.redis = connect(self.url)
        await self.redis.flushall()
        chat = await Chat.open(self.redis)
        rt = Runtime(self.url, self.redis, chat, None)
        await start_discord(rt, Config(), self.running, sandbox=True)
        await start_slack(rt, Config(), self.running, sandbox=True)
        self.chat = chat
        self.discord = self.running.emulators["discord"]
        self.slack = self.running.emulators["slack"]
        if self.with_worker:
            self.start_worker()
        return self

    def start_worker(self) -> None:
        worker = Worker(chat=self.chat, redis_url=self.url, destinations=self.running.destinations)
        self.task = asyncio.create_task(worker.run(self.stop))

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task
        for close in self.running.closers:
            await close()
        await self.redis.aclose()

    # -- arrival probes ---------------------------------------------------------------------------
    def on_slack(self, digest: str) -> bool:
        return any(
            f.blob is not None and f.blob.sha256 == digest for f in self.slack.files.files.values() if f.complete
        )

    def slack_texts(self) -> int:
        return len(self.slack.history("general"))

    def discord_copies(self) -> int:
        return sum(1 for m in self.discord.messages("general") if m.get("webhook_id"))


async def until(probe: Callable[[], bool], timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not probe():
            await asyncio.sleep(0.001)


async def one_transfer(rig: Rig, direction: str, data: bytes, *, name: str = "photo.png") -> float:
    """Seconds from the post to the destination holding the same bytes."""
    digest = hashlib.sha256(data).hexdigest()
    start = time.perf_counter()
    if direction == "discord -> slack":
        await rig.discord.say("alice", "general", "", files=[(name, data)])
        await until(lambda: rig.on_slack(digest))
    else:
        rig.slack.user_says(user="bob", channel="general", text="", files=[(name, data)])
        await until(lambda: any(f.blob.sha256 == digest for f in rig.discord.backend.cdn.files.values()))
    return time.perf_counter() - start


async def one_text(rig: Rig, direction: str, text: str) -> float:
    start = time.perf_counter()
    if direction == "discord -> slack":
        before = rig.slack_texts()
        await rig.discord.say("alice", "general", text)
        await until(lambda: rig.slack_texts() > before)
    else:
        before = rig.discord_copies()
        rig.slack.user_says(user="bob", channel="general", text=text)
        await until(lambda: rig.discord_copies() > before)
    return time.perf_counter() - start


async def traced(run: Callable[[], Awaitable[float]]) -> int:
    """Peak Python allocation (bytes) above the level before ``run``."""
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        await run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base


async def big_files(url: str, reps: int) -> None:
    size = 8 * MIB
    print(f"an {size // MIB} MiB image each way through both emulators (median of {reps}; time from the post to")
    print("the destination holding the same sha256; peak = tracemalloc peak during one transfer):")
    head = f"{'direction':>18} {'8 MiB file ms':>14} {'text ms':>9} {'ratio':>7}"
    print(f"{head} {'peak MiB':>9} {'text peak MiB':>14} {'peak/file':>10}")
    async with Rig(url) as rig:
        for direction in ("discord -> slack", "slack -> discord"):
            await one_text(rig, direction, "warm-up")
            files, texts = [], []
            for i in range(reps):
                data = os.urandom(size)
                files.append(await one_transfer(rig, direction, data, name=f"big{i}.png"))
                texts.append(await one_text(rig, direction, f"baseline {i}"))
            data = os.urandom(size)
            peak = await traced(functools.partial(one_transfer, rig, direction, data, name="traced.png"))
            text_peak = await traced(functools.partial(one_text, rig, direction, "traced text"))
            f_ms, t_ms = statistics.median(files) * 1000, statistics.median(texts) * 1000
            print(
                f"{direction:>18} {f_ms:>14.0f} {t_ms:>9.1f} {f_ms / t_ms:>6.0f}× {peak / MIB:>9.2f}"
                f" {text_peak / MIB:>14.2f} {peak / size:>9.2f}×"
            )


async def throughput(url: str, count: int) -> None:
    print(f"\nworker throughput: {count} messages recorded in the core with the worker stopped, then drained")
    print("(median of 3; each image downloaded from the origin emulator and uploaded to the other one),")
    print("text only vs 10% of them with a 100 KiB image:")
    print(f"{'direction':>18} {'text msg/s':>11} {'10% image msg/s':>16} {'ratio':>7}")
    image = os.urandom(100 * 1024)
    for direction in ("discord -> slack", "slack -> discord"):
        rates: dict[str, list[float]] = {"text": [], "mixed": []}
        for _ in range(3):
            for kind in ("text", "mixed"):
                async with Rig(url, worker=False) as rig:
                    rates[kind].append(await drain(rig, direction, count, image if kind == "mixed" else None))
        text, mixed = statistics.median(rates["text"]), statistics.median(rates["mixed"])
        print(f"{direction:>18} {text:>11.0f} {mixed:>16.0f} {mixed / text:>6.2f}×")


async def drain(rig: Rig, direction: str, count: int, image: bytes | None) -> float:
    """Record ``count`` messages as if they came from one side (every tenth with ``image``, held by
    that side's emulator as a person's upload), start the worker, time until all are on the other."""
    origin = "discord" if direction.startswith("discord") else "slack"
    if origin == "discord":
        chan = rig.discord.channel("general")
        ref = ChannelRef("discord", rig.discord.guild_id, chan.id)
    else:
        ref = ChannelRef("slack", rig.slack.workspace.team_id, "C0GENERAL1")
    author = PlatformUser(origin, ref.workspace, "U0BENCH" if origin == "slack" else "1", "Bench Person")
    for i in range(count):
        files: tuple[Attachment, ...] = ()
        if image is not None and i % 10 == 0:
            files = (await held_by(rig, origin, ref, f"img{i}.png", image),)
        event = InboundEvent("message", ref, f"{i}.000001", f"bench:{i}", author, f"m{i}", attachments=files)
        result = await rig.chat.ingest(event)
        assert result.status == "recorded", result
    start = time.perf_counter()
    rig.start_worker()
    if origin == "discord":
        await until(lambda: rig.slack_texts() >= count, timeout=300)
    else:
        await until(lambda: rig.discord_copies() >= count, timeout=300)
    return count / (time.perf_counter() - start)


async def held_by(rig: Rig, origin: str, ref: ChannelRef, name: str, data: bytes) -> Attachment:
    """A file as the origin emulator holds a person's upload, and the core's record of it."""
    if origin == "discord":
        blob = await rig.discord.backend.blobs.put(data)
        att = rig.discord.backend.cdn.add(
            attachment_id=rig.discord.world.ids.next(), channel_id=ref.channel_id, filename=name, blob=blob
        )
        return Attachment(name, len(data), "image/png", att["url"], "discord")
    msg = rig.slack.user_says(user="bob", channel="random", text="", files=[(name, data)])  # held, not linked
    obj = msg.file_objects[0]
    return Attachment(name, len(data), "image/png", obj["url_private_download"], "slack", obj["permalink"])


async def main(quick: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="cb-bench-files-") as tmp:
        server = EmbeddedRedis(data_dir=Path(tmp), appendonly=True, appendfsync="everysec")
        url = server.start()
        try:
            await big_files(url, 2 if quick else 5)
            await throughput(url, 100 if quick else 300)
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
