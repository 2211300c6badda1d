"""The Discord adapter: a discord.py client wired to the chat core.

    adapter = DiscordAdapter(chat=chat, config=DiscordConfig.load(raw))
    await adapter.start(token)          # returns once the bot is ready (commands synced)
    adapter.destination                 # the Destination the mirroring worker uses
    await adapter.close()

``start`` applies ``config.api_base`` / ``config.gateway_url`` (emulator) before logging in.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bridge import metrics
from bridge.adapters.file_transfer import FileHub
from bridge.adapters.linkstate import LinkState, Reconnect
from bridge.core.chat import Chat
from bridge.errors import ConfigError
from bridge.formatting.emoji import from_discord_reaction
from bridge.health import PartHealth

from . import gateway_backoff
from .admin_alerts import AdminAlerts
from .bot_limits import BotLimits
from .catch_up import CatchUp
from .commands import build_group
from .config import DiscordConfig
from .endpoints import apply_endpoints
from .files import DiscordFiles
from .heartbeat_watch import HeartbeatWatch
from .history_source import DiscordHistory
from .inbound import Inbound
from .interactions import APOLOGY, CommandHandler
from .notices import discord_notices
from .outbound import DiscordDestination
from .permission_watch import PermissionWatch
from .reactions_relay import DiscordReactions
from .supervisor import supervise
from .view_watch import ViewWatch
from .webhook_limits import RateGate
from .webhooks import WebhookStore

log = logging.getLogger(__name__)


DISPATCH_KINDS = {
    "MESSAGE_CREATE": "message",
    "MESSAGE_UPDATE": "edit",
    "MESSAGE_DELETE": "delete",
    "MESSAGE_DELETE_BULK": "bulk_delete",
    "MESSAGE_REACTION_ADD": "reaction",
    "MESSAGE_REACTION_REMOVE": "reaction_removed",
    "INTERACTION_CREATE": "command",
    "THREAD_CREATE": "thread",
}
"""Gateway dispatch names (discord-api-docs topics/gateway-events.md) → the ``kind`` label."""


def intents_for(config: DiscordConfig) -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.guild_reactions = True  # MESSAGE_REACTION_* (bridge.adapters.discord.reactions_relay)
    intents.emojis_and_stickers = True  # the guild's custom emoji (mirrored Slack custom reactions)
    intents.message_content = config.message_content
    return intents


def command_path(interaction: discord.Interaction) -> str:
    """``chat history`` for logs, from the raw payload (works when discord.py found no command)."""
    data: Any = interaction.data or {}
    parts = [str(data.get("name", "?"))]
    options = data.get("options") or []
    while options and options[0].get("type") in (1, 2):
        parts.append(str(options[0].get("name")))
        options = options[0].get("options") or []
    return " ".join(parts)


if TYPE_CHECKING:
    _ClientBase = discord.Client
else:
    _ClientBase = object


class _BridgeEvents(_ClientBase):
    """The adapter's event handlers, shared by the plain and the sharded client."""

    adapter: DiscordAdapter
    tree: app_commands.CommandTree[Any]
    ready_event: asyncio.Event

    def _bridge_init(self, adapter: DiscordAdapter) -> None:
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        self.ready_event = asyncio.Event()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Space IDENTIFYs by ``identify_delay`` (discord.py's default is a fixed 5 s)."""
        if not initial and self.adapter.config.identify_delay > 0:
            await asyncio.sleep(self.adapter.config.identify_delay)

    async def setup_hook(self) -> None:
        self.adapter.bot_limits.install(self.http)  # logged in: discord.py's session exists now
        await self.adapter.setup_commands(self.tree)

    async def on_ready(self) -> None:
        log.info("Discord: logged in as %s (%s)", self.user, self.user.id if self.user else "?")
        self.adapter.link.up("gateway connected")
        gateway_backoff.connected()
        self.adapter.reconnect.reset()
        self.ready_event.set()
        if not isinstance(self, discord.AutoShardedClient):  # sharded: once per shard, on_shard_ready
            self.adapter.catch_up.ready(self)
        await self.adapter.view.refresh(starting=True)  # channels the bot cannot view already

    async def on_shard_ready(self, shard_id: int) -> None:
        self.adapter.catch_up.ready(self)

    async def on_disconnect(self) -> None:
        if not self.is_closed():
            self.adapter.link.down("gateway disconnected, reconnecting")

    async def on_resumed(self) -> None:
        self.adapter.link.up("gateway connected (resumed)")
        gateway_backoff.connected()

    async def on_socket_event_type(self, event_type: str) -> None:
        """Every gateway dispatch, counted by kind (``chatbridge_inbound_events_total``); a READY that
        is not the adapter's first starts a catch-up (``catch_up``)."""
        self.adapter.catch_up.session_event(event_type, shards=self.shard_count or 1)
        metrics.inbound_event("discord", DISPATCH_KINDS.get(event_type, event_type.lower()))

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.inbound.on_message(message)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self.adapter.inbound.on_raw_edit(payload)

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self.adapter.inbound.on_raw_delete(payload)

    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        await self.adapter.inbound.on_thread_delete(payload)

    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        """A moderator purge (or a ban that deletes history): each message is deleted on the core."""
        for message_id in sorted(payload.message_ids):
            single = discord.RawMessageDeleteEvent(
                {"id": str(message_id), "channel_id": str(payload.channel_id), "guild_id": str(payload.guild_id)}
            )
            await self.adapter.inbound.on_raw_delete(single)

    # Permission changes (topics/threads.mdx "Channel Access"): the view of linked channels is checked
    # first, before any await (a channel visible again closes its room's gate before the handlers of
    # later events run), then what the bot needs in each linked channel.
    async def on_guild_channel_update(self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> None:
        await self._permissions_changed(after.guild.id)  # its permission overwrites may have changed

    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        await self._permissions_changed(after.guild.id)

    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        """Sent for the bot itself without the GUILD_MEMBERS intent (events/gateway.mdx "Caveats"):
        its roles changed."""
        if self.user is not None and after.id == self.user.id:
            await self._permissions_changed(after.guild.id)

    async def _permissions_changed(self, guild_id: int) -> None:
        self.adapter.view.changed()
        await self.adapter.view.refresh()
        await self.adapter.watch.recheck(guild_id)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.adapter.reactions.on_raw(payload, "add")

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.adapter.reactions.on_raw(payload, "remove")

    async def on_raw_reaction_clear(self, payload: discord.RawReactionClearEvent) -> None:
        await self.adapter.reactions.on_clear(payload.channel_id, payload.guild_id, payload.message_id, None)

    async def on_raw_reaction_clear_emoji(self, payload: discord.RawReactionClearEmojiEvent) -> None:
        emoji = from_discord_reaction(payload.emoji.name, str(payload.emoji.id) if payload.emoji.id else None)
        if emoji is not None:
            await self.adapter.reactions.on_clear(payload.channel_id, payload.guild_id, payload.message_id, emoji)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("Discord event %s failed (args=%r)", event_method, args[:1])

    async def _on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        command = command_path(interaction)
        log.error(
            "slash command /%s failed for user=%s guild=%s: %r",
            command,
            interaction.user.id,
            interaction.guild_id,
            error,
            exc_info=error,
        )
        try:
            if not interaction.response.is_done():
                await interaction.response.send_message(APOLOGY, ephemeral=True)
        except discord.HTTPException as err:
            log.warning("could not answer failed interaction %s: %s", interaction.id, err)


def client_options(config: DiscordConfig) -> dict[str, Any]:
    options: dict[str, Any] = {
        "intents": intents_for(config),
        "guild_ready_timeout": 0.05 if config.uses_emulator else 2.0,
        "chunk_guilds_at_startup": False,
        "max_ratelimit_timeout": config.max_ratelimit_timeout,
        "allowed_mentions": discord.AllowedMentions.none(),
    }
    if config.application_id is not None:
        options["application_id"] = config.application_id
    return options


class BridgeClient(_BridgeEvents, discord.Client):
    """One gateway connection; events go to the adapter, handler errors are logged, never fatal."""

    def __init__(self, adapter: DiscordAdapter) -> None:
        super().__init__(**client_options(adapter.config))
        self._bridge_init(adapter)


class ShardedBridgeClient(_BridgeEvents, discord.AutoShardedClient):
    """Several gateway connections (``shards: auto`` or a count) in one process."""

    def __init__(self, adapter: DiscordAdapter) -> None:
        shards = adapter.config.shards
        count = shards if isinstance(shards, int) else None
        super().__init__(**client_options(adapter.config), shard_count=count)
        self._bridge_init(adapter)


def _gateway_sockets(client: discord.Client) -> list[Any]:
    """The gateway websocket of each shard (one for a plain client; None while not connected)."""
    if isinstance(client, discord.AutoShardedClient):
        return [getattr(getattr(info, "_parent", None), "ws", None) for info in client.shards.values()]
    return [client.ws] if client.ws is not None else []


def _last_ack(ws: Any) -> float | None:
    """discord.py keeps the last HEARTBEAT_ACK as a ``perf_counter`` value on the socket's keep-alive
    thread (``KeepAliveHandler._last_ack``); turned into unix time here."""
    keep_alive = getattr(ws, "_keep_alive", None)
    last = getattr(keep_alive, "_last_ack", None)
    if not isinstance(last, float):
        return None
    return time.time() - (time.perf_counter() - last)


class DiscordAdapter:
    def __init__(self, *, chat: Chat, config: DiscordConfig, files: FileHub | None = None) -> None:
        self.chat = chat
        self.config = config
        self.link = LinkState("discord", detail="not connected yet")
        """Connection state for /healthz (see :mod:`bridge.adapters.linkstate`)."""
        self.reconnect = Reconnect(config.reconnect_min_s, config.reconnect_max_s, config.bad_token_retry_s)
        self.client: BridgeClient | ShardedBridgeClient = self._new_client()
        self.webhooks = WebhookStore(
            client=self.client,
            chat=chat,
            name=config.webhook_name,
            hold_s=config.admin_fix_retry_s,
            gate=RateGate(max_wait_s=config.webhook_max_wait_s),
        )
        self.inbound = Inbound(client=self.client, chat=chat, config=config, webhooks=self.webhooks)
        self.notices = discord_notices(self.client)
        self.inbound.notices = self.notices
        self.files = files or FileHub()
        """Shared with the other adapters (``app.py``): their downloads and their senders' notices."""
        if self.files.find_user is None:
            self.files.find_user = chat.platform_user_id
        self.file_source = DiscordFiles()
        self.files.register("discord", self.file_source, self.notices)
        self.commands = CommandHandler(chat=chat, config=config)
        self.bot_limits = BotLimits(RateGate(max_wait_s=config.webhook_max_wait_s))
        """The bot routes' 429s during deliveries: raised, not slept (:mod:`.bot_limits`)."""
        self.destination = DiscordDestination(
            client=self.client, chat=chat, config=config, webhooks=self.webhooks, files=self.files,
            bot_limits=self.bot_limits,
        )  # fmt: skip
        self.reactions = DiscordReactions(
            client=self.client, chat=chat, inbound=self.inbound, interval_s=config.reaction_interval_s
        )
        self.destination.reactions = self.reactions
        self.catch_up = CatchUp(
            chat=chat,
            last_seen=self.inbound.last_seen,
            gate=self.inbound.caught_up,
            replay=self.inbound.replay,
            replay_edit=self.inbound.replay_edit,
            on_start=config.catch_up_on_start,
        )
        """What was said during a gateway session that could not be resumed (:mod:`.catch_up`)."""
        self.heartbeats = HeartbeatWatch(lambda: _gateway_sockets(self.client))
        """Zombie connections: a heartbeat without ACK before the next one → reconnect (:mod:`.heartbeat_watch`)."""
        self.history = DiscordHistory(self.inbound)
        """What ``link --backfill`` reads the channel's earlier messages with."""
        self.alerts = AdminAlerts(client=self.client, webhooks=self.webhooks, name=config.webhook_name)
        self.webhooks.alerts = self.alerts
        self.watch = PermissionWatch(client=self.client, chat=chat, alerts=self.alerts)
        self.destination.watch = self.watch
        chat.link_checks["discord"] = self.watch.link_problem
        self.view = ViewWatch(client=self.client, chat=chat, catch_up=self.catch_up, gates=self.inbound.room_gates)
        """Linked channels the bot cannot view, caught up when it can again (:mod:`.view_watch`)."""
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def _new_client(self) -> BridgeClient | ShardedBridgeClient:
        return BridgeClient(self) if self.config.shards is None else ShardedBridgeClient(self)

    def renew_client(self) -> None:
        """A fresh discord.py client for the next connection attempt (a closed one cannot log in)."""
        self.client = self._new_client()
        self.webhooks.client = self.inbound.client = self.destination.client = self.client
        self.inbound.threads.client = self.destination.threads.client = self.client
        self.alerts.client = self.watch.client = self.view.client = self.client

    async def setup_commands(self, tree: app_commands.CommandTree[Any]) -> None:
        """Register ``/chat`` and sync it (per allowed guild, else globally)."""
        group = build_group(
            self.chat.commands.specs(),
            name=self.config.command_name,
            run=self.commands.run,
            complete=self.commands.complete,
        )
        tree.add_command(group)
        if not self.config.guild_ids:
            await tree.sync()
            return
        for guild_id in self.config.guild_ids:
            guild = discord.Object(guild_id)
            tree.copy_global_to(guild=guild)
            try:
                await tree.sync(guild=guild)
            except discord.HTTPException as err:  # e.g. the bot is not in that guild (yet)
                log.error("could not register /%s in guild %s: %s", self.config.command_name, guild_id, err)

    def health(self) -> PartHealth:
        """Gateway connected (every shard's socket open, READY or RESUMED seen) and when the last
        heartbeat ACK arrived (``last_heartbeat_ack_at``, unix time; discord.py closes a socket whose
        ACKs stop and reconnects, which shows here as a disconnect)."""
        client = self.client
        sockets = _gateway_sockets(client)
        open_count = sum(1 for ws in sockets if ws is not None and ws.open)
        state = self.link
        if client.is_closed():
            if state.ok:  # else it keeps the supervisor's reason (unreachable, token refused, …)
                state.set(False, "client closed")
        elif state.ok and (not sockets or open_count < len(sockets)):
            state.set(False, f"gateway disconnected ({open_count} of {len(sockets) or 1} socket(s) open), reconnecting")
        latency = client.latency
        acks = [t for t in (_last_ack(ws) for ws in sockets) if t is not None]
        return state.snapshot(
            last_heartbeat_ack_at=round(min(acks), 3) if acks else None,
            latency_ms=round(latency * 1000, 1) if math.isfinite(latency) else None,
            shards=len(sockets) if isinstance(client, discord.AutoShardedClient) else None,
            guilds=len(client.guilds),
            zombie_reconnects=self.heartbeats.zombies,
            catch_ups=len(self.catch_up.runs),
            catching_up=not self.inbound.caught_up.is_set(),
            needs_admin=self.alerts.summary() or None,
            cannot_view=self.view.summary() or None,
            **self.inbound.hold.info(),
        )

    def metrics(self) -> dict[str, Any]:
        """Gateway state, inbound results and outbound counters (for the health/metrics endpoint)."""
        client = self.client
        latency = client.latency
        inbound = collections.Counter(r.status for r in self.inbound.results)
        return {
            "connected": self.health().ok,
            "latency_ms": round(latency * 1000, 1) if math.isfinite(latency) else None,
            "guilds": len(client.guilds),
            "inbound": {"handled": self.inbound.handled, **inbound},
            "outbound": dict(self.destination.counters),
        }

    def launch(self, token: str) -> None:
        """Connect in the background and stay connected: failures (unreachable, 5xx, refused
        token) are reported in :attr:`link` and retried (:mod:`.supervisor`); never raises."""
        apply_endpoints(api_base=self.config.api_base, gateway_url=self.config.gateway_url)
        gateway_backoff.install(self.config.reconnect_max_s)
        self._stopping.clear()
        self._task = asyncio.create_task(supervise(self, token, self._stopping), name="discord-supervisor")
        self.heartbeats.start()

    async def start(self, token: str, *, ready_within: float = 60.0) -> None:
        """Log in and connect in the background; return when ready (raise if the client died)."""
        apply_endpoints(api_base=self.config.api_base, gateway_url=self.config.gateway_url)
        self._task = asyncio.create_task(self.client.start(token), name="discord-client")
        self.heartbeats.start()
        ready = asyncio.create_task(self.client.ready_event.wait())
        done, _ = await asyncio.wait({self._task, ready}, timeout=ready_within, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            await self.close()
            error = self._task.exception() if self._task.done() and not self._task.cancelled() else None
            if isinstance(error, discord.LoginFailure):
                raise ConfigError(f"{self.config.token_env}: Discord refused the bot token ({error})") from error
            if isinstance(error, discord.PrivilegedIntentsRequired):
                raise ConfigError(
                    "discord.message_content: the Message Content intent is not enabled for this bot; enable it "
                    "in the Developer Portal (Bot → Privileged Gateway Intents) or set message_content: false"
                ) from error
            if error is not None:
                raise error
            raise TimeoutError("Discord client did not become ready")

    async def run(self, token: str) -> None:
        """Run until the client stops (for the service entry point)."""
        await self.start(token)
        assert self._task is not None
        await self._task

    async def close(self) -> None:
        self._stopping.set()
        await self.heartbeats.stop()
        await self.catch_up.close()
        await self.view.close()
        await self.client.close()
        await self.file_source.close()
        await self.webhooks.close()
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=10)
            if self._task.done() and not self._task.cancelled() and self._task.exception() is not None:
                log.warning("Discord client ended with %r", self._task.exception())
