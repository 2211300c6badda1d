"""Both real adapters against both emulators and the worker, in one process, and ways to wait (the
outage tests in tests/platforms, the contract tests in tests/contract)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from bridge.app import Running, start_discord, start_slack
from bridge.config import Config
from bridge.core.chat import Chat
from bridge.mirror.worker import Worker
from bridge.runtime import Runtime
from bridge.store import keys

T = TypeVar("T")
FAST_RECONNECT = {"reconnect_min_s": 0.05, "reconnect_max_s": 0.3, "bad_token_retry_s": 0.3}


@dataclass
class Both:
    chat: Chat
    running: Running
    worker: Worker

    @property
    def discord(self) -> Any:
        return self.running.emulators["discord"]

    @property
    def slack(self) -> Any:
        return self.running.emulators["slack"]

    def adapter(self, platform: str) -> Any:
        return self.running.adapters[platform]

    def discord_texts(self, channel: str = "general") -> list[str]:
        return [m["content"] for m in self.discord.messages(channel)]

    def slack_texts(self, channel: str = "general") -> list[str]:
        return [m.text for m in self.slack.history(channel)]

    async def dead_letters(self) -> int:
        return int(await self.chat.ctx.redis.xlen(keys.DEAD_LETTERS))


@asynccontextmanager
async def both_sides(
    chat: Chat, redis_url: str, *, discord_settings: dict[str, Any] | None = None, **worker: Any
) -> AsyncIterator[Both]:
    rt = Runtime(redis_url, chat.ctx.redis, chat, None)
    running = Running()
    discord = {**FAST_RECONNECT, "admin_fix_retry_s": 0.3, **(discord_settings or {})}
    cfg = Config(discord=discord, slack=dict(FAST_RECONNECT))
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    try:
        await start_discord(rt, cfg, running, sandbox=True)
        await start_slack(rt, cfg, running, sandbox=True)
        options: dict[str, Any] = {"backoff_base_s": 0.05, "backoff_cap_s": 0.5, **worker}
        w = Worker(chat=chat, redis_url=redis_url, destinations=running.destinations, **options)
        task = asyncio.create_task(w.run(stop))
        yield Both(chat, running, w)
    finally:
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 15)
        for close in running.closers:
            await close()


async def core_texts(chat: Chat, channel: str = "general") -> list[str]:
    return [m.text for m in await chat.messages.history(channel, 100) if m.kind == "message"]
