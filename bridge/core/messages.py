"""Posting, editing, deleting and reading messages: the guide's stream + hash model.

Reads cost a bounded number of round trips whatever N is: one XRANGE/XREVRANGE/XREAD, then one
pipeline of HGETALLs for the message hashes (never N+1 separate calls).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bridge.core import validation
from bridge.core.context import CoreContext
from bridge.core.models import Message
from bridge.core.ports import Attachment, attachments_to_json
from bridge.core.post_batch import BULK_BATCH as BULK_BATCH  # (the bulk path and backfill use it)
from bridge.core.post_batch import PostBatcher
from bridge.errors import InvalidInput, NotFound, PermissionDenied, StoreError
from bridge.formatting import core_mentions
from bridge.store import keys
from bridge.store.scripts import run

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

_STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")
VISIBLE_KINDS = ("message", "join", "leave")
HISTORY_SCAN = 50_000
"""At most this many stream entries ``history_scan.lua`` reads past backdated ones per round of
``history`` (a 10,000-message backfill at the stream's tail is one call); beyond it the backdated
set alone answers."""


def mentioned_usernames(text: str) -> list[str]:
    """Usernames a core-markdown text mentions (``@name``), as the mirror renders them: code spans
    and blocks, escaped ``\\@name`` and the reserved mass-mention words do not count. Text without
    an ``@`` mentions nobody (the parse is skipped: most messages, and the bulk path's cost)."""
    return core_mentions(text) if "@" in text else []


def check_id(value: str) -> str:
    clean = value.strip().removeprefix("message:")
    if not _STREAM_ID.fullmatch(clean):
        raise InvalidInput(f"`{clean[:40]}` is not a message id (they look like `1631566566616-0`).")
    return clean


@dataclass(frozen=True)
class PostOptions:
    origin: str = ""
    """Platform of the original (``discord`` / ``slack`` / ``cli``); empty for plain core posts."""
    origin_channel: str = ""
    """``platform:workspace:channel`` of the original, so mirrors skip it."""
    reply_to: str = ""
    dedupe_key: str = ""
    platform_key: str = ""
    origin_message_id: str = ""
    """The platform's id of the original message (kept in the hash as ``origin_id``)."""
    files: tuple[Attachment, ...] = ()
    """Attachments (kept in the hash as ``files`` JSON and ``has`` tags; the text may then be empty)."""
    thread: str = ""
    """Core id of the thread root this message replies in (a reply's id: its root's thread)."""
    broadcast: bool = False
    """A thread reply that is also shown in the channel."""
    cursor: tuple[str, str, str] = ("", "", "")
    """An inbound message's cursor (hash key, field, value; ``ports.Cursor``), moved forward by the
    post's own script call once the message is recorded or found recorded already."""
    parent_keys: tuple[str, str] = ("", "")
    """Bulk posts (backfill): the platform id map keys of the message replied to and of the thread
    root when that one is posted earlier in the same batch, in place of ``reply_to`` / ``thread``
    (the script reads its core id once it is written; see parent_ref in _post.lua)."""


_NO_OPTIONS = PostOptions()


def has_tags(files: tuple[Attachment, ...]) -> str:
    """The ``has`` TAG value of a message: ``file`` for any attachment, plus ``image``."""
    if not files:
        return ""
    return "file,image" if any(f.is_image for f in files) else "file"


class NoThread(NotFound):
    """The thread a reply names is not a thread of that channel."""


@dataclass(frozen=True)
class PostResult:
    id: str
    duplicate: bool = False
    error: str = ""
    """Bulk posts only: why this message was not written (empty when it was)."""


@dataclass(frozen=True)
class BulkPost:
    """One message of :meth:`Messages.post_many`; ``ts`` (ms) keeps the original time of imported
    or backfilled history (None: now)."""

    channel: str
    username: str
    text: str
    ts: int | None = None
    opts: PostOptions | None = None
    mirror: bool = True
    """False for history the rooms' platforms have already seen (an import, a backfill): no mirror-log
    entry, so it is never posted to them again."""


def _posted(status: str, value: str, channel: str, username: str) -> PostResult:
    if status == "duplicate":
        return PostResult(id=value, duplicate=True)
    if status == "no_channel":
        raise NotFound(f"There is no channel `#{channel}`.")
    if status == "no_user":
        raise NotFound(f"There is no user `{username}`; `register` first.")
    if status == "no_index":
        raise StoreError("The search index idx:messages is missing; restart chatbridge to recreate it.")
    if status == "bad_thread":
        raise NoThread(f"There is no thread `{value}` in `#{channel}`.")
    if status == "error":
        raise StoreError(f"Redis refused the message: {value}")
    return PostResult(id=value)


def said_before_visit(backdated_ts: float | None, last_seen: str) -> bool:
    """A backdated message (its ts from ``keys.backdated``; None: not backdated) said before the
    reader's last visit (the last seen id's time)."""
    return backdated_ts is not None and backdated_ts <= keys.stream_ms(last_seen)


class Messages:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx
        self.batcher = PostBatcher(ctx.scripts.post, ctx.scripts.post_many)

    def _post_args(
        self, channel: str, username: str, text: str, opts: PostOptions | None, ts: int | None, mirror: bool = True
    ) -> str:
        """The POST_ARGS (23) fields of one message for post.lua / post_many.lua, joined by NUL into
        one script argument (post_fields in _post.lua; validated text holds no NUL). Every field is
        made a string here, in one tuple (this runs once per message: the single post's client cost)."""
        o = opts or _NO_OPTIONS
        ctx, settings = self.ctx, self.ctx.settings
        body = validation.message_text(text, limit=settings.max_message_chars, allow_empty=bool(o.files))
        dedupe = keys.inbound_seen(o.dedupe_key) if o.dedupe_key else ""
        reply_to = o.reply_to or (f"@{o.parent_keys[0]}" if o.parent_keys[0] else "")
        thread = check_id(o.thread) if o.thread else (f"@{o.parent_keys[1]}" if o.parent_keys[1] else "")
        log_key, log_maxlen = ctx.log_args(channel) if mirror else ("", 0)
        fields = (
            channel, username, body, str(ctx.now_ms() if ts is None else ts), o.origin, reply_to,
            ctx.index_flag, dedupe, str(settings.dedupe_ttl_s), o.platform_key,
            str(settings.stream_maxlen), " ".join(mentioned_usernames(body)),
            o.origin_channel, log_key, str(log_maxlen), o.origin_message_id,
            attachments_to_json(o.files), has_tags(o.files),
            thread, "1" if o.broadcast and thread else "", *o.cursor,
        )  # fmt: skip
        joined = "\0".join(fields)
        if joined.count("\0") != len(fields) - 1:
            raise InvalidInput("A message field holds a NUL character.")  # never from validated input
        return joined

    async def post(self, channel: str, username: str, text: str, opts: PostOptions | None = None) -> PostResult:
        args = self._post_args(channel, username, text, opts, None)
        status, value = await self.batcher.run(args)  # concurrent posts share a call (post_batch.py)
        return _posted(status, value, channel, username)

    async def post_in_order(self, posts: Sequence[tuple[str, str, str, PostOptions]]) -> list[PostResult | Exception]:
        """Posts (channel, username, text, options) written in this order in one script call (with the
        posts of others queued meanwhile: ``PostBatcher.run_many``), each exactly as :meth:`post`
        writes it; a post's own failure (bad text, no channel, a thread that is not one, ...) is its
        result, the others are written. A failure of the call itself (Redis away) is raised."""
        results: list[PostResult | Exception | None] = [None] * len(posts)
        queued: list[int] = []
        args: list[str] = []
        for i, (channel, username, text, opts) in enumerate(posts):
            try:
                args.append(self._post_args(channel, username, text, opts, None))
                queued.append(i)
            except InvalidInput as err:
                results[i] = err
        for i, (status, value) in zip(queued, await self.batcher.run_many(args), strict=True):
            channel, username = posts[i][0], posts[i][1]
            try:
                results[i] = _posted(status, value, channel, username)
            except (NotFound, StoreError) as err:
                results[i] = err
        return [r if r is not None else StoreError("not posted") for r in results]

    async def post_many(self, posts: Sequence[BulkPost], batch: int = BULK_BATCH) -> list[PostResult]:
        """The bulk path (imports, backfills, the bench): messages posted in order, ``batch`` per
        script call (post_many.lua: one round trip and one script run per batch instead of one per
        message), each exactly as :meth:`post` writes it. A message that fails a check (bad text, no
        channel or user, a duplicate) writes nothing and is reported in its result; the rest go on."""
        results: list[PostResult] = []
        for start in range(0, len(posts), batch):
            chunk = posts[start : start + batch]
            args: list[str] = []
            slots: list[int | PostResult] = []
            for p in chunk:
                try:
                    args.append(self._post_args(p.channel, p.username, p.text, p.opts, p.ts, p.mirror))
                    slots.append(len(slots))
                except InvalidInput as err:
                    slots.append(PostResult(id="", error=str(err)))
            raw = await self.ctx.scripts.post_many(keys=[], args=args) if args else []
            replies = iter(zip(raw[0::2], raw[1::2], strict=True))
            for p, slot in zip(chunk, slots, strict=True):
                if isinstance(slot, PostResult):
                    results.append(slot)
                    continue
                status, value = next(replies)
                try:
                    results.append(_posted(str(status), str(value), p.channel, p.username))
                except (NotFound, StoreError) as err:
                    results.append(PostResult(id="", error=str(err)))
        return results

    async def thread(self, message_id: str, limit: int = 200) -> tuple[Message | None, list[Message], int]:
        """A thread: its root (None when deleted), its first ``limit`` replies oldest first, and how
        many replies it has. A reply's id gives its root's thread. One HGET, one ZRANGE + ZCARD, one
        pipeline of hashes."""
        mid = check_id(message_id)
        root_id = await self.ctx.redis.hget(keys.message(mid), "thread") or mid
        async with self.ctx.redis.pipeline(transaction=False) as pipe:
            pipe.zrange(keys.thread_replies(root_id), 0, max(0, limit - 1))
            pipe.zcard(keys.thread_replies(root_id))
            pipe.hgetall(keys.message(root_id))
            ids, total, root_body = await pipe.execute()
        if not root_body and not total:
            raise NotFound(f"There is no message `{mid}`.")
        root = Message.from_entry(root_body.get("channel", ""), root_id, {"type": "message"}, root_body)
        return (root if root_body else None), await self.by_ids([str(i) for i in ids]), int(total)

    async def edit(
        self,
        message_id: str,
        username: str,
        text: str,
        *,
        admin: bool = False,
        dedupe_key: str = "",
        origin_channel: str = "",
        files: tuple[Attachment, ...] | None = None,
    ) -> PostResult:
        """``files``: the attachments the message has after the edit (None: unchanged)."""
        body = validation.message_text(text, limit=self.ctx.settings.max_message_chars, allow_empty=True)
        if files is not None:
            has_files = bool(files)
        else:
            has_files = bool(await self.ctx.redis.hexists(keys.message(check_id(message_id)), "files"))
        if not body and not has_files:
            raise InvalidInput("The message is empty.")  # words may go only where files stay
        head = (body, self.ctx.now_ms(), username)
        tail = ("1", attachments_to_json(files), has_tags(files)) if files is not None else ("0", "", "")
        return await self._change(self.ctx.scripts.edit, message_id, head, admin, dedupe_key, origin_channel, tail)

    async def delete(
        self,
        message_id: str,
        username: str,
        *,
        admin: bool = False,
        dedupe_key: str = "",
        origin_channel: str = "",
    ) -> PostResult:
        return await self._change(self.ctx.scripts.delete, message_id, (username,), admin, dedupe_key, origin_channel)

    async def _change(
        self,
        script: AsyncScript,
        message_id: str,
        head: tuple[object, ...],
        admin: bool,
        dedupe: str,
        origin: str,
        tail: tuple[object, ...] = (),
    ) -> PostResult:
        """Run edit.lua / delete.lua: both take the id, their own leading arguments, then the same tail
        (admin flag, index mode, dedupe key + TTL, stream MAXLEN, origin channel, mirror log)."""
        status, value, *_ = await run(
            script,
            check_id(message_id),
            *head,
            "1" if admin else "0",
            self.ctx.index_flag,
            keys.inbound_seen(dedupe) if dedupe else "",
            self.ctx.settings.dedupe_ttl_s,
            self.ctx.settings.stream_maxlen,
            origin,
            *await self._log_args_of(message_id),
            *tail,
        )
        return self._changed(status, str(value), message_id)

    async def _log_args_of(self, message_id: str) -> tuple[str, int]:
        channel = await self.ctx.redis.hget(keys.message(check_id(message_id)), "channel")
        return self.ctx.log_args(channel) if channel else ("", 0)

    @staticmethod
    def _changed(status: str, value: str, message_id: str) -> PostResult:
        if status == "duplicate":
            return PostResult(id=value, duplicate=True)
        if status == "no_message":
            raise NotFound(f"There is no message `{message_id}`.")
        if status == "not_owner":
            raise PermissionDenied("Only its author or an admin can change that message.")
        if status == "no_index":
            raise StoreError("The search index idx:messages is missing; restart chatbridge to recreate it.")
        return PostResult(id=value)

    async def get(self, message_id: str) -> Message:
        mid = check_id(message_id)
        data: dict[str, str] = await self.ctx.redis.hgetall(keys.message(mid))
        if not data:
            raise NotFound(f"There is no message `{mid}`.")
        return Message.from_entry(data.get("channel", ""), mid, {"type": "message"}, data)

    async def hydrate(self, channel: str, entries: Iterable[tuple[str, dict[str, str]]]) -> list[Message]:
        """Join stream entries with their message hashes in one pipeline. Entries whose hash is gone
        (deleted) are dropped; edit/delete events are left out of what people read."""
        wanted = [(eid, e) for eid, e in entries if e.get("type", "message") in VISIBLE_KINDS]
        async with self.ctx.redis.pipeline(transaction=False) as pipe:
            for eid, entry in wanted:
                if entry.get("type", "message") == "message":
                    pipe.hgetall(keys.message(eid))
                else:
                    pipe.echo("")
            bodies = await pipe.execute()
        out: list[Message] = []
        for (eid, entry), body in zip(wanted, bodies, strict=True):
            if entry.get("type", "message") == "message" and not body:
                continue
            out.append(Message.from_entry(channel, eid, entry, body or {}))
        return out

    async def history(self, channel: str, count: int) -> list[Message]:
        """The last ``count`` visible entries by when they were said, oldest first.

        The stream is in the order messages were recorded, which is the order they were said
        except for backdated ones (``keys.backdated``: a backfill or an import recorded them after
        newer messages). Without any, this is the guide's XREVRANGE (+ one pipeline per round; at
        most three rounds when many entries are edit/delete events). With some, the newest
        ``count`` of the stream's other entries (read past the backdated ones, at most
        ``HISTORY_SCAN`` entries) and the newest ``count`` of the set are merged by ``ts``."""
        count = max(1, min(count, self.ctx.settings.history_max))
        found: list[Message] = []
        end = "+"
        for round_ in range(3):
            if round_ == 0:  # whether the channel has backdated messages, in the same round trip
                async with self.ctx.redis.pipeline(transaction=False) as pipe:
                    pipe.exists(keys.backdated(channel))
                    pipe.xrevrange(keys.channel(channel), end, "-", count=count + 8)
                    backdated, raw = await pipe.execute()
                if backdated:
                    return await self._by_time(channel, count)
            else:
                raw = await self.ctx.redis.xrevrange(keys.channel(channel), end, "-", count=count + 8)
            if not raw:
                break
            found.extend(await self.hydrate(channel, raw))
            if len(found) >= count or len(raw) < count + 8:
                break
            end = "(" + raw[-1][0]
        return list(reversed(found[:count]))

    async def _by_time(self, channel: str, count: int) -> list[Message]:
        redis, backdated = self.ctx.redis, keys.backdated(channel)
        found: list[Message] = []
        end = "+"
        for _ in range(3):  # more rounds only when many entries are edit/delete events
            raw, end = await self.ctx.scripts.history_scan(
                keys=[keys.channel(channel), backdated], args=[end, count + 8, HISTORY_SCAN], client=redis
            )
            entries = [(str(eid), dict(zip(fields[::2], fields[1::2], strict=True))) for eid, fields in raw]
            found.extend(await self.hydrate(channel, entries))
            if len(found) >= count or not end:
                break
        late_ids: list[str] = await redis.zrevrange(backdated, 0, count + 7)
        late = await self.hydrate(channel, [(mid, {"type": "message"}) for mid in late_ids])
        merged = sorted(found[:count] + late, key=lambda m: (m.ts, *keys.stream_order(m.id)))
        return merged[-count:]

    async def unread(self, channel: str, username: str, limit: int = 50) -> tuple[list[Message], bool]:
        """Messages since the user's last visit (``HGET user:<u> channel:<c>``, then the guide's
        ``XREAD ... STREAMS channel:<c> <last>``), and the last seen id moved forward. A backdated
        message (``keys.backdated``: a backfill or import recorded it late) said before that visit
        is history, not news: it is left out (``history`` shows it in its place)."""
        field = keys.last_seen_field(channel)
        async with self.ctx.redis.pipeline(transaction=False) as pipe:
            pipe.hget(keys.user(username), field)
            pipe.exists(keys.backdated(channel))
            last, backdated = await pipe.execute()
        raw = await self.ctx.redis.xread({keys.channel(channel): last or "0"}, count=limit + 1)
        entries = raw[0][1] if raw else []
        more = len(entries) > limit
        entries = entries[:limit]
        if entries:
            await self._advance_seen(username, channel, entries[-1][0])
        if entries and last and backdated:
            said = await self.ctx.redis.zmscore(keys.backdated(channel), [eid for eid, _ in entries])
            entries = [e for e, ts in zip(entries, said, strict=True) if not said_before_visit(ts, last)]
        return await self.hydrate(channel, entries), more

    async def _advance_seen(self, username: str, channel: str, entry_id: str) -> None:
        await self.ctx.scripts.seen(
            keys=[keys.user(username)], args=[keys.last_seen_field(channel), entry_id], client=self.ctx.redis
        )

    async def mark_seen(self, channel: str, username: str) -> None:
        """Move the user's last seen id to the newest entry of the channel."""
        last = await self.ctx.redis.xrevrange(keys.channel(channel), count=1)
        if last:
            await self._advance_seen(username, channel, last[0][0])

    async def recent(self, channels: list[str], minutes: int, limit: int = 100) -> list[Message]:
        """Messages of the last ``minutes`` across channels, oldest first: one XRANGE per channel in
        one pipeline, then one pipeline of hashes."""
        start = f"{self.ctx.now_ms() - minutes * 60_000}-0"
        async with self.ctx.redis.pipeline(transaction=False) as pipe:
            for name in channels:
                pipe.xrange(keys.channel(name), start, "+", count=limit)
            per_channel = await pipe.execute()
        merged: list[Message] = []
        since = self.ctx.now_ms() - minutes * 60_000
        for name, entries in zip(channels, per_channel, strict=True):
            # by when they were said: a backfilled or imported message recorded now is not recent
            merged.extend(m for m in await self.hydrate(name, entries) if m.ts >= since)
        merged.sort(key=lambda m: (m.ts, m.id))
        return merged[-limit:]

    async def by_ids(self, ids: list[str]) -> list[Message]:
        async with self.ctx.redis.pipeline(transaction=False) as pipe:
            for mid in ids:
                pipe.hgetall(keys.message(mid))
            bodies = await pipe.execute()
        return [
            Message.from_entry(body.get("channel", ""), mid, {"type": "message"}, body)
            for mid, body in zip(ids, bodies, strict=True)
            if body
        ]

    async def mentions(self, username: str, count: int) -> list[Message]:
        ids: list[str] = await self.ctx.redis.zrevrange(keys.mentions(username), 0, max(0, count - 1))
        return await self.by_ids(ids)
