"""Reactions on core messages: who reacted with what, on which platform, and what each copy needs.

The core keeps **state, not counts** (``keys.reactions``): one field per (emoji, channel the person
reacted in, person), holding whether their reaction stands and the time of the last event about it.
Counts and "who reacted" are read from it; the mirror never sends an add or a remove as such.

Delivery is state-based (``bridge.mirror.reaction_sync``): every change appends a ``reaction`` room
event to the mirror log, and the worker then *reconciles* each copy of the message: the bot's
reaction with emoji E should stand on the copy in channel D exactly when someone who is not in D
has a standing reaction E (:func:`wanted`). The lane compares that with what it applied there
(``keys.reactions_applied``) and makes only the calls that close the difference.

Why this never ends in the wrong state under retries and reordering:

* each person's reaction is one field, written by ``react.lua`` only if the event is not older
  than the last one recorded for it — so a late Slack retry of an add that was since removed is
  ignored, and a duplicate changes nothing (no room event, no call);
* a reconcile reads the *current* state when it runs, not the event that woke it, so any number
  of stale, repeated or reordered jobs converge: the last job a copy's lane handles runs after the
  last change, and outbox jobs run in order per destination;
* the platform calls are idempotent (Discord's PUT/DELETE of the bot's reaction; Slack's
  ``already_reacted`` / ``no_reaction`` count as done), and the applied record is written after
  the call, so a crash between the two only repeats a harmless call.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from bridge import metrics
from bridge.core.channels import Channels
from bridge.core.context import CoreContext
from bridge.core.ports import ChannelRef, IngestResult, ReactionEvent
from bridge.core.users import Users
from bridge.store import keys
from bridge.store.scripts import run

log = logging.getLogger(__name__)
SEP = "\t"


@dataclass(frozen=True)
class Reactor:
    """A standing reaction: ``emoji`` (core form) by ``username`` in ``channel`` (a channel key)."""

    emoji: str
    channel: str
    user_id: str
    username: str

    @property
    def platform(self) -> str:
        return self.channel.split(":", 1)[0]


@dataclass(frozen=True)
class EmojiSummary:
    emoji: str
    count: int
    by_platform: dict[str, list[str]]
    """Platform -> usernames, in the order they reacted."""


def field_of(emoji: str, channel_key: str, user_id: str) -> str:
    return SEP.join((emoji, channel_key, user_id))


def standing(raw: dict[str, str]) -> list[Reactor]:
    """The reactions that stand, from a ``keys.reactions`` hash, oldest first."""
    found: list[tuple[float, Reactor]] = []
    for field, value in raw.items():
        parts = field.split(SEP)
        if len(parts) != 3 or not value.startswith("+"):
            continue
        at_text, _, username = value[1:].partition(SEP)
        try:
            at = float(at_text)
        except ValueError:
            at = 0.0
        found.append((at, Reactor(parts[0], parts[1], parts[2], username)))
    found.sort(key=lambda item: item[0])
    return [reactor for _, reactor in found]


def wanted(reactors: list[Reactor], destination: str) -> list[str]:
    """The emoji whose bot reaction should stand on the copy in ``destination``: those someone
    outside that channel reacted with (in the order they first did)."""
    return list(dict.fromkeys(r.emoji for r in reactors if r.channel != destination))


def summarize(reactors: list[Reactor]) -> list[EmojiSummary]:
    by_emoji: dict[str, dict[str, list[str]]] = {}
    for r in reactors:
        names = by_emoji.setdefault(r.emoji, {}).setdefault(r.platform, [])
        if r.username not in names:
            names.append(r.username)
    return [
        EmojiSummary(emoji, sum(len(v) for v in platforms.values()), platforms) for emoji, platforms in by_emoji.items()
    ]


class Reactions:
    def __init__(self, ctx: CoreContext, channels: Channels, users: Users) -> None:
        self.ctx = ctx
        self.channels = channels
        self.users = users

    async def record(self, event: ReactionEvent) -> IngestResult:
        """Record a reaction event once; reactions in unlinked channels, on messages from before
        the link or on copies the id map does not know are ignored (DEBUG line, counted)."""
        ref = event.channel
        channel = await self.channels.route(ref)
        if channel is None:
            return self._ignored(event, "unlinked", None)
        core_id = await self.core_id_of(ref, event.message_id)
        if core_id is None:
            return self._ignored(event, "unknown_message", channel)
        username = await self.users.resolve(event.user)
        log_key, maxlen = self.ctx.log_args(channel)
        status, *_ = await run(
            self.ctx.scripts.react,
            keys.reactions(core_id),
            field_of(event.emoji, ref.key(), event.user.user_id),
            "+" if event.kind == "add" else "-",
            repr(float(event.at or time.time())),
            username,
            keys.message(core_id),
            log_key,
            maxlen,
            channel,
            core_id,
        )
        if status == "no_message":
            return self._ignored(event, "message_gone", channel)
        if status == "stale":
            log.debug(
                "reaction %s %s on %s by %s: older than the last one recorded",
                event.kind,
                event.emoji,
                core_id,
                username,
            )
        return IngestResult("recorded" if status == "changed" else "duplicate", core_id, channel)

    @staticmethod
    def _ignored(event: ReactionEvent, reason: str, channel: str | None) -> IngestResult:
        metrics.inbound_event(event.channel.platform, f"reaction_ignored_{reason}")
        log.debug(
            "reaction %s %s on %s in %s ignored: %s",
            event.kind,
            event.emoji,
            event.message_id,
            event.channel.key(),
            reason.replace("_", " "),
        )
        return IngestResult("ignored", channel=channel, reason=reason)

    async def core_id_of(self, ref: ChannelRef, message_id: str) -> str | None:
        """The core message a platform message is (the original or a mirrored copy), if known."""
        pkey = keys.platform_message(ref.platform, ref.workspace, ref.channel_id, message_id)
        found: str | None = await self.ctx.redis.get(pkey)
        return found

    async def of(self, core_id: str) -> list[EmojiSummary]:
        raw: dict[str, str] = await self.ctx.redis.hgetall(keys.reactions(core_id))
        return summarize(standing(raw))

    async def standing(self, core_id: str) -> list[Reactor]:
        raw: dict[str, str] = await self.ctx.redis.hgetall(keys.reactions(core_id))
        return standing(raw)
