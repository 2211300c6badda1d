"""The Slack adapter: a slack-bolt ``AsyncApp`` wired to the chat core, in Socket Mode or HTTP mode.

Usage::

    config = SlackConfig(mode="socket", api_base_url=emulator.api_url)   # api_base_url only for the emulator
    adapter = SlackAdapter(chat=chat, config=config, secrets=SlackSecrets.from_env(config.mode))
    await adapter.start()          # auth.test, then connect (socket) or listen (http)
    adapter.destination            # the Destination the mirroring worker posts through
    await adapter.stop()

The app runs with ``process_before_response=True``: events are acknowledged only after the listener
returned (so after ``Chat.ingest`` wrote to Redis); slash commands ack first and run in a task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bridge import logs, metrics
from bridge.adapters.file_transfer import FileHub
from bridge.adapters.linkstate import LinkState, Reconnect
from bridge.adapters.slack.catch_up import LastSeen, SlackCatchUp
from bridge.adapters.slack.commands import SlashCommands
from bridge.adapters.slack.config import SlackConfig, SlackSecrets
from bridge.adapters.slack.directory import ChatPort, Directory
from bridge.adapters.slack.files import SlackFiles
from bridge.adapters.slack.history import SlackHistory
from bridge.adapters.slack.inbound import LAST_RETRY, RetryLater, RoomTraffic, retry_num
from bridge.adapters.slack.membership_events import MembershipEvents
from bridge.adapters.slack.notices import slack_notices
from bridge.adapters.slack.outbound import SlackDestination
from bridge.adapters.slack.pacing import Pacer
from bridge.adapters.slack.reactions_relay import SlackReactions
from bridge.adapters.slack.socket_client import BridgeSocketModeHandler
from bridge.adapters.slack.supervisor import supervise
from bridge.core.chat import Chat
from bridge.core.ports import PlatformUser
from bridge.errors import ConfigError
from bridge.health import PartHealth
from bridge.tasks import TaskSet

log = logging.getLogger(__name__)


MESSAGE_SUBTYPE_KINDS = {"message_changed": "edit", "message_deleted": "delete", "file_share": "file"}
"""Message subtypes (api.slack.com/events/message) → the ``kind`` label; other subtypes keep their name."""


def slack_kind(body: dict[str, Any]) -> str:
    """``message``, ``edit``, ``delete``, ``file``, ``command``, ``reaction_added``, ... for a request body."""
    if body.get("command"):
        return "command"
    event = body.get("event")
    if isinstance(event, dict):
        if event.get("type") == "message":
            subtype = str(event.get("subtype") or "")
            return MESSAGE_SUBTYPE_KINDS.get(subtype, subtype or "message")
        return str(event.get("type") or "event")
    return str(body.get("type") or "other")


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


class SlackAdapter:
    platform = "slack"

    def __init__(
        self,
        *,
        chat: ChatPort,
        config: SlackConfig,
        secrets: SlackSecrets,
        logger: logging.Logger | None = None,
        files: FileHub | None = None,
    ) -> None:
        if config.mode == "socket" and not secrets.app_token:
            raise ConfigError("Slack Socket Mode needs the app-level token (SLACK_APP_TOKEN)")
        if config.mode == "http" and not secrets.signing_secret:
            raise ConfigError("Slack HTTP mode needs the signing secret (SLACK_SIGNING_SECRET)")
        self.config = config
        self._chat = chat
        self._secrets = secrets
        self._log = logger or log
        base_url = config.api_base_url or AsyncWebClient.BASE_URL
        self.pacer = Pacer(
            post_per_s=config.post_per_second, post_burst=config.post_burst, speed=config.rate_limit_speed
        )
        """One pace for every call this workspace's token makes (``pacing.py``)."""
        self.client = AsyncWebClient(
            token=secrets.bot_token,
            retry_handlers=[AsyncConnectionErrorRetryHandler(), AsyncRateLimitErrorRetryHandler(max_retry_count=3)],
            base_url=base_url,
        )
        self.destination = SlackDestination(
            client=AsyncWebClient(
                token=secrets.bot_token, retry_handlers=[AsyncConnectionErrorRetryHandler()], base_url=base_url
            ),
            max_chars=config.max_message_chars,
            files=files,
            homes=chat,
            pacer=self.pacer,
        )
        # users.info runs before an event is acked (process_before_response): no rate-limit retry
        # handler here, whose Retry-After sleep would hold the ack past Slack's 3 s and get the
        # event redelivered; a 429 falls back to what the directory knows (stale entry or the id)
        self.directory = Directory(
            client=AsyncWebClient(
                token=secrets.bot_token, retry_handlers=[AsyncConnectionErrorRetryHandler()], base_url=base_url
            ),
            ttl=config.profile_cache_seconds,
            pacer=self.pacer,
        )
        self.rooms = RoomTraffic(chat=chat, directory=self.directory, early_edit_window=config.early_edit_hold_s)
        # its own client: history waits out 429s itself (Retry-After, logged), no SDK retry underneath
        self.history = SlackHistory(
            AsyncWebClient(
                token=secrets.bot_token, retry_handlers=[AsyncConnectionErrorRetryHandler()], base_url=base_url
            ),
            self.rooms,
        )
        redis = chat.ctx.redis if isinstance(chat, Chat) else None
        self.catch_up: SlackCatchUp | None = None
        """Takes in what was said in a channel while the app was out of it (``catch_up``; needs Redis)."""
        if redis is not None:
            last_seen = LastSeen(redis)
            self.catch_up = SlackCatchUp(
                history=self.history, rooms=self.rooms, last_seen=last_seen, chat=chat, pacer=self.pacer
            )
            if isinstance(chat, Chat):  # a link by command records where the channel's history stands
                chat.link_checks["slack"] = self.catch_up.link_check
        self.reactions = SlackReactions(
            chat=chat,
            directory=self.directory,
            rooms=self.rooms,
            client=AsyncWebClient(
                token=secrets.bot_token, retry_handlers=[AsyncConnectionErrorRetryHandler()], base_url=base_url
            ),
            pacer=self.pacer,
        )
        self.destination.reactions = self.reactions
        if self.catch_up is not None:
            self.catch_up.on_reaction = self.reactions.on_reaction
        self.destination.access.hold_s = config.admin_fix_retry_s
        self.destination.access.tell_admins = self._tell_admins
        if self.catch_up is not None:
            self.destination.access.on_rejoined = self.catch_up.on_rejoined
        self.reactions.access = self.destination.access
        self.notices = slack_notices(self.client)
        self.rooms.notices = self.notices
        self.files = self.destination.files
        """Shared with the other adapters (``app.py``): their downloads and their senders' notices."""
        if self.files.find_user is None and hasattr(chat, "platform_user_id"):
            self.files.find_user = chat.platform_user_id
        self.file_source = SlackFiles(secrets.bot_token)
        self.files.register("slack", self.file_source, self.notices)
        self.commands = SlashCommands(
            chat=chat,
            config=config,
            directory=self.directory,
            spawn=self._spawn,
        )
        self.app = AsyncApp(
            name="chatbridge",
            client=self.client,
            signing_secret=secrets.signing_secret or "",
            process_before_response=True,
            logger=logging.getLogger(logs.SLACK_SDK_LOGGER),  # slack-bolt's and slack_sdk's own lines
        )
        self.app.command(config.command)(self.commands.on_command)
        self.membership = MembershipEvents(
            chat=chat, rooms=self.rooms, access=self.destination.access, catch_up=self.catch_up, spawn=self._spawn
        )
        self.app.event("message")(self._on_message)
        self.app.event("member_joined_channel")(self.membership.on_member_joined)
        self.app.event("channel_left")(self.membership.on_left)
        self.app.event("group_left")(self.membership.on_left)
        self.app.event("reaction_added")(self.reactions.on_reaction)
        self.app.event("reaction_removed")(self.reactions.on_reaction)
        self.app.error(self._on_error)
        self.app.use(self._seen)
        self._tasks: TaskSet[None] = TaskSet()
        self._socket: BridgeSocketModeHandler | None = None
        self._runner: web.AppRunner | None = None
        self.http_port: int | None = None
        self.team_id: str | None = None
        self.last_event_at: float | None = None
        """Unix time of the last request Slack sent us (event, command), either mode."""
        self.link = LinkState("slack", detail="not started")
        """Connection state for /healthz (see :mod:`bridge.adapters.linkstate`)."""
        self.reconnect = Reconnect(config.reconnect_min_s, config.reconnect_max_s, config.bad_token_retry_s)
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------
    def launch(self) -> None:
        """Connect in the background and stay connected: failures (unreachable, 5xx, a refused
        token) are reported in :attr:`link` and retried (:mod:`.supervisor`); never raises."""
        self._stopping.clear()
        self._supervisor = asyncio.create_task(supervise(self, self._stopping), name="slack-supervisor")

    async def start(self) -> None:
        """Check the bot token (``auth.test``), then connect (Socket Mode) or listen (HTTP)."""
        try:
            auth = await self.client.auth_test()
        except SlackApiError as err:
            raise ConfigError(f"Slack rejected the bot token: {err.response.get('error')}") from err
        self.team_id = str(auth.get("team_id") or "")
        self.rooms.bot_user_id = auth.get("user_id")  # also how reactions skip the bot's own
        self.rooms.bot_id = auth.get("bot_id")
        if self.catch_up is not None:
            self.catch_up.team = self.team_id
            self._spawn(self._seed_anchors())
        if self.config.mode == "socket":
            socket = BridgeSocketModeHandler(  # disconnect frames: socket_client
                self.app,
                app_token=self._secrets.app_token or "",
                ping_interval=self.config.socket_ping_interval_s,
                pacing=Reconnect(self.config.reconnect_min_s, self.config.reconnect_max_s, 0.0),
                on_disabled=self.link.down,
            )
            try:  # first URL opened here so that a refused app token is an error, not an SDK retry loop
                opened = await socket.client.web_client.apps_connections_open(app_token=self._secrets.app_token or "")
            except SlackApiError as err:
                await socket.close_async()  # type: ignore[no-untyped-call]
                raise ConfigError(f"Slack rejected the app token: {err.response.get('error')}") from err
            except BaseException:
                await socket.close_async()  # type: ignore[no-untyped-call]
                raise
            socket.client.wss_uri = str(opened["url"])
            self._socket = socket
            await socket.connect_async()  # type: ignore[no-untyped-call]
            self._connected(f"Socket Mode connected as {auth.get('user')} (team {self.team_id})")
            return
        self._runner = web.AppRunner(
            self.app.web_app(path=self.config.http_path, port=self.config.http_port), handle_signals=False
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.http_host, self.config.http_port)
        await site.start()
        self.http_port = int(self._runner.addresses[0][1])
        self._connected(f"listening on {self.config.http_host}:{self.http_port}{self.config.http_path}")

    def _connected(self, detail: str) -> None:
        self._log.info("slack: %s", detail)
        self.link.up(detail)

    async def disconnect(self) -> None:
        """Close the socket / listener (the supervisor's cleanup after a failed attempt)."""
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def stop(self) -> None:
        self._stopping.set()
        if self._supervisor is not None:
            await asyncio.gather(self._supervisor, return_exceptions=True)
            self._supervisor = None
        await self.disconnect()
        await self.drain()
        await self.file_source.close()
        await self.destination.close()

    async def drain(self) -> None:
        """Wait for the slash commands still running."""
        await self._tasks.drain()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return self._tasks.spawn(coro)

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any], request: Any = None) -> None:
        """Bolt listener for ``message``: after a catch-up of its channel (order), the live path."""
        channel = str(event.get("channel") or "")
        hold = self.destination.access.held.get(channel)
        if hold is not None and _float(event.get("ts")) > hold.since:  # said after the hold: the app is back
            self.membership.back(channel, "a message said there after it was held arrived")
        if self.catch_up is not None:
            await self.catch_up.in_order(channel, final=retry_num(request) >= LAST_RETRY)
        await self.rooms.on_message(body, event, request)

    async def _seed_anchors(self) -> None:
        """Where each linked channel's history stands, for those with no anchor yet (``catch_up``)."""
        if self.catch_up is None or not isinstance(self._chat, Chat):
            return
        try:
            linked = await self._chat.channels.all_links("slack")
        except Exception as err:  # Redis away: the next start tries again
            self._log.warning("slack: could not list the linked channels to anchor them: %s", err)
            return
        await self.catch_up.seed([r.channel_id for r in linked if r.workspace == self.team_id])

    async def _seen(self, body: dict[str, Any], next_: Callable[[], Awaitable[None]]) -> None:
        """Bolt middleware: Slack reached us (either mode); counted by kind."""
        self.last_event_at = time.time()
        metrics.inbound_event("slack", slack_kind(body))
        await next_()

    def health(self) -> PartHealth:
        """Socket Mode: the socket is open and not stale (slack_sdk's own ping/pong check); HTTP mode:
        the events endpoint is listening (``last_event_at`` says when Slack last reached it)."""
        info: dict[str, Any] = {"mode": self.config.mode, "team": self.team_id, "last_event_at": self.last_event_at}
        info |= self.rooms.hold.info() | self.destination.access.info()
        if self._socket is not None:
            client = self._socket.client
            session = client.current_session
            stale = bool(getattr(client, "stale", False))
            up = session is not None and not session.closed and not stale and not client.closed
            info["last_ping_pong_at"] = client.last_ping_pong_time
            if client.frames:
                info["last_disconnect_frame"] = client.frames[-1][1]
            if client.disabled:
                self.link.set(False, client.disabled)
            elif up:
                self.link.set(True, "Socket Mode connected")
            else:
                self.link.set(False, "Socket Mode stale (no pong)" if stale else "Socket Mode disconnected")
        elif self._runner is not None:
            info["http_port"] = self.http_port
            self.link.set(True, f"HTTP mode listening on :{self.http_port}{self.config.http_path}")
        elif self._supervisor is None or self._stopping.is_set() or self.link.ok:
            self.link.set(False, "not started" if self.team_id is None else "stopped")
        # else: between attempts, the supervisor's reason (unreachable, token refused, …) stands
        return self.link.snapshot(**info)

    @property
    def socket_disabled(self) -> str | None:
        """Why Slack will not take Socket Mode connections now (``link_disabled``), if it said so."""
        return self._socket.client.disabled if self._socket is not None else None

    def metrics(self) -> dict[str, Any]:
        """Connection state and counters (for the health/metrics endpoint)."""
        return {
            "mode": self.config.mode,
            "connected": self.health().ok,
            "team": self.team_id,
            "inbound": dict(self.rooms.counters),
            "commands": dict(self.commands.counters),
            "outbound": dict(self.destination.counters),
        }

    async def _tell_admins(self, text: str) -> None:
        """A DM to each ``slack.admin_users`` (rooms held for an admin: ``channel_access``)."""
        for user_id in self.config.admin_users:
            await self.destination.direct_message(PlatformUser("slack", self.team_id or "", user_id, user_id), text)

    # -- errors --------------------------------------------------------------------------------
    async def _on_error(self, error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        """Bolt's error handler: log with context; the request stays un-acked (500) so Slack retries."""
        event = body.get("event") or {}
        if isinstance(error, RetryLater):
            self._log.info("slack event %s left for a retry: %s", body.get("event_id"), error)
            return None
        self._log.error(
            "slack listener failed (type=%s, event_id=%s, subtype=%s, channel=%s, command=%s): %r",
            body.get("type"),
            body.get("event_id"),
            event.get("subtype") if isinstance(event, dict) else None,
            (event.get("channel") if isinstance(event, dict) else None) or body.get("channel_id"),
            body.get("command"),
            error,
            exc_info=error,
        )
        return None
