"""Redis killed (SIGKILL) and restarted from its AOF while the worker is delivering a backlog."""

from __future__ import annotations

import asyncio
from pathlib import Path

from generations import Generation
from mirror_kit import D1, S1, S2, recorders, register, setup_room

from bridge.core.chat import Chat
from bridge.mirror.worker import Worker
from bridge.store.connection import connect


def collapse(seq: list[str]) -> tuple[list[str], int]:
    out: list[str] = []
    for item in seq:
        if not out or out[-1] != item:
            out.append(item)
    return out, len(seq) - len(out)


async def test_redis_restart_mid_backlog_loses_nothing(tmp_path: Path, generation: Generation) -> None:
    server = generation.server(tmp_path / "redis", appendonly=True, appendfsync="always")
    url = await asyncio.to_thread(server.start)
    redis = connect(url)
    try:
        chat = await Chat.open(redis)
        await setup_room(chat, "general", (D1, S1, S2))
        await register(chat, "ada")
        discord, slack, dests = recorders()
        gate = slack.gate[S2.key()] = asyncio.Event()  # S2 holds its backlog until after the restart
        texts = [f"m{i}" for i in range(120)]
        for text in texts[:60]:
            await chat.messages.post("general", "ada", text)
        stop = asyncio.Event()
        task = asyncio.create_task(Worker(chat=chat, redis_url=url, destinations=dests, block_ms=200).run(stop))
        await discord.wait_for(lambda: len(discord.sent(D1)) >= 20)
        await slack.entered.wait()

        server.kill()
        await asyncio.to_thread(server.start)  # same port and data dir: the AOF is replayed
        gate.set()
        for text in texts[60:]:
            await chat.messages.post("general", "ada", text)
        await discord.wait_for(lambda: len(collapse(discord.texts(D1))[0]) == 120, timeout=30)
        await slack.wait_for(
            lambda: all(len(collapse(slack.texts(ref))[0]) == 120 for ref in (S1, S2)),
            timeout=30,
        )
        stop.set()
        await asyncio.wait_for(task, 15)
        for rec, ref in ((discord, D1), (slack, S1), (slack, S2)):
            seen, repeats = collapse(rec.texts(ref))
            assert seen == texts, ref
            assert repeats <= 1, ref
    finally:
        await redis.aclose()
        await asyncio.to_thread(server.stop)
