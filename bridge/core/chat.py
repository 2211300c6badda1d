"""The chat core facade: services over one Redis, the command layer, and room traffic in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from redis.exceptions import RedisError

from bridge.core.channels import Channels
from bridge.core.commands.registry import CommandLayer
from bridge.core.context import CoreContext, CoreSettings
from bridge.core.finder import Finder
from bridge.core.messages import Messages, NoThread, PostOptions, PostResult
from bridge.core.notify import Subscriptions
from bridge.core.ports import (
    ChannelRef,
    InboundEvent,
    IngestResult,
    Invocation,
    LinkCheck,
    PlatformUser,
    ReactionEvent,
)
from bridge.core.reactions import Reactions
from bridge.core.users import Users
from bridge.errors import NotFound, UserError
from bridge.store import keys, migrate, replication, search
from bridge.store.connection import RedisClient as Redis
from bridge.store.reindex import ensure_search
from bridge.store.scripts import Scripts

log = logging.getLogger(__name__)


async def _adopt_top_counters(redis: Redis) -> None:
    """The top-poster counters count every message once they started on an empty database (the
    scripts keep them from then on). A database with messages from before them keeps FT.AGGREGATE
    until ``chatbridge reindex`` rebuilds the counters."""
    if await redis.hget(keys.META, keys.META_TOP) == "counters":
        return
    if await search.document_count(redis, keys.IDX_MESSAGES) == 0:
        await redis.hsetnx(keys.META, keys.META_TOP, "counters")
    else:
        log.info("top: counting with FT.AGGREGATE until `chatbridge reindex` builds the top-poster counters")


class Chat:
    """Everything adapters and the CLI call. Build it with :meth:`open`."""

    def __init__(self, ctx: CoreContext) -> None:
        from bridge.core.commands.builtin import builtin_commands

        self.ctx = ctx
        self.users = Users(ctx)
        self.channels = Channels(ctx)
        self.messages = Messages(ctx)
        self.reactions = Reactions(ctx, self.channels, self.users)
        self.finder = Finder(ctx)
        self.subscriptions = Subscriptions(ctx)
        self.commands = CommandLayer(self, builtin_commands())
        self._lookup_slots = asyncio.Semaphore(LOOKUPS_AT_ONCE)
        self.link_checks: dict[str, LinkCheck] = {}
        """Per platform (set by its adapter): what a channel lacks before it can be linked, in words
        for the admin (None: nothing); ``link`` refuses with that."""

    @classmethod
    async def open(cls, redis: Redis, settings: CoreSettings | None = None) -> Chat:
        """Detect the search module, make sure both indexes exist, load the scripts."""
        module = await search.detect(redis)
        done = await ensure_search(redis, module)
        for line in done:
            log.info("search: %s", line)
        for line in await migrate.upgrade(redis):
            log.info("store: %s", line)
        await redis.hset(keys.META, mapping={"search_module": str(module.version)})
        await _adopt_top_counters(redis)
        if (
            await redis.hget(keys.META, keys.META_DOCS) is None
            and await search.document_count(redis, keys.IDX_MESSAGES) == 0
        ):
            await redis.hsetnx(keys.META, keys.META_DOCS, "0")  # counted from the first message (missing_ts.py)
        return cls(CoreContext(redis, module, Scripts.load(redis), settings or CoreSettings()))

    # --- identities -----------------------------------------------------------------------------------
    async def resolve_user(self, user: PlatformUser) -> str:
        return await self.users.resolve(user)

    async def find_username(self, platform: str, workspace: str, user_id: str) -> str | None:
        return await self.users.find(platform, workspace, user_id)

    async def platform_user_id(self, username: str, platform: str, workspace: str) -> str | None:
        return await self.users.platform_id(username, platform, workspace)

    async def caller(self, inv: Invocation) -> str:
        """The core username of whoever runs a command; platform users get a stable auto name."""
        if inv.username:
            name = inv.username
            if not await self.users.exists(name):
                raise NotFound(f"There is no user `{name}`; `register {name}` first.")
            return name
        if inv.user is not None:
            return await self.users.resolve(inv.user)
        raise UserError("This command needs an account: run it as a user (CLI: `--as <username>`).")

    async def is_admin(self, inv: Invocation) -> bool:
        if inv.is_admin:
            return True
        name = inv.username
        if name is None and inv.user is not None:
            name = await self.users.find(inv.user.platform, inv.user.workspace, inv.user.user_id)
        return bool(name and await self.ctx.redis.sismember(keys.ADMINS, name))

    # --- rooms ----------------------------------------------------------------------------------------
    async def channel_for(self, ref: ChannelRef) -> str | None:
        return await self.channels.route(ref)

    async def mapped(self, ref: ChannelRef, platform_ids: list[str]) -> set[str]:
        """The ids among ``platform_ids`` (messages in ``ref``) that the core already knows: recorded
        inbound, or recorded as a mirrored copy. One pipeline."""
        if not platform_ids:
            return set()
        async with self.ctx.redis.pipeline(transaction=False) as pipe:
            for pid in platform_ids:
                pipe.exists(keys.platform_message(ref.platform, ref.workspace, ref.channel_id, pid))
            found = await pipe.execute()
        return {pid for pid, hit in zip(platform_ids, found, strict=True) if hit}

    async def get_state(self, platform: str, name: str) -> dict[str, str]:
        data: dict[str, str] = await self.ctx.redis.hgetall(keys.adapter_state(platform, name))
        return data

    async def set_state(self, platform: str, name: str, mapping: dict[str, str]) -> None:
        await self.ctx.redis.hset(keys.adapter_state(platform, name), mapping=mapping)

    async def thread_home(self, dest: ChannelRef, root_id: str) -> str | None:
        """Where the thread of ``root_id`` lives on ``dest`` (see :class:`ThreadHomes`)."""
        found = await self.ctx.redis.get(keys.thread_home(dest.key(), root_id))
        return str(found) if found else None

    async def set_thread_home(self, dest: ChannelRef, root_id: str, where: str) -> None:
        await self.ctx.redis.set(keys.thread_home(dest.key(), root_id), where)

    async def thread_root_of(self, ref: ChannelRef, platform_id: str) -> str | None:
        """The core id of the message a platform id stands for (origin or mirrored copy), if any."""
        found = await self.ctx.redis.get(
            keys.platform_message(ref.platform, ref.workspace, ref.channel_id, platform_id)
        )
        return str(found) if found else None

    async def react(self, event: ReactionEvent) -> IngestResult:
        """Record a reaction added or removed on a platform message (see ``bridge.core.reactions``)."""
        return await self._replicated(await self.reactions.record(event))

    async def ingest(self, event: InboundEvent) -> IngestResult:
        """Record a platform message, edit or delete in the linked core channel, exactly once per
        ``event_key``. Unlinked channels are ignored; bad input is reported, never half-written.
        With ``redis.wait.replicas``, returns only once the recording reached that many replicas
        (else :class:`~bridge.store.replication.NotReplicated`: the caller does not acknowledge)."""
        (result,) = await self.ingest_many([event])
        if isinstance(result, Exception):
            raise result
        return result

    async def ingest_many(self, events: Sequence[InboundEvent]) -> list[IngestResult | Exception]:
        """Record platform events in this order, as :meth:`ingest` records each: an adapter's group
        commit (the events of one room that queued up while its previous ones were being written).
        Consecutive new messages are written by one script call, their lookups (route, author)
        made concurrently before it, each message's cursor moved by that same call; an edit or a
        delete is written after everything before it (it may change a message of the same group).
        One ``WAIT`` for all (``redis.wait``). An event's own failure is its result (an exception);
        Redis away (or ``NotReplicated``) is raised for the whole call: nothing may be acknowledged,
        and the caller tries again (the event keys record each event once)."""
        results: list[IngestResult | Exception] = []
        i = 0
        while i < len(events):
            j = i + 1
            if events[i].kind == "message":
                while j < len(events) and events[j].kind == "message":
                    j += 1
                results += await self._new_messages(events[i:j])
            else:
                results.append(await _own(self._change(events[i])))
            i = j
        if any(isinstance(r, IngestResult) and r.status != "ignored" for r in results):
            await self._wait_replicas()
        return results

    async def _replicated(self, result: IngestResult) -> IngestResult:
        """WAIT for the replicas when something was (or had already been) recorded."""
        if result.status != "ignored":
            await self._wait_replicas()
        return result

    async def _wait_replicas(self) -> None:
        settings = self.ctx.settings
        await replication.replicated(self.ctx.redis, settings.wait_replicas, settings.wait_timeout_ms)

    async def _new_messages(self, events: Sequence[InboundEvent]) -> list[IngestResult | Exception]:
        routes, names = await self._lookups(events)
        prepared = [self._prepare(e, routes, names) for e in events]
        posts = [p for p in prepared if isinstance(p, _Post)]
        written = iter(await self.messages.post_in_order([p.args for p in posts]) if posts else [])
        results: list[IngestResult | Exception] = []
        for event, ready in zip(events, prepared, strict=True):
            if not isinstance(ready, _Post):
                results.append(ready)
                continue
            done = next(written)
            if isinstance(done, PostResult):
                results.append(IngestResult("duplicate" if done.duplicate else "recorded", done.id, ready.channel))
            else:
                results.append(await _own(self._post_again(event, ready, done)))
        # a message taken in without a post that moved its cursor (refused, no author): moved here
        untaken = [
            e.cursor
            for e, r in zip(events, results, strict=True)
            if e.cursor is not None and e.cursor.valid and isinstance(r, IngestResult) and r.status == "ignored"
            and r.reason != "channel not linked"
        ]  # fmt: skip
        for cursor in untaken:
            await self.ctx.scripts.cursor(keys=[cursor.key], args=[cursor.field, cursor.value])
        return results

    async def _lookups(
        self, events: Sequence[InboundEvent]
    ) -> tuple[dict[ChannelRef, str | None], dict[PlatformUser, str | Exception]]:
        """The routes and core usernames a group of new messages needs, each looked up once (a busy
        room's group is one channel and a few people), at most :data:`LOOKUPS_AT_ONCE` in flight
        for all groups together. A person who cannot be resolved
        (``UserError``) is that person's messages' refusal; Redis away is raised."""

        async def bounded(step: Awaitable[T]) -> T:
            async with self._lookup_slots:
                return await step

        refs = list(dict.fromkeys(e.channel for e in events))
        authors = list(dict.fromkeys(e.author for e in events if e.author is not None))
        routes, names = await asyncio.gather(
            asyncio.gather(*(bounded(self.channels.route(ref)) for ref in refs)),
            asyncio.gather(*(bounded(_refusal(self.users.resolve(a))) for a in authors)),
        )
        return dict(zip(refs, routes, strict=True)), dict(zip(authors, names, strict=True))

    def _prepare(
        self, event: InboundEvent, routes: dict[ChannelRef, str | None], names: dict[PlatformUser, str | Exception]
    ) -> _Post | IngestResult:
        """A new message ready for its post, from its group's lookups (``_lookups``). The message it
        replies to and its thread root are named by platform id map key: the script reads their core
        ids when it writes (``parent_ref`` in ``_post.lua``), so a root in the same group (written
        just before) is found. A root the bridge never saw (posted before the link) is not guessed:
        the reply is recorded in the channel."""
        channel = routes[event.channel]
        if channel is None:
            return IngestResult("ignored", reason="channel not linked")
        if event.author is None:
            return IngestResult("ignored", channel=channel, reason="no author")
        ref = event.channel
        username = names[event.author]
        if isinstance(username, Exception):
            log.info("ignored message from %s: %s", ref.key(), username)
            return IngestResult("ignored", channel=channel, reason=str(username), refused=True)
        pkey = keys.platform_message(ref.platform, ref.workspace, ref.channel_id, event.message_id)
        reply_key = ""
        if event.reply_to:
            reply_key = keys.platform_message(ref.platform, ref.workspace, ref.channel_id, event.reply_to)
        thread_key = ""
        if event.thread and event.thread != event.message_id:
            thread_key = keys.platform_message(ref.platform, ref.workspace, ref.channel_id, event.thread)
        cursor = event.cursor
        if cursor is not None and not cursor.valid:
            log.warning("%s: message %s: cursor %r is not a decimal number; not moved", ref.key(), pkey, cursor)
            cursor = None
        opts = PostOptions(
            origin=ref.platform,
            origin_channel=ref.key(),
            dedupe_key=event.event_key,
            platform_key=pkey,
            origin_message_id=event.message_id,
            files=event.attachments,
            broadcast=event.broadcast,
            cursor=(cursor.key, cursor.field, cursor.value) if cursor is not None else ("", "", ""),
            parent_keys=(reply_key, thread_key),
        )
        return _Post(channel, username, event.text, opts)

    async def _post_again(self, event: InboundEvent, ready: _Post, failed: Exception) -> IngestResult:
        """A post of a group that failed its own check: a thread that is not one of the channel's (it
        goes to the channel), an author renamed since the lookup (looked up again, once); else refused."""
        channel, opts = ready.channel, ready.opts
        ref = event.channel
        try:
            if isinstance(failed, NoThread):
                log.warning(
                    "%s: thread %s of %s is gone; recorded in the channel", ref.key(), event.thread, event.message_id
                )
                result = await self.messages.post(
                    channel, ready.username, ready.text, replace(opts, parent_keys=(opts.parent_keys[0], ""))
                )
            elif isinstance(failed, NotFound) and event.author is not None:
                username = await self.users.resolve(event.author)
                result = await self.messages.post(channel, username, ready.text, opts)
            else:
                raise failed  # refused (a UserError), or this event's error (StoreError: _own returns it)
        except UserError as err:
            log.info("ignored %s from %s: %s", event.kind, ref.key(), err)
            return IngestResult("ignored", channel=channel, reason=str(err), refused=True)
        return IngestResult("duplicate" if result.duplicate else "recorded", result.id, channel)

    async def _change(self, event: InboundEvent) -> IngestResult:
        """An edit or a delete of a message the core recorded."""
        channel = await self.channels.route(event.channel)
        if channel is None:
            return IngestResult("ignored", reason="channel not linked")
        ref = event.channel
        pkey = keys.platform_message(ref.platform, ref.workspace, ref.channel_id, event.message_id)
        try:
            core_id: str | None = await self.ctx.redis.get(pkey)
            if core_id is None:
                return IngestResult("ignored", channel=channel, reason="unknown message")
            editor = await self.users.resolve(event.author) if event.author else ""
            owner = (await self.ctx.redis.hget(keys.message(core_id), "username")) or ""
            who = editor or owner
            if event.kind == "edit":
                result = await self.messages.edit(
                    core_id,
                    who,
                    event.text,
                    admin=True,
                    dedupe_key=event.event_key,
                    origin_channel=ref.key(),
                    files=event.attachments if event.replace_files else None,
                )
                return IngestResult("duplicate" if result.duplicate else "recorded", result.id, channel)
            result = await self.messages.delete(
                core_id, who, admin=True, dedupe_key=event.event_key, origin_channel=ref.key()
            )
            return IngestResult("duplicate" if result.duplicate else "recorded", core_id, channel)
        except UserError as err:
            log.info("ignored %s from %s: %s", event.kind, ref.key(), err)
            return IngestResult("ignored", channel=channel, reason=str(err), refused=True)


@dataclass(frozen=True)
class _Post:
    """A new message ready for its post (``Chat._prepare``)."""

    channel: str
    username: str
    text: str
    opts: PostOptions

    @property
    def args(self) -> tuple[str, str, str, PostOptions]:
        return self.channel, self.username, self.text, self.opts


T = TypeVar("T")
LOOKUPS_AT_ONCE = 16
"""Redis lookups the groups of new messages have in flight at once, all rooms together
(``Chat._lookups``): many busy rooms never take the client's whole connection pool (redis-py's
default pool refuses past 100 connections, which reads as Redis being away)."""


async def _refusal(step: Awaitable[str]) -> str | Exception:
    """``await step``; a ``UserError`` (someone who cannot be resolved) returned, not raised."""
    try:
        return await step
    except UserError as err:
        return err


async def _own(step: Awaitable[T]) -> T | Exception:
    """``await step``; an exception of the step's own is returned (one event's failure is that
    event's), Redis away (a connection or timeout error, ``NotReplicated``) is raised."""
    try:
        return await step
    except (RedisError, OSError):
        raise
    except Exception as err:
        return err
