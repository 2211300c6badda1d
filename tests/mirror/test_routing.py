"""Routing: cost independent of the number of linked rooms, join/leave switch, trimmed room entries."""

from __future__ import annotations

import asyncio
from typing import Any

from mirror_kit import D1, D2, S1, S2, Recorder, recorders, register, say_from, setup_room

from bridge.core.chat import Chat
from bridge.core.context import CoreSettings
from bridge.core.ports import ChannelRef
from bridge.mirror.worker import Worker
from bridge.store import keys
from bridge.store.connection import RedisClient


def make_worker(chat: Chat, url: str, dests: dict[str, Recorder], **kw: Any) -> Worker:
    return Worker(chat=chat, redis_url=url, destinations=dests, backoff_base_s=0.01, **kw)


TIMING_DEPENDENT = (
    "cmdstat_client",  # connection setup: how many connections open depends on how many lanes were busy at once
    "cmdstat_hello",
    "cmdstat_select",
    "cmdstat_ping",
    "cmdstat_info",
    "cmdstat_config",
    "cmdstat_xreadgroup",  # drain() polls the log every 50 ms while lanes work
    "cmdstat_evalsha",  # ... and each outbox read is a script call
)


async def commands(redis: RedisClient) -> int:
    """Commands run since the last CONFIG RESETSTAT, without those whose number depends on timing."""
    info: dict[str, Any] = await redis.info("commandstats")
    return sum(int(v["calls"]) for k, v in info.items() if isinstance(v, dict) and not k.startswith(TIMING_DEPENDENT))


async def drain_and_count(chat: Chat, redis: RedisClient, url: str, n: int) -> tuple[int, Recorder]:
    discord, slack, dests = recorders()
    for i in range(n):
        await chat.messages.post("general", "ada", f"m{i}")
    await redis.execute_command("CONFIG", "RESETSTAT")
    await make_worker(chat, url, dests).drain(20)
    used = await commands(redis)
    assert slack.texts(S1) == [f"m{i}" for i in range(n)]
    return used, discord


async def test_redis_commands_per_message_do_not_depend_on_the_number_of_linked_rooms(
    chat: Chat, redis: RedisClient, redis_url: str
) -> None:
    await setup_room(chat)
    await register(chat, "ada")
    await drain_and_count(chat, redis, redis_url, 5)  # the outboxes and their groups exist from here on
    alone, _ = await drain_and_count(chat, redis, redis_url, 40)
    for i in range(300):  # 300 more rooms, 600 more linked channels, none of them talking
        name = f"idle{i}"
        await chat.channels.create(name)
        await chat.channels.link(name, ChannelRef("discord", "g9", name))
        await chat.channels.link(name, ChannelRef("slack", "T9", name))
    crowded, _ = await drain_and_count(chat, redis, redis_url, 40)
    assert crowded == alone


async def test_join_and_leave_are_not_routed_when_switched_off(redis: RedisClient, redis_url: str) -> None:
    chat = await Chat.open(redis, CoreSettings(show_join_leave=False))
    await setup_room(chat, "general", (D1, S1))
    await register(chat, "ada")
    discord, slack, dests = recorders()
    await chat.channels.set_membership("general", "ada", join=True)
    await chat.messages.post("general", "ada", "hello")
    worker = make_worker(chat, redis_url, dests)
    await worker.drain(10)
    assert slack.texts(S1) == ["hello"] and discord.texts(D1) == ["hello"]
    assert worker.metrics()["jobs_enqueued"] == 2


async def test_a_trimmed_room_entry_still_routes_its_message_without_echo(
    chat: Chat, redis: RedisClient, redis_url: str
) -> None:
    """Channel retention removed the room entries before the worker ran: a message is still routed
    from its hash, skipping every channel of its origin platform (the origin channel is unknown);
    an edit no longer says which message it changes and is counted as unroutable."""
    await setup_room(chat)
    await register(chat, "ada")
    await say_from(chat, D1, "m1", "from discord")
    await chat.messages.post("general", "ada", "from the core")
    await redis.xtrim(keys.channel("general"), maxlen=0)
    discord, slack, dests = recorders()
    worker = make_worker(chat, redis_url, dests)
    await worker.drain(10)
    assert discord.texts(D1) == ["from the core"] and discord.texts(D2) == ["from the core"]
    assert slack.texts(S1) == ["from discord", "from the core"] == slack.texts(S2)
    assert worker.metrics()["unroutable"] == 0


