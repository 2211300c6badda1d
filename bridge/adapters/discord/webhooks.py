"""The bridge's own webhook per Discord channel: created when missing, stored as id + token.

State lives in the core's adapter state hash (``Chat.get_state("discord", "webhook:<channel id>")``
→ ``{"id", "token"}``), so it survives restarts, and a bridge restart never creates a second webhook
(an existing webhook of ours with the configured name is reused).
"""

from __future__ import annotations

import asyncio
import collections
import logging

import aiohttp
import discord

from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.errors import DeliveryError

from .admin_alerts import AdminAlerts, Problem
from .webhook_limits import RateGate

log = logging.getLogger(__name__)
MAX_WEBHOOKS = 30007
"""topics/opcodes-and-status-codes.mdx: 30007 "Maximum number of webhooks reached (15)"."""
HOLD_S = 300.0
"""How long a room waits before trying again when a fix needs an admin (not counted as an attempt)."""


def state_name(channel_id: str) -> str:
    return f"webhook:{channel_id}"


class WebhookStore:
    def __init__(
        self, *, client: discord.Client, chat: Chat, name: str, hold_s: float = HOLD_S, gate: RateGate | None = None
    ) -> None:
        self.client = client
        self.gate = gate or RateGate()
        """Caps discord.py's sleeps on the webhooks' 429s (``webhook_limits``)."""
        self._session: aiohttp.ClientSession | None = None
        self.hold_s = hold_s
        self.chat = chat
        self.name = name
        self._cache: dict[str, tuple[str, str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._retired: set[str] = set()
        self._deleting: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.alerts: AdminAlerts | None = None
        """Where a full channel is told to its admins (set by the adapter)."""

    def deleting(self, message_id: str) -> None:
        """Note a message the bridge is about to delete, so its MESSAGE_DELETE echo is not ingested."""
        self._deleting[message_id] = None
        while len(self._deleting) > 1000:
            self._deleting.popitem(last=False)

    def deleted_by_us(self, message_id: str) -> bool:
        return self._deleting.pop(message_id, 0) is None

    def _partial(self, ids: tuple[str, str]) -> discord.Webhook:
        if self._session is None or self._session.closed:  # created in the running loop, on first use
            self._session = aiohttp.ClientSession(middlewares=(self.gate.middleware,))
        return discord.Webhook.partial(int(ids[0]), ids[1], client=self.client, session=self._session)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def known(self, channel_id: str) -> tuple[str, str] | None:
        """``(webhook id, token)`` stored for a channel, if any."""
        if channel_id in self._cache:
            return self._cache[channel_id]
        state = await self.chat.get_state("discord", state_name(channel_id))
        if state.get("id") and state.get("token"):
            self._cache[channel_id] = (state["id"], state["token"])
            return self._cache[channel_id]
        return None

    async def is_own(self, channel_id: str, webhook_id: str) -> bool:
        """True for the channel's current webhook and for the ones it replaced (late echoes)."""
        if webhook_id in self._retired:
            return True
        ids = await self.known(channel_id)
        if ids is not None and ids[0] == webhook_id:
            return True
        retired = (await self.chat.get_state("discord", state_name(channel_id))).get("retired", "")
        self._retired.update(filter(None, retired.split(",")))
        return webhook_id in self._retired

    async def get(self, channel_id: str) -> discord.Webhook:
        """The channel's webhook, creating (or adopting) one when none is stored."""
        ids = await self.known(channel_id)
        if ids is not None:
            return self._partial(ids)
        lock = self._locks.setdefault(channel_id, asyncio.Lock())
        async with lock:
            ids = await self.known(channel_id)
            if ids is None:
                ids = await self._create(channel_id)
                await self.chat.set_state("discord", state_name(channel_id), {"id": ids[0], "token": ids[1]})
                self._cache[channel_id] = ids
        return self._partial(ids)

    async def forget(self, channel_id: str) -> None:
        """Drop a webhook that Discord says no longer exists (someone deleted it); its id is kept as
        retired so that late echoes of its posts are still recognised as ours."""
        self._cache.pop(channel_id, None)
        state = await self.chat.get_state("discord", state_name(channel_id))
        retired = [r for r in state.get("retired", "").split(",") if r]
        if state.get("id"):
            retired = [*retired, state["id"]][-20:]
            self._retired.add(state["id"])
        await self.chat.set_state(
            "discord", state_name(channel_id), {"id": "", "token": "", "retired": ",".join(retired)}
        )

    async def _create(self, channel_id: str) -> tuple[str, str]:
        channel = self.client.get_channel(int(channel_id))
        if channel is None:
            channel = await self.client.fetch_channel(int(channel_id))
        if not isinstance(channel, discord.TextChannel | discord.ForumChannel):  # threads post through these
            raise DeliveryError(f"Discord channel {channel_id} is not a text or forum channel", permanent=True)
        me = self.client.user
        for hook in await channel.webhooks():
            if hook.token and hook.name == self.name and me is not None and hook.user and hook.user.id == me.id:
                log.info("adopting existing webhook %s in channel %s", hook.id, channel_id)
                return str(hook.id), hook.token
        try:
            hook = await channel.create_webhook(name=self.name, reason="chatbridge: mirrored room")
        except discord.HTTPException as err:
            if err.code != MAX_WEBHOOKS:
                raise
            # the room waits (not dead-lettered) until an admin frees a slot; retried every HOLD_S
            problem = (
                f"Discord channel #{channel.name} ({channel_id}) already has 15 webhooks, Discord's limit "
                "(code 30007): delete one (Channel settings → Integrations → Webhooks); mirrored messages wait"
            )
            log.error("%s", problem)
            if self.alerts is not None:
                fix = "delete one (Channel settings → Integrations → Webhooks)"
                where = ChannelRef("discord", str(channel.guild.id), channel_id)
                full = Problem("webhook_limit", f"#{channel.name} has 15 webhooks, Discord's limit", fix)
                await self.alerts.raise_problem(where, full)
            raise DeliveryError(problem, retry_after=self.hold_s) from err
        if hook.token is None:
            raise DeliveryError(f"Discord returned a webhook without token for {channel_id}", permanent=True)
        log.info("created webhook %s in channel %s", hook.id, channel_id)
        return str(hook.id), hook.token
