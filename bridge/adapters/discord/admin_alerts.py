"""Problems in a linked Discord channel that only a server admin can fix, told where they are seen.

A missing permission (``channel_permissions``) or a channel with 15 webhooks (``webhooks``) holds
that channel's deliveries (``DeliveryError(needs_admin=True)``: retried with backoff, never dead-lettered;
the other rooms go on). Each problem, once, when it appears:

- a WARNING log line naming the channel, what is missing and how to fix it;
- the gauge ``chatbridge_needs_admin{platform, channel, problem}`` = 1 (0 once fixed);
- ``/healthz``: the Discord part's ``info.needs_admin`` lists it (the part stays ok: the gateway
  is up and the other channels mirror);
- a message where an admin sees it: in the channel itself through the bridge's webhook (executing
  a webhook needs no permission of the bot), else a DM to the server's owner.

When the channel works again (a delivery succeeds, or the permission check passes after Discord
said permissions changed) the problem is cleared: logged at INFO and the gauge goes to 0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bridge import metrics
from bridge.core.ports import ChannelRef

if TYPE_CHECKING:
    from .webhooks import WebhookStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    kind: str
    """``missing_permissions`` or ``webhook_limit`` (the metric's ``problem`` label)."""
    text: str
    fix: str


class AdminAlerts:
    def __init__(self, *, client: discord.Client, webhooks: WebhookStore, name: str = "chatbridge") -> None:
        self.client = client
        self.webhooks = webhooks
        self.name = name
        self.open: dict[tuple[str, str], Problem] = {}
        """(channel key, kind) → the problem as last told."""
        self.told = 0
        """Messages sent to admins (tests, metrics)."""

    def summary(self) -> list[str]:
        """For /healthz: one line per open problem."""
        return [f"{key}: {p.text} — {p.fix}" for (key, _), p in sorted(self.open.items())]

    async def raise_problem(self, ref: ChannelRef, problem: Problem) -> None:
        """Report ``problem`` for ``ref`` unless it was already reported in these words."""
        slot = (ref.key(), problem.kind)
        if self.open.get(slot) == problem:
            return
        self.open[slot] = problem
        log.warning("%s: %s — %s; its messages wait and cross once it is fixed", ref.key(), problem.text, problem.fix)
        metrics.NEEDS_ADMIN.labels(platform="discord", channel=_label(ref), problem=problem.kind).set(1)
        await self._tell(ref, f"⚠️ {problem.text}: {problem.fix}. Mirrored messages wait and cross once it is fixed.")

    def clear(self, ref: ChannelRef, kind: str | None = None) -> None:
        """The channel works again: its open problems (of ``kind``, or all) are closed."""
        for slot in [s for s in self.open if s[0] == ref.key() and kind in (None, s[1])]:
            problem = self.open.pop(slot)
            log.info("%s: fixed: %s", ref.key(), problem.text)
            metrics.NEEDS_ADMIN.labels(platform="discord", channel=_label(ref), problem=problem.kind).set(0)

    def is_open(self, ref: ChannelRef) -> bool:
        return any(key == ref.key() for key, _ in self.open)

    async def _tell(self, ref: ChannelRef, text: str) -> None:
        """In the channel through its webhook (no bot permission needed), else a DM to the owner."""
        ids = await self.webhooks.known(ref.channel_id)
        if ids is not None:
            try:
                hook = discord.Webhook.partial(int(ids[0]), ids[1], client=self.client)
                await hook.send(text, username=self.name, allowed_mentions=discord.AllowedMentions.none(), wait=True)
                self.told += 1
                return
            except discord.HTTPException as err:
                log.info("could not tell the admins in %s through the webhook: %s", ref.key(), err)
        guild = self.client.get_guild(int(ref.workspace))
        owner_id = guild.owner_id if guild is not None else None
        if owner_id is None:
            log.warning("%s: no way to tell an admin (no webhook, guild not cached): see the log", ref.key())
            return
        try:
            owner = self.client.get_user(owner_id) or await self.client.fetch_user(owner_id)
            dm = await owner.create_dm()
            await dm.send(text, allowed_mentions=discord.AllowedMentions.none())
            self.told += 1
        except discord.HTTPException as err:
            log.warning("%s: could not DM the server owner %s: %s", ref.key(), owner_id, err)


def _label(ref: ChannelRef) -> str:
    return f"{ref.workspace}:{ref.channel_id}"
