"""The mirror log holds only what is still to be routed: no entry for a room without links, and
the routed head trimmed as soon as every destination has its job in its outbox."""

from __future__ import annotations

from mirror_kit import S1, recorders, register, setup_room

from bridge.core.chat import Chat
from bridge.mirror.worker import Worker
from bridge.store import keys
from bridge.store.connection import RedisClient


async def log_length(redis: RedisClient, chat: Chat) -> int:
    return sum([await redis.xlen(keys.mirror_log(p)) for p in range(chat.ctx.settings.mirror_partitions)])


async def test_unlinked_rooms_write_no_log_and_routed_entries_are_trimmed(
    chat: Chat, redis: RedisClient, redis_url: str
) -> None:
    await setup_room(chat)
    await register(chat, "ada")
    await chat.channels.create("quiet")
    for i in range(5):
        await chat.messages.post("quiet", "ada", f"nobody mirrors this {i}")
    assert await log_length(redis, chat) == 0
    for i in range(30):
        await chat.messages.post("general", "ada", f"m{i}")
    assert await log_length(redis, chat) == 30
    _, slack, dests = recorders()
    await Worker(chat=chat, redis_url=redis_url, destinations=dests, backoff_base_s=0.01).drain(20)
    assert slack.texts(S1) == [f"m{i}" for i in range(30)]
    assert await log_length(redis, chat) == 0  # every entry routed: the head went with it
    # history is untouched: the log was only the worker's queue
    assert len(await chat.messages.history("general", 50)) == 30
