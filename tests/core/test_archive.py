"""Retention and archive: exact boundaries (days, messages per channel), files per channel and
month, an interrupted export resumed without a line twice, import back (searchable, never twice),
counters exact, search saying what retention left out, bad input refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import bridge.core.archive as archive_mod
from bridge.core.archive import Archive, RetentionPolicy
from bridge.core.chat import Chat
from bridge.core.ports import Invocation
from bridge.errors import InvalidInput
from bridge.store import keys
from bridge.store.connection import RedisClient

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = (int(time.time() * 1000) // DAY + 40) * DAY  # later than the server clock: the ids are ours


async def post_at(chat: Chat, ms: int, channel: str, user: str, text: str) -> str:
    """A post whose stream id and ts are at ``ms`` (the allocator never goes below cb:lastid)."""
    await chat.ctx.redis.set("cb:lastid", f"{ms}-0")
    chat.ctx.clock = lambda: ms / 1000
    mid = (await chat.messages.post(channel, user, text)).id
    assert keys.stream_ms(mid) == ms
    return mid


async def world(chat: Chat) -> dict[int, str]:
    for name in ("ada", "wasim"):
        await chat.users.register(name, {})
    for ch in ("tech", "cricket"):
        await chat.channels.create(ch)
    ids = {}
    plan = [(T0 + h * HOUR, "tech", h) for h in range(48)] + [(T0 + i * HOUR + 1, "cricket", i) for i in range(10)]
    for ms, channel, n in sorted(plan):  # in time order, as the allocator gives ids
        if channel == "tech":
            ids[n] = await post_at(chat, ms, "tech", ("ada", "wasim")[n % 2], f"tech word{n} hour {n}")
        else:
            await post_at(chat, ms, "cricket", "ada", f"cricket {n}")
    return ids


async def counted(chat: Chat) -> Counter[str]:
    tally: Counter[str] = Counter()
    async for key in chat.ctx.redis.scan_iter(match="message:*", _type="HASH"):
        tally[await chat.ctx.redis.hget(key, "username")] += 1
    return tally


def files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.jsonl"))


def lines(directory: Path) -> list[dict[str, str]]:
    return [json.loads(line) for f in files(directory) for line in f.read_text().splitlines()]


async def test_days_boundary_is_exact_and_files_are_per_channel_and_month(chat: Chat, tmp_path: Path) -> None:
    ids = await world(chat)
    chat.ctx.clock = lambda: (T0 + 24 * HOUR + DAY) / 1000  # keep the last day: hour 24 onwards
    summary = await Archive(chat.ctx, tmp_path).export(RetentionPolicy(days=1), out=None)
    kept = [e[0] for e in await chat.ctx.redis.xrange(keys.channel("tech"))]
    assert kept == [ids[h] for h in range(24, 48)]  # the entry exactly at the cutoff stays
    assert not await chat.ctx.redis.exists(keys.message(ids[23])) and await chat.ctx.redis.exists(keys.message(ids[24]))
    assert await chat.ctx.redis.xlen(keys.channel("cricket")) == 0  # all older than a day
    assert summary.exported == summary.removed == 24 + 10
    written = lines(tmp_path)
    assert sorted(m["id"] for m in written if m["channel"] == "tech") == sorted(ids[h] for h in range(24))
    for f in files(tmp_path):
        assert f.parent.name in ("tech", "cricket") and f.parent.parent == tmp_path
        assert all(archive_mod.month_of(int(json.loads(x)["ts"])) == f.stem for x in f.read_text().splitlines())
    assert dict((await chat.finder.top(10, source="counters")).rows) == dict(await counted(chat))
    assert (await chat.finder.messages("word3")).hits == []
    assert [m.text for m in (await chat.finder.messages("word30")).hits] == ["tech word30 hour 30"]


async def test_messages_per_channel_keeps_exactly_n(chat: Chat, tmp_path: Path) -> None:
    ids = await world(chat)
    await Archive(chat.ctx, tmp_path).export(RetentionPolicy(messages_per_channel=5), out=None)
    assert [e[0] for e in await chat.ctx.redis.xrange(keys.channel("tech"))] == [ids[h] for h in range(43, 48)]
    assert await chat.ctx.redis.xlen(keys.channel("cricket")) == 5
    again = await Archive(chat.ctx, tmp_path).export(RetentionPolicy(messages_per_channel=5), out=None)
    assert again.exported == 0 and again.channels == 0  # nothing more to do
    assert len(lines(tmp_path)) == 43 + 5


async def test_interrupted_export_resumes_without_writing_a_line_twice(
    chat: Chat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await world(chat)
    monkeypatch.setattr(archive_mod, "BATCH", 7)
    calls = {"n": 0}
    real_run = archive_mod.run

    async def crash_on_third(*args: object) -> object:
        calls["n"] += 1
        if calls["n"] == 3:
            raise ConnectionError("killed between the fsync and the removal")
        return await real_run(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(archive_mod, "run", crash_on_third)
    policy = RetentionPolicy(messages_per_channel=8)
    with pytest.raises(ConnectionError):
        await Archive(chat.ctx, tmp_path).export(policy, out=None)
    # batches of 7: cricket's 2, then tech 0-6, then tech 7-13 (the one interrupted)
    assert await chat.ctx.redis.exists(keys.message(ids[13]))  # the third batch is still in Redis ...
    assert ids[13] in {m["id"] for m in lines(tmp_path)}  # ... and already on disk
    monkeypatch.setattr(archive_mod, "run", real_run)
    resumed = await Archive(chat.ctx, tmp_path).export(policy, out=None)
    assert resumed.already_in_files == 7
    written = [m["id"] for m in lines(tmp_path)]
    assert len(written) == len(set(written)) == 40 + 2
    assert await chat.ctx.redis.xlen(keys.channel("tech")) == 8


async def test_import_brings_history_back_once(chat: Chat, tmp_path: Path) -> None:
    await world(chat)
    await Archive(chat.ctx, tmp_path).export(RetentionPolicy(messages_per_channel=5), out=None)
    reply = await chat.commands.execute(Invocation(platform="cli"), "search word3")
    assert reply.data["total"] == 0 and reply.data["archived_before"] and "chatbridge import" in reply.text
    logs_before = sum([await chat.ctx.redis.xlen(keys.mirror_log(p)) for p in range(8)])
    back = await Archive(chat.ctx, tmp_path).import_files([tmp_path], out=None)
    assert (back.imported, back.duplicates, back.failed) == (48, 0, [])
    found = await chat.finder.messages("word3")
    assert [(m.text, m.ts) for m in found.hits] == [("tech word3 hour 3", T0 + 3 * HOUR)]
    assert sum([await chat.ctx.redis.xlen(keys.mirror_log(p)) for p in range(8)]) == logs_before  # not mirrored
    twice = await Archive(chat.ctx, tmp_path).import_files([tmp_path], out=None)
    assert (twice.imported, twice.duplicates) == (0, 48)
    assert sum((await counted(chat)).values()) == 58
    assert dict((await chat.finder.top(10, source="counters")).rows) == dict(await counted(chat))


async def test_bad_archive_input_is_refused_clearly(chat: Chat, tmp_path: Path) -> None:
    await world(chat)
    with pytest.raises(InvalidInput, match="what to keep"):
        RetentionPolicy()
    with pytest.raises(InvalidInput, match="at least 1"):
        RetentionPolicy(days=0)
    bad = tmp_path / "bad.jsonl"
    good = {"id": "1-1", "channel": "tech", "username": "ada", "message": "ok line", "ts": str(T0)}
    bad.write_text(
        "not json\n"
        + json.dumps({"id": "1-2", "channel": "tech"}) + "\n"
        + json.dumps(good | {"username": "nobody"}) + "\n"
        + json.dumps(good | {"channel": "Bad Name!"}) + "\n"
        + json.dumps(good) + "\n"
    )  # fmt: skip
    summary = await Archive(chat.ctx, tmp_path).import_files([bad, tmp_path / "missing.jsonl"], out=None)
    assert summary.imported == 1
    reasons = "\n".join(summary.failed)
    assert "bad.jsonl:1" in reasons and "bad.jsonl:2" in reasons and "no user `nobody`" in reasons
    assert "bad.jsonl:4" in reasons and "missing.jsonl: no such file" in reasons


@pytest.mark.timeout(180)  # nine CLI processes: close to the 60 s default on a loaded machine
async def test_cli_archive_and_import(redis: RedisClient, redis_url: str, tmp_path: Path) -> None:
    """(``redis`` flushes the database first: the CLI then sees only this test's data.)"""
    env = {**os.environ, "REDIS_URL": redis_url}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bridge", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )

    assert cli("exec", "register archer").returncode in (0, 1)
    assert cli("exec", "create archive-room").returncode in (0, 1)
    for i in range(4):
        assert cli("exec", "--as", "archer", f"post archive-room old message {i}").returncode == 0
    refused = cli("archive")
    assert refused.returncode == 2 and "what to keep" in refused.stderr
    done = cli("archive", "--keep", "1", "--dir", "arch")
    assert done.returncode == 0, done.stderr
    assert "archived 3 messages" in done.stderr and (tmp_path / "arch" / "archive-room").is_dir()
    back = cli("import", "arch")
    assert back.returncode == 0 and "imported 3 messages" in back.stderr, back.stderr
    missing = cli("import", "nowhere")
    assert missing.returncode == 1 and "no such file" in missing.stderr
