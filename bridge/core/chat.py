"""The chat core facade: services over one Redis, the command layer, and room traffic in."""

from __future__ import annotations

import logging
from dataclasses import replace

from bridge.core.channels import Channels
from bridge.core.commands.registry import CommandLayer
from bridge.core.context import CoreContext, CoreSettings
from bridge.core.finder import Finder
from bridge.core.messages import Messages, NoThread, PostOptions
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

log = logging.getLogger("bridge.core")


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

    async def _thread_root(self, event: InboundEvent) -> str:
        """The core id of the root of the thread an inbound message is in ("" for none). A root the
        bridge never saw (posted before the link) cannot be proven: the reply is then recorded in
        the channel (and mirrored there), never guessed into another thread."""
        if not event.thread or event.thread == event.message_id:
            return ""
        ref = event.channel
        root = await self.ctx.redis.get(
            keys.platform_message(ref.platform, ref.workspace, ref.channel_id, event.thread)
        )
        if root is None:
            log.info(
                "%s: thread root %s was never bridged; %s goes to the channel",
                ref.key(),
                event.thread,
                event.message_id,
            )
        return str(root or "")

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
        return await self._replicated(await self._ingest(event))

    async def _replicated(self, result: IngestResult) -> IngestResult:
        """WAIT for the replicas when something was (or had already been) recorded."""
        if result.status != "ignored":
            settings = self.ctx.settings
            await replication.replicated(self.ctx.redis, settings.wait_replicas, settings.wait_timeout_ms)
        return result

    async def _ingest(self, event: InboundEvent) -> IngestResult:
        channel = await self.channels.route(event.channel)
        if channel is None:
            return IngestResult("ignored", reason="channel not linked")
        ref = event.channel
        pkey = keys.platform_message(ref.platform, ref.workspace, ref.channel_id, event.message_id)
        try:
            if event.kind == "message":
                if event.author is None:
                    return IngestResult("ignored", channel=channel, reason="no author")
                username = await self.users.resolve(event.author)
                reply_core = ""
                if event.reply_to:
                    parent_key = keys.platform_message(ref.platform, ref.workspace, ref.channel_id, event.reply_to)
                    reply_core = await self.ctx.redis.get(parent_key) or ""
                thread_core = await self._thread_root(event)
                opts = PostOptions(
                    origin=ref.platform,
                    origin_channel=ref.key(),
                    reply_to=reply_core,
                    dedupe_key=event.event_key,
                    platform_key=pkey,
                    origin_message_id=event.message_id,
                    files=event.attachments,
                    thread=thread_core,
                    broadcast=event.broadcast,
                )
                try:
                    result = await self.messages.post(channel, username, event.text, opts)
                except NoThread:
                    log.warning("%s: thread %s of %s is gone; recorded in the channel", ref.key(), thread_core, pkey)
                    result = await self.messages.post(channel, username, event.text, replace(opts, thread=""))
                except NotFound:
                    # the author registered (was renamed) between resolve and post: resolve again, once
                    username = await self.users.resolve(event.author)
                    result = await self.messages.post(channel, username, event.text, opts)
            else:
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
                else:
                    result = await self.messages.delete(
                        core_id, who, admin=True, dedupe_key=event.event_key, origin_channel=ref.key()
                    )
                    return IngestResult("duplicate" if result.duplicate else "recorded", core_id, channel)
        except UserError as err:
            log.info("ignored %s from %s: %s", event.kind, ref.key(), err)
            return IngestResult("ignored", channel=channel, reason=str(err), refused=True)
        return IngestResult("duplicate" if result.duplicate else "recorded", result.id, channel)
