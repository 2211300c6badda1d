"""Throttled and failing destinations, dead letters and `dlq retry|drop`, idempotent redelivery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mirror_kit import D1, D2, S1, S2, Recorder, eventually, recorders, register, setup_room

from bridge.core.chat import Chat
from bridge.errors import DeliveryError
from bridge.mirror import dlq
from bridge.mirror.worker import Worker
from bridge.store import keys
from bridge.store.connection import RedisClient


def make_worker(chat: Chat, url: str, dests: dict[str, Recorder], **kw: Any) -> Worker:
    kw.setdefault("backoff_base_s", 0.01)
    return Worker(chat=chat, redis_url=url, destinations=dests, metrics_interval_s=0.05, **kw)


@asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def post_many(chat: Chat, n: int, room: str = "general", prefix: str = "m") -> list[str]:
    texts = [f"{prefix}{i}" for i in range(n)]
    for text in texts:
        await chat.messages.post(room, "ada", text)
    return texts


async def test_throttled_destination_does_not_stall_the_others(chat: Chat, redis_url: str) -> None:
    await setup_room(chat)
    await register(chat, "ada")
    discord, slack, dests = recorders()
    slack.down[S1.key()] = lambda: DeliveryError("429", retry_after=0.02)
    worker = make_worker(chat, redis_url, dests)
    async with running(worker):
        texts = await post_many(chat, 30)
        await discord.wait_for(lambda: len(discord.sent(D1)) == 30 and len(discord.sent(D2)) == 30)
        await slack.wait_for(lambda: len(slack.sent(S2)) == 30)
        assert slack.sent(S1) == []
        assert worker.metrics()["destinations"][S1.key()]["state"] == "throttled"
        del slack.down[S1.key()]  # the rate limit lifts: the backlog arrives, in order
        await slack.wait_for(lambda: len(slack.sent(S1)) == 30)
    assert slack.texts(S1) == texts and discord.texts(D1) == texts
    m = worker.metrics()
    assert m["rate_limited"] >= 1 and m["dead_lettered"] == 0
    assert m["destinations"][S1.key()]["rate_limited"] >= 1


async def test_retry_after_is_waited_exactly_and_not_counted_as_an_attempt(chat: Chat, redis_url: str) -> None:
    await setup_room(chat, "general", (D1,))
    await register(chat, "ada")
    discord, _, dests = recorders()
    discord.fail[D1.key()] = [DeliveryError("429", retry_after=0.05) for _ in range(5)]
    worker = make_worker(chat, redis_url, dests, max_attempts=2)
    await post_many(chat, 1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await worker.drain(10)
    assert loop.time() - started >= 5 * 0.05
    assert discord.texts(D1) == ["m0"]
    assert worker.metrics()["rate_limited"] == 5 and worker.metrics()["dead_lettered"] == 0


async def test_destination_down_for_a_while_gets_its_backlog_in_order(chat: Chat, redis_url: str) -> None:
    await setup_room(chat)
    await register(chat, "ada")
    discord, slack, dests = recorders()
    slack.fail[S2.key()] = [DeliveryError("503 from slack") for _ in range(6)]
    worker = make_worker(chat, redis_url, dests, max_attempts=8)
    texts = await post_many(chat, 25)
    await worker.drain(20)
    assert slack.texts(S2) == texts and slack.texts(S1) == texts and discord.texts(D2) == texts
    m = worker.metrics()
    assert m["retries"] == 6 and m["dead_lettered"] == 0


async def test_dead_letter_after_n_attempts_then_dlq_retry_delivers(
    chat: Chat, redis: RedisClient, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await setup_room(chat)
    await register(chat, "ada")
    _, slack, dests = recorders()
    slack.down[S1.key()] = lambda: DeliveryError("500 from slack")
    worker = make_worker(chat, redis_url, dests, max_attempts=3, outage_hold_s=0)
    texts = await post_many(chat, 3)
    await worker.drain(20)
    assert slack.sent(S1) == [] and slack.texts(S2) == texts
    dead = await dlq.list_dead(redis, 10)
    assert len(dead) == 3
    assert {d["destination"] for d in dead} == {S1.key()}
    assert all(d["attempts"] == "3" and "500 from slack" in d["error"] and d["type"] == "message" for d in dead)
    assert worker.metrics()["dead_lettered"] == 3
    assert await redis.xlen(keys.outbox(S1.key())) == 0  # acknowledged and trimmed: the queue moved on

    del slack.down[S1.key()]
    assert await dlq.retry_dead(redis, dead[0]["id"]) == 1
    await worker.drain(10)
    assert slack.texts(S1) == texts[:1]
    monkeypatch.setattr(dlq, "RETRY_CHUNK", 1)  # `retry all` works through the stream in chunks
    assert await dlq.retry_dead(redis, "all") == 2
    assert await dlq.list_dead(redis, 10) == []
    await worker.drain(10)
    assert slack.texts(S1) == texts
    assert len(slack.sent(S2)) == 3  # nothing re-sent elsewhere


async def test_dlq_retry_wakes_a_running_worker(chat: Chat, redis: RedisClient, redis_url: str) -> None:
    await setup_room(chat, "general", (S1,))
    await register(chat, "ada")
    _, slack, dests = recorders()
    slack.fail[S1.key()] = [DeliveryError("gone", permanent=True)]
    worker = make_worker(chat, redis_url, dests, idle_exit_s=0.01)
    async with running(worker):
        await post_many(chat, 1)
        await slack.wait_for(lambda: slack.attempts == 1)
        assert await redis.xread({keys.DEAD_LETTERS: "0"}, block=5000)  # blocks until it is written
        assert await dlq.retry_dead(redis, "all") == 1
        await slack.wait_for(lambda: slack.texts(S1) == ["m0"])


async def test_permanent_error_dead_letters_at_once_and_drop(chat: Chat, redis: RedisClient, redis_url: str) -> None:
    await setup_room(chat, "general", (D1, S1))
    await register(chat, "ada")
    discord, slack, dests = recorders()
    discord.fail[D1.key()] = [DeliveryError("403 missing access", permanent=True)]
    worker = make_worker(chat, redis_url, dests)
    texts = await post_many(chat, 2)
    await worker.drain(10)
    assert discord.texts(D1) == texts[1:] and slack.texts(S1) == texts
    [dead] = await dlq.list_dead(redis, 10)
    assert dead["attempts"] == "1" and dead["error"].startswith("permanent")
    assert await dlq.drop_dead(redis, dead["id"]) == 1
    assert await dlq.drop_dead(redis, "all") == 0


async def test_a_job_redelivered_after_its_record_is_not_sent_twice(
    chat: Chat, redis: RedisClient, redis_url: str
) -> None:
    """The state after a crash between the idempotency record and the ack (or a lost ack): the job
    is in the outbox again, its record exists. The worker acknowledges it without a platform call."""
    await setup_room(chat, "general", (D1, S1))
    await register(chat, "ada")
    discord, slack, dests = recorders()
    core_id = (await chat.messages.post("general", "ada", "once")).id
    worker = make_worker(chat, redis_url, dests)
    await worker.drain(10)
    assert await redis.exists(keys.delivered(core_id, S1.key()))
    job = {"core": core_id, "channel": "general", "type": "message", "entry": core_id}
    await redis.xadd(keys.outbox(S1.key()), job)
    await worker.drain(10)
    assert slack.texts(S1) == ["once"] and discord.texts(D1) == ["once"]
    assert worker.metrics()["duplicates"] == 1
    assert await redis.xpending(keys.outbox(S1.key()), keys.MIRROR_GROUP) == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }


async def test_metrics_report_backlog_and_log_lag(chat: Chat, redis_url: str) -> None:
    await setup_room(chat, "general", (D1, S1))
    await register(chat, "ada")
    discord, slack, dests = recorders()
    gate = slack.gate[S1.key()] = asyncio.Event()
    worker = make_worker(chat, redis_url, dests)
    async with running(worker):
        await post_many(chat, 5)
        await slack.entered.wait()
        await discord.wait_for(lambda: len(discord.sent(D1)) == 5)

        async def d1_trimmed() -> bool:  # the ack and trim follow the last send
            await worker.refresh_metrics()
            return bool(worker.metrics()["destinations"][D1.key()]["backlog"] == 0)

        await eventually(d1_trimmed)
        m = worker.metrics()
        assert m["destinations"][S1.key()]["backlog"] == 5
        assert m["destinations"][S1.key()]["state"] == "sending"
        assert m["destinations"][S1.key()]["lag_s"] >= 0
        assert m["destinations"][S1.key()]["oldest_s"] >= 0 and m["destinations"][D1.key()]["oldest_s"] == 0
        assert all(v["pending"] == 0 for v in m["log"].values())
        gate.set()
        await slack.wait_for(lambda: len(slack.sent(S1)) == 5)


async def test_a_platform_outage_holds_the_backlog_instead_of_dead_lettering(
    chat: Chat, redis: RedisClient, redis_url: str
) -> None:
    """Every Discord destination fails with transient errors (Discord or the network is down): the
    failures are not counted toward max_attempts, nothing is dead-lettered, and when Discord is back
    the backlog arrives in order. Slack is not held up meanwhile."""
    await setup_room(chat)
    await register(chat, "ada")
    discord, slack, dests = recorders()
    for ref in (D1, D2):
        discord.down[ref.key()] = lambda: DeliveryError("502 bad gateway")
    worker = make_worker(chat, redis_url, dests, max_attempts=2, backoff_cap_s=0.05)
    async with running(worker):
        texts = await post_many(chat, 10)
        await slack.wait_for(lambda: len(slack.sent(S1)) == 10 and len(slack.sent(S2)) == 10)
        await discord.wait_for(lambda: discord.attempts >= 12)  # well past max_attempts for each lane
        assert worker.metrics()["dead_lettered"] == 0
        assert "502" in (worker.metrics()["destinations"][D1.key()]["last_error"] or "")
        discord.down.clear()
        await discord.wait_for(lambda: len(discord.sent(D1)) == 10 and len(discord.sent(D2)) == 10)
    assert discord.texts(D1) == texts == discord.texts(D2)
    assert await dlq.list_dead(redis, 10) == []
    assert worker.metrics()["dead_lettered"] == 0


async def test_a_platform_call_that_never_answers_times_out_and_is_retried(chat: Chat, redis_url: str) -> None:
    await setup_room(chat, "general", (S1,))
    await register(chat, "ada")
    _, slack, dests = recorders()
    gate = slack.gate[S1.key()] = asyncio.Event()
    worker = make_worker(chat, redis_url, dests, call_timeout_s=0.05)
    await post_many(chat, 1)
    task = asyncio.create_task(worker.drain(10))
    await slack.entered.wait()
    slack.entered.clear()
    await slack.entered.wait()  # the first call was given up on: this is the retry
    assert "no answer from slack" in (worker.metrics()["destinations"][S1.key()]["last_error"] or "")
    gate.set()
    await task
    assert slack.texts(S1) == ["m0"] and worker.metrics()["retries"] >= 1
