"""The bridge end to end in one process, for e2e tests: both emulators, the real adapters, a real
Redis, the fan-out worker (imported by bare name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

from bridge.app import Running, dead_letter_notice, start_discord, start_slack
from bridge.config import Config
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.mirror.worker import Worker
from bridge.runtime import Runtime

T = TypeVar("T")


@dataclass
class Bridge:
    chat: Chat
    running: Running
    discord: Any
    slack: Any

    def dref(self, name: str) -> ChannelRef:
        return ChannelRef("discord", self.discord.guild_id, self.discord.channel(name).id)

    def sref(self, name: str) -> ChannelRef:
        ws = self.slack.workspace
        return ChannelRef("slack", ws.team_id, ws.channel(name).id)

    def slack_texts(self, channel: str) -> list[str]:
        return [m.text for m in self.slack.history(channel)]

    def discord_texts(self, channel: str) -> list[str]:
        return [m["content"] for m in self.discord.messages(channel)]


@contextlib.asynccontextmanager
async def running_bridge(chat: Chat, redis_url: str, cfg: Config | None = None, **worker: Any) -> AsyncIterator[Bridge]:
    rt = Runtime(redis_url, chat.ctx.redis, chat, None)
    running = Running()
    config = cfg or Config()
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    try:
        await start_discord(rt, config, running, sandbox=True)
        await start_slack(rt, config, running, sandbox=True)
        worker.setdefault("backoff_base_s", 0.05)
        worker.setdefault("on_dead", dead_letter_notice(chat, running))
        w = Worker(chat=chat, redis_url=redis_url, destinations=running.destinations, **worker)
        task = asyncio.create_task(w.run(stop))
        yield Bridge(chat, running, running.emulators["discord"], running.emulators["slack"])
    finally:
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 15)
        for close in running.closers:
            await close()


def speed_up_limits(bridge: Bridge, speed: float) -> None:
    """Both emulators' rate limits and the bridge's Slack pace run ``speed`` times faster: for a test
    that floods one channel (Slack allows 1 post/s per channel); say why where it is called."""
    bridge.slack.limiter.speed = speed
    bridge.discord.limits.speed = speed
    bridge.running.adapters["slack"].pacer.set_speed(speed)
