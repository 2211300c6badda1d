"""Retention and archive: keep the last N days or N entries per channel in Redis, export the older
history to JSON Lines (one file per channel and month: ``<dir>/<channel>/<YYYY-MM>.jsonl``) and
bring it back with ``chatbridge import``.

The export is safe to interrupt and resume. It walks each channel's stream from its oldest entry in
batches: a batch's messages are appended to their month files and fsynced BEFORE one script
(``archive.lua``) removes them from Redis and trims the stream up to the batch's end. An interruption
between the two leaves the batch in Redis and (partly) in the files; the next run writes it again,
skipping every id its file already holds, so no line is ever written twice and nothing is removed
that is not on disk. Removing is not deleting: no room event, so the platforms keep their copies.

The import posts each line through the bulk path with its original ``ts``, never mirrored (the rooms'
platforms saw it when it was new), and records ``cb:pmsg:archive::<channel>:<original id>`` so an
import repeated (or a file given twice) writes nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bridge.core.channels import Channels
from bridge.core.context import CoreContext
from bridge.core.messages import BulkPost, Messages, PostOptions
from bridge.core.ports import attachments_from_json
from bridge.errors import Conflict, InvalidInput, StoreError
from bridge.store import keys
from bridge.store.scripts import run

BATCH = 500
DAY_MS = 86_400_000


@dataclass(frozen=True)
class RetentionPolicy:
    days: int | None = None
    """Keep entries that arrived in the last ``days`` days (by stream id time)."""
    messages_per_channel: int | None = None
    """Keep the newest ``messages_per_channel`` stream entries of each channel."""

    def __post_init__(self) -> None:
        if self.days is None and self.messages_per_channel is None:
            raise InvalidInput("Say what to keep: a number of days, or of messages per channel.")
        for name, value in (("days", self.days), ("messages per channel", self.messages_per_channel)):
            if value is not None and value < 1:
                raise InvalidInput(f"The {name} to keep must be at least 1.")


@dataclass
class ArchiveSummary:
    channels: int = 0
    exported: int = 0
    already_in_files: int = 0
    removed: int = 0
    files: set[str] = field(default_factory=set)


@dataclass
class ImportSummary:
    imported: int = 0
    duplicates: int = 0
    failed: list[str] = field(default_factory=list)


def next_id(stream_id: str) -> str:
    ms, _, seq = stream_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


def _order(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def month_of(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m")


class Archive:
    def __init__(self, ctx: CoreContext, directory: Path) -> None:
        self.ctx = ctx
        self.dir = directory
        self._ids: dict[Path, set[str]] = {}

    async def boundary(self, channel: str, policy: RetentionPolicy, now_ms: int) -> str | None:
        """The first stream id of ``channel`` to keep, or None when nothing is old enough."""
        stream = keys.channel(channel)
        first = await self.ctx.redis.xrange(stream, count=1)
        if not first:
            return None
        candidates: list[str] = []
        if policy.days is not None:
            candidates.append(f"{now_ms - policy.days * DAY_MS}-0")
        if policy.messages_per_channel is not None:
            newest = await self.ctx.redis.xrevrange(stream, count=policy.messages_per_channel)
            if len(newest) == policy.messages_per_channel:
                candidates.append(str(newest[-1][0]))
        if not candidates:
            return None
        keep = max(candidates, key=_order)
        return keep if _order(keep) > _order(str(first[0][0])) else None

    async def export(
        self, policy: RetentionPolicy, *, out: TextIO | None = sys.stderr, max_batches: int | None = None
    ) -> ArchiveSummary:
        """Export and remove everything older than the policy keeps, channel by channel.
        ``max_batches`` stops early (what an interruption does; the tests use it)."""
        summary = ArchiveSummary()
        now = self.ctx.now_ms()
        channels = sorted(await self.ctx.redis.smembers(keys.CHANNELS))
        todo: list[tuple[str, str]] = []
        total = 0
        for channel in channels:
            keep = await self.boundary(channel, policy, now)
            if keep is not None:
                todo.append((channel, keep))
                total += len(await self.ctx.redis.xrange(keys.channel(channel), "-", f"({keep}", count=10**9))
        batches = 0
        done = 0
        for channel, keep in todo:
            summary.channels += 1
            while True:
                if max_batches is not None and batches >= max_batches:
                    return summary
                entries = await self.ctx.redis.xrange(keys.channel(channel), "-", f"({keep}", count=BATCH)
                if not entries:
                    break
                await self._export_batch(channel, entries, summary)
                batches += 1
                done += len(entries)
                _progress(out, done, total)
        if out is not None:
            out.write(
                f"\narchived {summary.exported} messages of {summary.channels} channels into "
                f"{len(summary.files)} files ({summary.already_in_files} were already there)\n"
            )
        return summary

    async def _export_batch(self, channel: str, entries: list[Any], summary: ArchiveSummary) -> None:
        ids = [str(eid) for eid, e in entries if e.get("type", "message") == "message"]
        async with self.ctx.redis.pipeline(transaction=False) as pipe:
            for mid in ids:
                pipe.hgetall(keys.message(mid))
            bodies: list[dict[str, str]] = await pipe.execute()
        by_file: dict[Path, list[str]] = {}
        for mid, body in zip(ids, bodies, strict=True):
            if not body:
                continue  # deleted: nothing to keep
            ts = int(body["ts"]) if body.get("ts", "").isdigit() else keys.stream_ms(mid)
            path = self.dir / channel / f"{month_of(ts)}.jsonl"
            if mid in self._present(path):
                summary.already_in_files += 1
                continue
            by_file.setdefault(path, []).append(json.dumps({"id": mid, **body}, ensure_ascii=False))
            self._ids[path].add(mid)
        for path, lines in by_file.items():
            await asyncio.to_thread(_append, path, lines)
            summary.exported += len(lines)
            summary.files.add(str(path))
        # on disk first; only then out of Redis (the stream up to this batch's last entry)
        status, removed = await run(
            self.ctx.scripts.archive, channel, self.ctx.index_flag, next_id(str(entries[-1][0])), *ids
        )
        if status != "ok":
            raise StoreError("The search index idx:messages is missing; restart chatbridge to recreate it.")
        summary.removed += int(removed)

    async def _read(self, path: Path, summary: ImportSummary, known: set[str]) -> list[tuple[str, BulkPost]]:
        """A file's archived messages (bad lines are refused with their place); their channels exist
        after this (created when missing)."""
        posts: list[tuple[str, BulkPost]] = []
        for lineno, line in enumerate(await asyncio.to_thread(_lines, path), 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                post = _archived_post(json.loads(line))
                await _ensure_channel(Channels(self.ctx), post.channel, known)
            except (ValueError, KeyError, TypeError, InvalidInput) as err:
                summary.failed.append(f"{where}: not an archived message ({err})")
                continue
            posts.append((where, post))
        return posts

    def _present(self, path: Path) -> set[str]:
        """Ids a month file holds already (read once per run: a resumed export skips them)."""
        if path not in self._ids:
            found: set[str] = set()
            if path.exists():
                for line in path.read_text(encoding="utf-8").splitlines():
                    try:
                        found.add(str(json.loads(line)["id"]))
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut by a crash mid-write: the message is written again
            self._ids[path] = found
        return self._ids[path]

    async def import_files(self, paths: Iterable[Path], *, out: TextIO | None = sys.stderr) -> ImportSummary:
        """Bring archived JSON Lines back (files, or directories searched for ``*.jsonl``)."""
        summary = ImportSummary()
        files, missing = await asyncio.to_thread(_expand, list(paths))
        summary.failed += [f"{p}: no such file or directory" for p in missing]
        messages = Messages(self.ctx)
        known: set[str] = set()
        for n, path in enumerate(files, 1):
            posts = await self._read(path, summary, known)
            results = await messages.post_many([p for _, p in posts])
            for (where, _), result in zip(posts, results, strict=True):
                if result.error:
                    summary.failed.append(f"{where}: {result.error}")
                elif result.duplicate:
                    summary.duplicates += 1
                else:
                    summary.imported += 1
            _progress(out, n, len(files), unit="files")
        if out is not None:
            out.write(
                f"\nimported {summary.imported} messages ({summary.duplicates} were there already, "
                f"{len(summary.failed)} refused)\n"
            )
        return summary


async def _ensure_channel(channels: Channels, name: str, known: set[str]) -> None:
    if name not in known:
        with contextlib.suppress(Conflict):
            await channels.create(name)
        known.add(name)


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _append(path: Path, lines: list[str]) -> None:
    """Append and fsync: the lines are on disk before the batch leaves Redis."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _expand(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Files to import (directories searched for ``*.jsonl``), and the paths that do not exist."""
    files: list[Path] = []
    missing: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(p.rglob("*.jsonl"))
        elif p.is_file():
            files.append(p)
        else:
            missing.append(p)
    return files, missing


def _archived_post(obj: Any) -> BulkPost:
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    mid, channel, username, text, ts = (str(obj[k]) for k in ("id", "channel", "username", "message", "ts"))
    if not ts.isdigit():
        raise ValueError("ts is not a number")
    opts = PostOptions(
        platform_key=keys.platform_message("archive", "", channel, mid),
        files=attachments_from_json(obj.get("files")),
    )
    return BulkPost(channel, username, text, int(ts), opts=opts, mirror=False)


def _progress(out: TextIO | None, done: int, total: int, unit: str = "entries") -> None:
    if out is None:
        return
    width = 30
    frac = min(1.0, done / total) if total else 1.0
    out.write(f"\r[{'#' * int(frac * width):<{width}}] {done}/{total} {unit}")
    out.flush()
