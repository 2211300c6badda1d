"""``link --backfill N`` in the core: the grammar, bad input (nothing written), the queue, the
runner's error handling, resuming a job cut short, and the config option. The platform side is a
small in-test :class:`HistorySource` here (the real fetchers run against the emulators in
tests/e2e/test_backfill_e2e.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from waiting import until

from bridge.config import parse
from bridge.core import backfill_jobs
from bridge.core.backfill_jobs import BackfillRunner, Ticket, follow
from bridge.core.chat import Chat
from bridge.core.ports import (
    ChannelRef,
    HistoryMessage,
    HistoryRead,
    InboundEvent,
    Invocation,
    Platform,
    PlatformUser,
)
from bridge.errors import ConfigError, HistoryError
from bridge.runtime import apply_static_config
from bridge.store import keys

ADMIN = Invocation(platform="cli", is_admin=True)
D1 = ChannelRef("discord", "g1", "c1")
ALICE = PlatformUser("discord", "g1", "100", "Alice A")
T = 1_700_000_000_000


class Source:
    """A platform channel with ``size`` messages; ``failures`` are raised first, one per call."""

    def __init__(self, size: int, failures: list[HistoryError] | None = None) -> None:
        self.size = size
        self.failures = list(failures or [])
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.left_out: tuple[str, ...] = ()

    @property
    def platform(self) -> Platform:
        return "discord"

    async def latest(
        self, channel: ChannelRef, count: int, progress: Callable[[int], None] | None = None
    ) -> HistoryRead:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        if self.gate is not None:
            await self.gate.wait()
        first = max(0, self.size - count)
        out = [
            HistoryMessage(InboundEvent("message", channel, f"m{i}", f"k{i}", ALICE, f"said {i}"), T + i)
            for i in range(first, self.size)
        ]
        if progress is not None:
            progress(len(out))
        return HistoryRead(out, self.left_out)


async def state(chat: Chat, ref: ChannelRef = D1) -> dict[str, str]:
    found: dict[str, str] = await chat.ctx.redis.hgetall(keys.backfill_state(ref.key()))
    return found


async def nothing_written(chat: Chat) -> bool:
    redis = chat.ctx.redis
    return (
        await chat.channels.route(D1) is None
        and not await redis.exists(keys.backfill_state(D1.key()))
        and not await redis.exists(keys.BACKFILL_JOBS)
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ("--backfill 0", "between 1 and 10000"),
        ("--backfill 10001", "between 1 and 10000"),
        ("--backfill -3", "between 1 and 10000"),
        ("--backfill many", "whole number"),
        ("--backfill 1.5", "whole number"),
        ("--backfill", "needs a value"),
        ("--backfill=", "needs a value"),
        ("--backfill 5 --backfill 6", "given twice"),
        ("--backfill 5 extra", "Too many arguments"),
    ],
)
async def test_bad_counts_are_refused_and_nothing_is_written(chat: Chat, args: str, error: str) -> None:
    await chat.channels.create("general")
    reply = await chat.commands.execute(ADMIN, f"link general {D1.key()} {args}")
    assert not reply.ok and error in reply.text, reply.text
    assert await nothing_written(chat)


async def test_a_cli_target_has_no_history_and_nothing_is_written(chat: Chat) -> None:
    await chat.channels.create("general")
    reply = await chat.commands.execute(ADMIN, "link general cli:x:y --backfill 5")
    assert not reply.ok and "Discord or Slack channel" in reply.text
    assert await chat.channels.route(ChannelRef("cli", "x", "y")) is None
    assert not await chat.ctx.redis.exists(keys.BACKFILL_JOBS)


async def test_the_flag_goes_anywhere_and_help_shows_it(chat: Chat) -> None:
    await chat.channels.create("general")
    reply = await chat.commands.execute(ADMIN, f"link --backfill=25 general {D1.key()}")
    assert reply.ok and reply.data["backfill"]["count"] == 25, reply.text
    assert "No `chatbridge run` is reading" in reply.text  # no runner: the job waits for one
    assert (await state(chat))["status"] == "queued"
    usage = (await chat.commands.execute(ADMIN, "help link")).text
    assert "[--backfill N]" in usage and "1–10,000" in usage
    # a second request while one is queued: the link stands, the job is not doubled
    again = await chat.commands.execute(ADMIN, f"link general {D1.key()} --backfill 30")
    assert again.ok and "already queued" in again.text and "backfill" not in (again.data or {})
    assert await chat.ctx.redis.xlen(keys.BACKFILL_JOBS) == 1


async def test_runner_records_reports_and_acknowledges(chat: Chat) -> None:
    await chat.channels.create("general")
    told: list[str] = []

    async def tell(job: object, text: str) -> None:
        told.append(text)

    source = Source(50)
    runner = BackfillRunner(chat, {"discord": source}, tell=tell, poll_s=0.02, tell_every_s=0.0)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await until(lambda: runner.finished == 0 and source.calls == 0)
        who = Invocation(platform="discord", user=ALICE, is_admin=True, channel=D1)
        await chat.commands.execute(ADMIN, "register alice-admin")
        await chat.ctx.redis.sadd(keys.ADMINS, "alice-admin")
        reply = await chat.commands.execute(who, "link general --backfill 20")
        assert reply.ok and reply.data["backfill"]["runner_up"] is True, reply.text
        lines: list[str] = []
        final = await asyncio.wait_for(follow(chat.ctx.redis, Ticket(**reply.data["backfill"]), lines.append), 20)
        assert (final["status"], final["recorded"], final["fetched"]) == ("done", "20", "20"), final
        assert [m.text for m in await chat.messages.history("general", 50)] == [f"said {i}" for i in range(30, 50)]
        assert told[0].startswith("Backfill of discord:g1:c1: reading its last 20") and "done" in told[-1]
        assert await chat.ctx.redis.xlen(keys.BACKFILL_JOBS) == 0  # acknowledged and removed
        assert await chat.ctx.redis.exists(keys.backfill_runner("discord"))
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert not await chat.ctx.redis.exists(keys.backfill_runner("discord"))  # gone with the runner


async def test_what_the_source_could_not_read_is_told_stored_and_logged(
    chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    await chat.channels.create("general")
    told: list[str] = []

    async def tell(job: object, text: str) -> None:
        told.append(text)

    source = Source(5)
    source.left_out = ("3 private archived threads (needs Manage Threads in #general)",)
    runner = BackfillRunner(chat, {"discord": source}, tell=tell, poll_s=0.02, tell_every_s=0.0)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await chat.channels.link("general", D1)
        who = Invocation(platform="discord", user=ALICE, is_admin=True, channel=D1)
        await backfill_jobs.request(chat, D1, 5, who)
        await until(lambda: runner.finished == 1)
        final = await state(chat)
        assert final["status"] == "done" and final["left_out"] == source.left_out[0], final
        assert told[-1].endswith("Not read: 3 private archived threads (needs Manage Threads in #general)"), told
        warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert any("not read: 3 private archived threads" in line for line in warned), warned
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_transient_errors_are_retried_a_permanent_one_ends_the_job(chat: Chat) -> None:
    await chat.channels.create("general")
    await chat.channels.link("general", D1)
    source = Source(5, [HistoryError("Discord answered 503"), HistoryError("no access", permanent=True)])
    runner = BackfillRunner(chat, {"discord": source}, poll_s=0.02, retry_s=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await chat.commands.execute(ADMIN, f"link general {D1.key()} --backfill 5")
        await until(lambda: runner.finished == 1)
        failed = await state(chat)
        assert failed["status"] == "error" and "no access" in failed["error"] and source.calls == 2
        assert await chat.ctx.redis.xlen(keys.channel("general")) == 0
        # after a failure a new request runs (the source answers now)
        await chat.commands.execute(ADMIN, f"link general {D1.key()} --backfill 5")
        await until(lambda: runner.finished == 2)
        assert (await state(chat))["recorded"] == "5"
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_a_job_cut_short_is_resumed_by_the_next_runner_without_duplicates(chat: Chat) -> None:
    await chat.channels.create("general")
    await chat.channels.link("general", D1)
    source = Source(600)
    source.gate = asyncio.Event()  # the first runner dies while fetching
    first = BackfillRunner(chat, {"discord": source}, poll_s=0.02)
    stop = asyncio.Event()
    task = asyncio.create_task(first.run(stop))
    await chat.commands.execute(ADMIN, f"link general {D1.key()} --backfill 500")
    await until(lambda: source.calls == 1)
    task.cancel()  # killed mid-job: nothing acknowledged
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await state(chat))["status"] == "running"
    # part of it was recorded already, live or by the dead run: the rerun skips it
    source.gate = None
    from bridge.core.backfill import backfill

    partial = await backfill(chat, D1, (await source.latest(D1, 500)).messages[:250])
    assert partial.recorded == 250
    second = BackfillRunner(chat, {"discord": source}, poll_s=0.02)
    task = asyncio.create_task(second.run(stop))
    try:
        await until(lambda: second.finished == 1, timeout=20)
        done = await state(chat)
        assert (done["status"], done["recorded"], done["duplicates"]) == ("done", "250", "250"), done
        assert await chat.ctx.redis.xlen(keys.channel("general")) == 500
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def test_the_config_option_is_validated() -> None:
    assert parse({"backfill": {"default": 200}}).core_settings().backfill_default == 200
    for bad in ({"backfill": {"default": -1}}, {"backfill": {"default": 10_001}}, {"backfill": {"every": 3}}):
        with pytest.raises(ConfigError, match="backfill"):
            parse(bad)
    with pytest.raises(ConfigError, match=r"rooms\.0\.backfill"):
        parse({"rooms": [{"channel": "general", "links": [D1.key()], "backfill": "lots"}]})


async def test_default_applies_to_link_and_config_rooms_are_backfilled_once(chat: Chat) -> None:
    await chat.channels.create("general")
    chat.ctx.settings = replace(chat.ctx.settings, backfill_default=40)
    reply = await chat.commands.execute(ADMIN, f"link general {D1.key()}")
    assert reply.ok and reply.data["backfill"]["count"] == 40
    other = ChannelRef("slack", "T1", "C9")
    cfg = parse({"rooms": [{"channel": "general", "links": [other.key()], "backfill": 300}]})
    await apply_static_config(chat, cfg)
    await apply_static_config(chat, cfg)  # the next start: the link exists, nothing asked again
    assert (await state(chat, other))["count"] == "300"
    assert await chat.ctx.redis.xlen(keys.BACKFILL_JOBS) == 2


@pytest.mark.usefixtures("logging_restored")  # cli.main configures logging onto capsys's stderr
async def test_exec_without_a_running_bridge_says_the_job_waits(
    chat: Chat, redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from bridge.cli import main

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.chdir(tmp_path)  # no config.yaml here
    await chat.channels.create("general")
    code = await asyncio.to_thread(main, ["exec", "--admin", f"link general {D1.key()} --backfill 7"])
    out, err = capsys.readouterr()
    assert code == 0 and "Importing its last 7 messages" in out
    assert "queued: no `chatbridge run` is reading discord history now" in err
    assert (await state(chat))["status"] == "queued"
    code = await asyncio.to_thread(main, ["exec", "--admin", f"link general {D1.key()} --backfill 0"])
    assert code == 1 and "between 1 and 10000" in capsys.readouterr().out
