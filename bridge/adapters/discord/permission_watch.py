"""The bot's permissions in linked channels: checked at ``link``, re-checked when Discord says they
changed, and a refused call (403, codes 50001 Missing Access / 50013 Missing Permissions) turned into
a held destination with the missing permission named for an admin (``admin_alerts``).

What is needed is in ``channel_permissions``; the computation is discord.py's ``permissions_for``
on its cache (CHANNEL_UPDATE carries a channel's overwrites, GUILD_ROLE_UPDATE a role's
permissions). When the cache does not explain a 403 (it lags behind), the problem says what
Discord refused instead.
"""

from __future__ import annotations

import logging

import discord

from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.errors import DeliveryError

from .admin_alerts import AdminAlerts, Problem
from .channel_permissions import fix_hint, granted_in, missing, sentence

log = logging.getLogger(__name__)
MISSING_ACCESS, MISSING_PERMISSIONS = 50001, 50013
"""topics/opcodes-and-status-codes.mdx, JSON error codes (HTTP 403)."""
KIND = "missing_permissions"


def is_refusal(err: BaseException) -> bool:
    """A 403 that an admin's fix (a permission) ends."""
    return isinstance(err, discord.HTTPException) and err.status == 403 and err.code in (
        MISSING_ACCESS, MISSING_PERMISSIONS)  # fmt: skip


class PermissionWatch:
    def __init__(self, *, client: discord.Client, chat: Chat, alerts: AdminAlerts) -> None:
        self.client = client
        self.chat = chat
        self.alerts = alerts

    def lacking(self, channel_id: int) -> tuple[str, list[str]] | None:
        """(channel name, REQUIRED permissions the bot lacks there) from the cache; None: unknown."""
        channel = self.client.get_channel(channel_id)
        granted = granted_in(channel)
        if granted is None:
            return None
        return str(getattr(channel, "name", channel_id)), missing(granted)

    async def link_problem(self, ref: ChannelRef) -> str | None:
        """``Chat.link_checks["discord"]``: why this channel cannot be linked yet (None: it can)."""
        if self.client.get_channel(int(ref.channel_id)) is None:
            try:
                await self.client.fetch_channel(int(ref.channel_id))
            except discord.Forbidden:
                return f"I need View Channel in <#{ref.channel_id}> — {fix_hint()}."
            except (discord.HTTPException, ValueError):
                return None  # unknown here: the link is the admin's call (e.g. given from the CLI)
        found = self.lacking(int(ref.channel_id))
        if found is None or not found[1]:
            return None
        name, names = found
        return f"{sentence(name, names)} — {fix_hint()}."

    async def refused(self, ref: ChannelRef, err: DeliveryError) -> DeliveryError:
        """A held delivery: the admins are told what is missing; the lane retries with backoff."""
        found = self.lacking(int(ref.channel_id))
        if found is not None and found[1]:
            text = sentence(*found)
        else:  # the cache does not say why: what Discord refused
            name = found[0] if found is not None else ref.channel_id
            text = f"Discord refuses the bot in #{name} ({err})"
        await self.alerts.raise_problem(ref, Problem(KIND, text, fix_hint()))
        return DeliveryError(f"{text} ({err})", needs_admin=True)

    def worked(self, ref: ChannelRef) -> None:
        """A call in the channel succeeded: whatever was held there is fixed."""
        if self.alerts.is_open(ref):
            self.alerts.clear(ref)

    async def recheck(self, guild_id: int) -> None:
        """Discord said permissions changed in a guild: every linked channel there is checked again."""
        try:
            linked = await self.chat.channels.all_links("discord")
        except Exception as err:  # Redis away: the next change or delivery checks again
            log.warning("could not list the linked Discord channels to re-check permissions: %s", err)
            return
        for ref in linked:
            if ref.workspace != str(guild_id):
                continue
            found = self.lacking(int(ref.channel_id))
            if found is None:
                continue
            if found[1]:
                await self.alerts.raise_problem(ref, Problem(KIND, sentence(*found), fix_hint()))
            else:
                self.alerts.clear(ref, KIND)
