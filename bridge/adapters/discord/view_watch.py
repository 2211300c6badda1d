"""Linked Discord channels the bot cannot view, and their catch-up once it can again.

Discord sends a bot nothing from a channel it cannot view (topics/permissions.mdx: View Channel
"includes reading messages"), and nothing marks when that starts or ends but the event that changed
the permission: "When an app loses access to a channel, the Gateway does **not** send it Thread
Delete event (or any equivalent thread-specific event). Instead, the app will receive the event that
caused its permissions on the channel to change ... a Guild Role Update, Guild Member Update or
Channel Update event" (topics/threads.mdx "Losing Access to Channels"); the bot's own GUILD_MEMBER_UPDATE
comes without the GUILD_MEMBERS intent (events/gateway.mdx "Caveats"). On a gain the same events,
then a THREAD_LIST_SYNC of the channel's active threads ("Gaining Access to Channels"). The
channel stays in the cache throughout (no CHANNEL_DELETE / CHANNEL_CREATE).

So after each of those events (:meth:`ViewWatch.changed`, called first thing in its handler: discord.py
has already applied the event to its cache, and the handlers of later events have not started —
it runs each in its own task, in gateway order) the cache says which linked channels the bot can view:

- lost: a WARNING here, and ``PermissionWatch.recheck`` tells the admins (``admin_alerts``: "I need
  View Channel in #general", log, metric, /healthz, a message through the channel's webhook). The
  time is noted;
- regained: that room's gate (``Inbound.room_gates``) closes before any later event is taken in, so
  nothing said after the regain overtakes what was said before it; ``CatchUp.channel`` reads the
  channel and its active threads after their anchors (not older than the noted loss, less the
  margin) through the normal inbound path — exactly once by the event keys — and the gate opens.

A channel already hidden when the adapter starts is noted at READY without a time (its recorded
anchors are the bound). What was said in a channel hidden while the bridge was down and back
before it started again is the start's catch-up's (``catch_up``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import discord

from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.tasks import TaskSet

from .catch_up import CatchUp
from .channel_permissions import granted_in
from .invite import VIEW_CHANNEL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hidden:
    guild_id: int
    since: float | None
    """Unix time the loss of view was seen (None: already hidden when the adapter started)."""


def can_view(channel: object) -> bool | None:
    """Whether the bot may view a cached guild channel (None: not cached, not a guild channel)."""
    granted = granted_in(channel)
    return None if granted is None else bool(granted & VIEW_CHANNEL)


class ViewWatch:
    def __init__(
        self, *, client: discord.Client, chat: Chat, catch_up: CatchUp, gates: dict[int, asyncio.Event]
    ) -> None:
        self.client = client
        self.chat = chat
        self.catch_up = catch_up
        self.gates = gates
        self.linked: dict[int, int] = {}
        """Linked Discord channel id → guild id, as last listed (``refresh``)."""
        self.hidden: dict[int, Hidden] = {}
        """Linked channels the bot cannot view, by channel id."""
        self._tasks: TaskSet[None] = TaskSet()

    def summary(self) -> list[str]:
        """For /healthz: the linked channels the bot cannot view (what is said there waits in Discord)."""
        return [ChannelRef("discord", str(h.guild_id), str(c)).key() for c, h in sorted(self.hidden.items())]

    def changed(self) -> None:
        """A permission event was applied to the cache (synchronous: call it before any await)."""
        now = time.time()
        for channel_id, guild_id in self.linked.items():
            self._check(channel_id, guild_id, now)

    async def refresh(self, *, starting: bool = False) -> None:
        """List the linked channels again and check each (``starting``: losses have no time)."""
        try:
            links = await self.chat.channels.all_links("discord")
        except Exception as err:  # Redis away: the next permission event lists them again
            log.warning("could not list the linked Discord channels to check the bot's view of them: %s", err)
            return
        self.linked = {
            int(ref.channel_id): int(ref.workspace)
            for ref in links
            if ref.workspace.isdigit() and ref.channel_id.isdigit()
        }
        for channel_id in [c for c in self.hidden if c not in self.linked]:  # unlinked meanwhile
            del self.hidden[channel_id]
        now = None if starting else time.time()
        for channel_id, guild_id in self.linked.items():
            self._check(channel_id, guild_id, now)

    def _check(self, channel_id: int, guild_id: int, now: float | None) -> None:
        viewable = can_view(self.client.get_channel(channel_id))
        if viewable is False and channel_id not in self.hidden:
            self.hidden[channel_id] = Hidden(guild_id, now)
            log.warning(
                "%s: the bot can no longer view this channel: Discord sends it nothing from there; what is said "
                "there meanwhile crosses once it can view it again",
                ChannelRef("discord", str(guild_id), str(channel_id)).key(),
            )
        elif viewable and channel_id in self.hidden:
            self._restore(channel_id, self.hidden.pop(channel_id))

    def _restore(self, channel_id: int, hidden: Hidden) -> None:
        gate = asyncio.Event()  # closed: the room's live events wait for the catch-up
        self.gates[channel_id] = gate
        self._tasks.spawn(self._catch_up(channel_id, hidden, gate), name=f"discord-view-{channel_id}")

    async def _catch_up(self, channel_id: int, hidden: Hidden, gate: asyncio.Event) -> None:
        try:
            await self.catch_up.channel(self.client, hidden.guild_id, channel_id, hidden_since=hidden.since)
        finally:
            gate.set()
            if self.gates.get(channel_id) is gate:
                del self.gates[channel_id]

    async def close(self) -> None:
        await self._tasks.cancel()
        for gate in self.gates.values():
            gate.set()
