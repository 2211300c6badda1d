"""A mirroring worker in its own process, for the SIGKILL test: ``python worker_proc.py <redis url>``.

Its destinations are real ones that write what they "post" to a Redis stream (``test:sent``:
destination, core id, text), taking ``SEND_DELAY`` seconds like a platform round trip. Runs until
SIGTERM (clean stop) or SIGKILL (the crash under test).
"""

from __future__ import annotations

import asyncio
import signal
import sys

from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, OutboundMessage, Platform, PlatformUser
from bridge.errors import DeliveryError
from bridge.mirror.worker import Worker
from bridge.store.connection import RedisClient, connect

SENT_STREAM = "test:sent"
SEND_DELAY = 0.002


class StreamDestination:
    def __init__(self, platform: Platform, redis: RedisClient) -> None:
        self.platform = platform
        self.redis = redis

    async def send(self, channel: ChannelRef, message: OutboundMessage) -> list[str]:
        await asyncio.sleep(SEND_DELAY)
        fields = {"dest": channel.key(), "core": message.core_id, "text": message.text}
        platform_id: str = await self.redis.xadd(SENT_STREAM, fields)
        return [platform_id]

    async def edit(self, channel: ChannelRef, ids: list[str], message: OutboundMessage) -> list[str]:
        return ids

    async def delete(self, channel: ChannelRef, ids: list[str]) -> None:
        return None

    async def direct_message(self, user: PlatformUser, text: str) -> None:
        raise DeliveryError("no DMs here", permanent=True)


async def main(url: str) -> None:
    redis = connect(url)
    chat = await Chat.open(redis)
    dests = {"discord": StreamDestination("discord", redis), "slack": StreamDestination("slack", redis)}
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    worker = Worker(chat=chat, redis_url=url, destinations=dests, block_ms=200)
    print("ready", flush=True)
    await worker.run(stop)
    await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
