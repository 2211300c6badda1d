"""The Discord emulator: an aiohttp app on 127.0.0.1 serving REST (``/api/v10``), the gateway
(``/gateway``) and control routes (``/_emulator``), plus a Python API for tests.

Typical use::

    async with DiscordEmulator() as emu:
        apply_endpoints(api_base=emu.api_base, gateway_url=emu.gateway_url)  # bridge.adapters.discord
        client = discord.Client(intents=..., guild_ready_timeout=0.05)
        ...
        await emu.say("alice", "general", "hello")
        await emu.wait_for_request("POST", r"/webhooks/\\d+/[^/]+")
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from bridge.emulators.network import NetworkFault, control_route

from . import api_errors as errors
from . import appcommands, payloads, rich
from .channel_types import FORUM, MEDIA, PRIVATE_THREAD, PUBLIC_THREAD
from .control import ControlRoutes
from .gateway import Gateway
from .gateway_chaos import GatewayChaos
from .gateway_chaos import control_routes as gateway_control_routes
from .permission_routes import PermissionControl
from .permission_routes import control_routes as permission_control_routes
from .permission_routes import rest_routes as permission_rest_routes
from .ratelimits import RateLimitRule, RateLimits
from .ratelimits import control_routes as rate_limit_routes
from .reaction_routes import ReactionRoutes, Reactions
from .reaction_routes import control_routes as reaction_control_routes
from .recorder import Notifier, RecordedRequest, Recorder
from .rest import JSON_BODY, BotRoutes, reply
from .rest_webhooks import TokenRoutes
from .service import LOADING, Backend
from .state import Channel, EmulatorConfig, Interaction, Ping, User, World
from .thread_routes import ThreadRoutes

T = TypeVar("T")
API_PREFIXES = ("/api/v10", "/api/v9")
_TOKEN_ROUTE = re.compile(r"^/(webhooks/\d+/[^/]+|interactions/\d+/[^/]+/callback)(/.*)?$")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DiscordEmulator:
    def __init__(self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        self.port = port
        self.notifier = Notifier()
        self.world = World(self.config)
        self.gateway = Gateway(self.world, on_change=self.notifier.poke)
        self.gateway.token_ok = lambda token: token == self.token and self.network.mode != "revoked"
        self.gateway_chaos = GatewayChaos(self.gateway)
        """Gateway faults at random (``gateway_chaos``); one on demand: ``await emu.gateway.fault(kind)``."""
        self.recorder = Recorder(self.notifier)
        self.backend = Backend(self.world, self.gateway, self.notifier)
        self.reactions = Reactions(self.backend, interval_s=self.config.reaction_interval_s)
        for name in self.config.emojis:
            self.reactions.add_emoji(name.removeprefix("a:"), animated=name.startswith("a:"))
        self.limits = RateLimits(
            application_id=self.world.application_id, reaction_interval_s=self.config.reaction_interval_s
        )
        """Discord's rate limits (``ratelimits.py``): buckets, the global limit, bans, random 429s."""
        self.rate_limits: list[RateLimitRule] = self.limits.rules
        self.permissions = PermissionControl(self)
        """Grant and revoke permissions on demand (``permission_routes``)."""
        self.network = NetworkFault(host=host)
        """Unreachable on demand: ``await emu.network.refuse()``, ``emu.network.fail(502)``, ``revoke_token()``."""
        self._runner: web.AppRunner | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self.network.middleware(), self._middleware], client_max_size=256 * 1024 * 1024
        )
        for prefix in API_PREFIXES:
            app.add_routes(BotRoutes(self.backend).routes(prefix))
            app.add_routes(TokenRoutes(self.backend).routes(prefix))
            app.add_routes(ThreadRoutes(self.backend).routes(prefix))
            app.add_routes(ReactionRoutes(self.backend, self.reactions).routes(prefix))
            app.add_routes(permission_rest_routes(self, prefix))
        app.add_routes([web.get("/gateway", self.gateway.handle), web.get("/", self.gateway.handle)])
        app.add_routes(ControlRoutes(self).routes())
        app.add_routes(self.backend.cdn.routes())
        app.add_routes(reaction_control_routes(self))
        app.add_routes(gateway_control_routes(self))
        app.add_routes(rate_limit_routes(self.limits))
        app.add_routes(permission_control_routes(self))
        app.add_routes([control_route(self.network, on_revoke=self.revoke_token)])
        return app

    async def start(self) -> DiscordEmulator:
        self._runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.network.attach(self._runner, self.port)
        self.gateway.url = self.gateway_url
        self.backend.cdn.base_url = self.base_url
        return self

    async def stop(self) -> None:
        await self.gateway_chaos.close()
        if self._runner is not None:
            await self.gateway.close_connections(code=1001)
            await self._runner.cleanup()
            self._runner = None
        self.backend.blobs.close()

    async def __aenter__(self) -> DiscordEmulator:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be set to."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """What ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` must be set to."""
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def token(self) -> str:
        return self.config.token

    @property
    def guild_id(self) -> str:
        return self.world.guild_id

    @property
    def bot_user_id(self) -> str:
        return self.world.bot.id

    @property
    def application_id(self) -> str:
        return self.world.application_id

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.recorder.requests

    @property
    def posted(self) -> list[dict[str, Any]]:
        """What the bot, its webhooks and its interaction responses created, edited and deleted."""
        return self.backend.posted

    # -- HTTP middleware: record, rate-limit, authenticate, render errors ----------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        prefix = next((p for p in API_PREFIXES if request.path.startswith(p + "/")), None)
        if prefix is None:
            return await handler(request)
        rel = request.path[len(prefix) :]
        record = RecordedRequest(request.method, rel, dict(request.query), None, dict(request.headers))
        try:
            if request.body_exists and request.content_type == "application/json":
                try:
                    record.json = request[JSON_BODY] = json.loads(await request.read())
                except ValueError:
                    raise errors.APIError(400, 50109, "The request body contains invalid JSON.") from None
            response = self._rate_limited(record) or await self._authorized(request, rel, handler)
        except errors.APIError as err:
            response = reply(err.body(), err.status)
        except web.HTTPException as err:
            response = reply({"message": f"{err.status}: {err.reason}", "code": 0}, err.status)
        self.limits.stamp(record, response)
        record.status = response.status
        if isinstance(response, web.Response) and isinstance(response.body, bytes) and response.body[:1] in b"[{":
            record.answer = json.loads(response.body)
        self.recorder.add(record)
        return response

    async def _authorized(self, request: web.Request, rel: str, handler: Handler) -> web.StreamResponse:
        revoked = self.network.mode == "revoked"
        if not _TOKEN_ROUTE.match(rel) and (request.headers.get("Authorization") != f"Bot {self.token}" or revoked):
            raise errors.unauthorized()
        return await handler(request)

    def _rate_limited(self, record: RecordedRequest) -> web.Response | None:
        return self.limits.check(record)

    def rate_limit(
        self, method: str, path_regex: str, *, retry_after: float, times: int = 1, is_global: bool = False
    ) -> RateLimitRule:
        """Make the next ``times`` matching requests answer 429 with ``retry_after`` seconds."""
        return self.limits.add_rule(RateLimitRule(method.upper(), path_regex, retry_after, times, is_global))

    # -- waiting -------------------------------------------------------------------------------
    async def wait_until(self, predicate: Callable[[], T | None], timeout: float = 5.0) -> T:  # noqa: ASYNC109 - tests pass a plain timeout; asyncio.timeout inside
        return await self.notifier.wait_until(predicate, timeout)

    async def wait_for_request(
        self,
        method: str,
        path_regex: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - a plain timeout for tests; asyncio.timeout inside
        *,
        since: int = 0,
    ) -> RecordedRequest:
        return await self.recorder.wait_for(method, path_regex, timeout=timeout, since=since)

    async def wait_for_reply(self, interaction: Interaction, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109 - tests pass a plain timeout; asyncio.timeout inside
        """The first message an interaction answered with (immediate response or followup)."""

        def first() -> dict[str, Any] | None:
            original = interaction.original
            if original is not None and not int(original.get("flags", 0)) & LOADING:
                return original
            return interaction.followups[0] if interaction.followups else None

        return await self.wait_until(first, timeout)

    # -- lookups -------------------------------------------------------------------------------
    def user(self, who: str) -> User:
        """A user by id or username."""
        return self.world.users.get(who) or self.world.user_by_name(who)

    def channel(self, which: str) -> Channel:
        """A channel by id or name."""
        return self.world.channels.get(which) or self.world.channel_by_name(which)

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages of a channel as stored, oldest first."""
        return list(self.channel(channel).messages.values())

    def ping(self, message_id: str) -> Ping:
        """Who a message notified (``allowed_mentions`` applied)."""
        return self.world.pings[message_id]

    def avatar_url(self, message_id: str) -> str | None:
        return self.world.avatar_urls.get(message_id)

    def dm_messages(self, user: str) -> list[dict[str, Any]]:
        uid = self.user(user).id
        return [m for c in self.world.channels.values() if c.recipient_ids == [uid] for m in c.messages.values()]

    # -- injecting what people do --------------------------------------------------------------
    async def say(
        self,
        user: str,
        channel: str,
        content: str,
        *,
        reply_to: str | None = None,
        files: list[tuple[str, bytes]] | None = None,
        stickers: list[str] | None = None,
        embeds: list[dict[str, Any]] | None = None,
        poll: dict[str, Any] | None = None,
        flags: int = 0,
    ) -> dict[str, Any]:
        """A person posts ``content`` (optionally replying to message ``reply_to``), with ``files``
        (name, bytes) uploaded to the CDN, ``stickers`` (ids from :meth:`add_sticker`), ``embeds``
        (as a bot would send them) and a ``poll`` (:func:`rich.poll`)."""
        author = self.user(user)
        chan = self.channel(channel)
        reference = {"message_id": reply_to} if reply_to else None
        items = [self.backend.cdn.stickers[s][0] for s in stickers or []]
        extra = {
            "attachments": await rich.upload(self.backend, chan, files or []),
            "sticker_items": items,
            "embeds": embeds,
            "poll": poll,
        }
        return await self.backend.create_message(
            chan,
            author=payloads.user(author),
            content=content,
            reference=reference,
            msg_type=19 if reply_to else 0,
            source="user",
            flags=flags,
            extra=extra,
        )

    async def forward(self, user: str, channel: str, message_id: str, *, to: str | None = None) -> dict[str, Any]:
        """A person forwards message ``message_id`` of ``channel`` into ``to`` (default: the same)."""
        source = self.channel(channel)
        original = self.backend.message(source, message_id)
        target = self.channel(to) if to else source
        return await self.backend.create_message(
            target,
            author=payloads.user(self.user(user)),
            content="",
            source="user",
            flags=rich.HAS_SNAPSHOT,
            extra={"message_snapshots": [rich.snapshot(original)]},
            reference_raw=rich.forward_reference(source, message_id),
        )

    async def voice_message(self, user: str, channel: str, audio: bytes, *, seconds: float) -> dict[str, Any]:
        """A person records a voice message (one ``voice-message.ogg`` attachment)."""
        chan = self.channel(channel)
        [attachment] = await rich.upload(self.backend, chan, [("voice-message.ogg", audio)])
        attachment |= {"content_type": "audio/ogg", "duration_secs": seconds, "waveform": "AAAA"}
        return await self.backend.create_message(
            chan,
            author=payloads.user(self.user(user)),
            content="",
            source="user",
            flags=rich.IS_VOICE_MESSAGE,
            extra={"attachments": [attachment]},
        )

    async def bot_says(self, bot: str, channel: str, content: str, *, embeds: list[dict[str, Any]]) -> dict[str, Any]:
        """Another app's bot posts a rich message (``embeds`` of type ``rich``)."""
        author = rich.foreign_bot(self.backend, bot)
        return await self.backend.create_message(
            self.channel(channel),
            author=payloads.user(author),
            content=content,
            source="user",
            extra={"embeds": [{"type": "rich", **e} for e in embeds]},
        )

    async def add_sticker(self, name: str, image: bytes | None, *, format_type: int = 1) -> str:
        """A guild sticker (1 PNG, 2 APNG, 3 LOTTIE, 4 GIF); returns its id for :meth:`say`."""
        blob = await self.backend.blobs.put(image) if image is not None else None
        sticker_id = self.world.ids.next()
        self.backend.cdn.add_sticker(sticker_id, name, format_type, blob)
        return sticker_id

    def file_sha256(self, attachment_id: str) -> str | None:
        """SHA-256 of the bytes the emulator holds for an attachment (None: gone from the CDN)."""
        return self.backend.cdn.sha256(attachment_id)

    async def edit(
        self, channel: str, message_id: str, content: str, *, keep_files: list[str] | None = None
    ) -> dict[str, Any]:
        """A person edits their message (``keep_files``: the attachment ids left; the others removed)."""
        keep = [{"id": i} for i in keep_files] if keep_files is not None else None
        return await self.backend.edit_message(
            self.channel(channel), message_id, content=content, source="user", keep_attachments=keep
        )

    async def delete(self, channel: str, message_id: str) -> None:
        """A person (or a moderator) deletes a message."""
        await self.backend.delete_message(self.channel(channel), message_id, source="user")

    def _command(self, name: str) -> dict[str, Any]:
        guild_cmds = self.world.guild_commands.get(self.world.guild_id, [])
        command = appcommands.find_command(guild_cmds, name) or appcommands.find_command(
            self.world.global_commands, name
        )
        if command is None:
            raise KeyError(f"command {name!r} is not registered (sync the command tree first)")
        return command

    async def slash(self, user: str, channel: str, command: str, options: dict[str, Any] | None = None) -> Interaction:
        """A person runs ``/command`` (``"chat search"``: command + subcommand path) with ``options``."""
        name, *path = command.split()
        data = appcommands.build_data(self._command(name), path, options or {})
        return await self.backend.create_interaction(
            kind=2, data=data, user_id=self.user(user).id, channel=self.channel(channel)
        )

    async def autocomplete(
        self, user: str, channel: str, command: str, options: dict[str, Any], focused: str
    ) -> Interaction:
        """The Discord client asks for choices while ``focused`` is being typed."""
        name, *path = command.split()
        data = appcommands.build_data(self._command(name), path, options, focused=focused)
        return await self.backend.create_interaction(
            kind=4, data=data, user_id=self.user(user).id, channel=self.channel(channel)
        )

    async def create_channel(self, name: str) -> Channel:
        """Someone creates a text channel in the guild (``CHANNEL_CREATE`` is dispatched)."""
        channel = self.world.add_channel(name)
        await self.gateway.dispatch("CHANNEL_CREATE", payloads.channel(self.world, channel))
        return channel

    # -- reactions (bridge.emulators.discord.reaction_routes) ---------------------------------------
    async def react(self, user: str, channel: str, message_id: str, emoji: str, *, remove: bool = False) -> None:
        """A person adds (or removes) a reaction: Unicode, a custom emoji's name or ``name:id``."""
        ref = self.reactions.resolve(emoji)
        uid, cid = self.user(user).id, self.channel(channel).id
        if remove:
            await self.reactions.remove(cid, message_id, ref, uid)
        else:
            await self.reactions.add(cid, message_id, ref, uid)

    def reactions_of(self, message_id: str) -> list[dict[str, Any]]:
        """``[{emoji, count, users}]`` on a message (``emoji``: Unicode or ``name:id``; user ids)."""
        return self.reactions.of(message_id)

    # -- threads and forums (bridge.emulators.discord.threads) ----------------------------------
    async def create_forum(self, name: str, *, media: bool = False) -> Channel:
        """Someone creates a forum channel (type 15), or a media channel (16: a forum whose posts
        show as a gallery, topics/threads.mdx); ``CHANNEL_CREATE`` is dispatched."""
        kind = MEDIA if media else FORUM
        forum = Channel(self.world.ids.next(), name, kind, self.world.guild_id, position=len(self.world.channels))
        self.world.channels[forum.id] = forum
        await self.gateway.dispatch("CHANNEL_CREATE", payloads.channel(self.world, forum))
        return forum

    async def start_thread(
        self, user: str, channel: str, name: str, *, message_id: str | None = None, private: bool = False
    ) -> Channel:
        """A person starts a thread: on a message (the thread gets its id), or from nothing (public or
        private)."""
        owner = self.user(user).id
        parent = self.channel(channel)
        threads = self.backend.threads
        if message_id is not None:
            return await threads.start_from_message(parent, message_id, name=name, owner_id=owner)
        kind = PRIVATE_THREAD if private else PUBLIC_THREAD
        return await threads.start_without_message(parent, name=name, owner_id=owner, kind=kind)

    async def forum_post(self, user: str, forum: str, title: str, content: str) -> tuple[Channel, dict[str, Any]]:
        """A person opens a forum post: a thread and its first message (same id)."""
        author = self.user(user)
        return await self.backend.threads.start_forum_post(
            self.channel(forum),
            name=title,
            author=payloads.user(author),
            message={"content": content},
            owner_id=author.id,
            source="user",
        )

    async def update_thread(
        self,
        thread: str,
        *,
        archived: bool | None = None,
        locked: bool | None = None,
        name: str | None = None,
        by: str | None = None,
    ) -> Channel:
        """Archive, lock, rename a thread, as ``by`` (default: the guild owner, a moderator)."""
        actor = self.user(by).id if by else self.world.owner_id
        return await self.backend.threads.update(
            self.channel(thread), actor_id=actor, archived=archived, locked=locked, name=name
        )

    async def add_to_thread(self, thread: str, user: str, *, by: str) -> None:
        """Person ``by`` adds ``user`` (a username, or ``"bot"``) to ``thread`` (Add Thread Member: the
        bot added gets THREAD_CREATE and THREAD_MEMBERS_UPDATE, see ``threads.Threads.add_member``)."""
        added = self.world.bot.id if user == "bot" else self.user(user).id
        await self.backend.threads.add_member(self.channel(thread), added, actor_id=self.user(by).id)

    async def delete_thread(self, thread: str) -> None:
        """A moderator deletes a thread (``THREAD_DELETE``)."""
        await self.backend.threads.delete(self.channel(thread), actor_id=self.world.owner_id)

    async def thread_list_sync(self, channels: list[str]) -> dict[str, Any]:
        """Send ``THREAD_LIST_SYNC`` for the active threads of ``channels`` (ids or names)."""
        return await self.backend.threads.list_sync([self.channel(c).id for c in channels])

    async def thread_for(self, user: str, ref: str) -> Channel:
        """Where a reply "in the thread of ``ref``" goes: ``ref`` is a thread, or a message in one,
        or a channel message, whose thread is started now (named from its text) when it has none."""
        found = self.world.channels.get(ref)
        if found is not None and found.thread is not None:
            return found
        located = self.world.find_message(ref)
        if located is None:
            raise KeyError(f"no message or thread {ref}")
        channel, message = located
        if channel.thread is not None:
            return channel
        existing = self.thread_of(ref)
        if existing is not None:
            return existing
        first = next((line for line in str(message.get("content") or "").splitlines() if line.strip()), "")
        return await self.start_thread(user, channel.id, first[:100] or "thread", message_id=ref)

    def thread_of(self, message_id: str) -> Channel | None:
        """The thread started on a message (it has the message's id), if there is one."""
        found = self.world.channels.get(message_id)
        return found if found is not None and found.thread is not None else None

    async def close_gateway(self, code: int = 4000) -> int:
        return await self.gateway.close_connections(code)

    async def outage(self, refuse: bool = True) -> int:
        """Drop every gateway connection and refuse reconnects (``refuse=False`` allows them again);
        returns how many sockets were closed. See :meth:`Gateway.outage`."""
        return await self.gateway.outage(refuse)

    async def revoke_token(self) -> None:
        """The bot token is reset (Developer Portal, or Discord's own token reset): bot routes answer
        401 and the gateway closes every session with 4004 Authentication failed and refuses
        IDENTIFY/RESUME with it (discord-api-docs topics/opcodes-and-status-codes.mdx, gateway close
        event codes). Webhook and interaction token routes keep working: they carry their own token.
        ``await emu.network.restore()`` installs the token again."""
        self.network.revoke()
        await self.gateway.close_connections(code=4004)

    def rewind_gateway(self, count: int) -> None:
        """Make the next RESUME replay ``count`` dispatches the client already received, too."""
        self.gateway.rewind(count)

    def hold_gateway(self) -> None:
        """Stop sending dispatches (they are still sequenced and buffered) until the client resumes."""
        self.gateway.hold()