async def test_a_worker_without_partitions_idles_until_stopped(chat: Chat, redis_url: str) -> None:
    _, _, dests = recorders()
    worker = make_worker(chat, redis_url, dests, worker_index=9, workers=10)
    assert worker.partitions == []
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_an_unlinked_destination_gets_nothing_more_even_from_its_backlog(chat: Chat, redis_url: str) -> None:
    await setup_room(chat, "general", (D1, S1, S2))
    await register(chat, "ada")
    discord, slack, dests = recorders()
    await chat.messages.post("general", "ada", "m0")
    await make_worker(chat, redis_url, dests).drain(10)
    await chat.messages.post("general", "ada", "queued")
    await make_worker(chat, redis_url, {"discord": discord}).drain(10)  # routed; Slack's outboxes wait
    await chat.channels.unlink(S2)  # the admin unlinks S2 while its backlog waits
    await chat.messages.post("general", "ada", "after the unlink")
    worker = make_worker(chat, redis_url, dests)
    await worker.drain(10)
    assert slack.texts(S2) == ["m0"]
    assert slack.texts(S1) == ["m0", "queued", "after the unlink"] == discord.texts(D1)
    assert worker.metrics()["destinations"][S2.key()]["skipped"] == 1


async def test_log_entries_trimmed_before_routing_are_reported(chat: Chat, redis: RedisClient, redis_url: str) -> None:
    await setup_room(chat, "general", (D1, S1))
    await register(chat, "ada")
    _, _, dests = recorders()
    worker = make_worker(chat, redis_url, dests)
    await chat.messages.post("general", "ada", "routed")
    await worker.drain(10)
    await worker.refresh_metrics()
    part = str(keys.partition_of("general", 8))
    assert worker.metrics()["log"][part]["lost"] == 0
    await chat.messages.post("general", "ada", "never routed")
    await redis.xtrim(keys.mirror_log(int(part)), maxlen=0)  # what the core's MAXLEN does to a long backlog
    await worker.refresh_metrics()
    assert worker.metrics()["log"][part]["lost"] == 1


async def test_a_platform_message_names_its_origin_once_and_is_never_echoed(
    chat: Chat, redis: RedisClient, redis_url: str
) -> None:
    """The room entry is the guide's ``type message`` alone: where a message came from is the hash's
    ``origin_channel`` (once, not again in the stream), and the router reads it there to skip the
    origin channel; an entry written before, which still names its origin, routes the same way."""
    await setup_room(chat)
    await register(chat, "ada")
    core_id = await say_from(chat, D1, "m1", "from discord")
    entry = await redis.xrange(keys.channel("general"), core_id, core_id)
    assert entry[0][1] == {"type": "message"}
    assert await redis.hmget(keys.message(core_id), "origin", "origin_channel") == ["discord", D1.key()]
    # an entry of the older form (the origin in the stream; the hash without origin_channel, as a
    # message without a platform id had it), written the way post.lua wrote it then
    ms = int(core_id.split("-")[0]) + 1
    older = await redis.xadd(keys.channel("general"), {"type": "message", "origin": S1.key()}, id=f"{ms}-0")
    await redis.hset(keys.message(older), mapping={"username": "ada", "channel": "general", "message": "from slack",
                                                   "ts": str(ms), "origin": "slack"})  # fmt: skip
    log_key, _ = chat.ctx.log_args("general")
    await redis.xadd(log_key, {"channel": "general", "id": older, "type": "message"})
    discord, slack, dests = recorders()
    worker = make_worker(chat, redis_url, dests)
    await worker.drain(10)
    assert discord.texts(D1) == ["from slack"] and discord.texts(D2) == ["from discord", "from slack"]
    assert slack.texts(S1) == ["from discord"] and slack.texts(S2) == ["from discord", "from slack"]
