"""Reactions added or removed in a Slack channel while the app was out of it, read back from the
messages a catch-up lists (``catch_up``).

``conversations.history`` / ``conversations.replies`` list each message with its reactions as they
stand (``reactions: [{name, users, count}]``, https://api.slack.com/methods/conversations.history;
``users`` may be cut short of ``count`` on a busy emoji). For each listed message the core knows
(the original or the bridge's copy), that is compared with the reactions the core has standing
from this channel (``keys.reactions``), and the difference goes through the live path
(``SlackReactions.on_reaction``) as the ``reaction_added`` / ``reaction_removed`` Slack would have
sent:

- a person listed under an emoji the core does not have from them: added;
- a reaction the core has from this channel that the message no longer lists: removed — only when
  Slack listed every person of that emoji (``count`` = ``len(users)``) or the emoji not at all.

The events carry ``event_ts`` = when the listing was read (the bridge's clock): the state they
describe is as of then, so by the core's "the later event wins" rule (``react.lua``) a live
reaction event made after the read (a removal the listing could not show yet, or one the core has
that the listing lacks because it came after) keeps its say, whichever is taken in first. The bridge's own reactions
(the mirror of the other side's) are left out, as live ones are.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis_async

from bridge.core.ports import ChannelRef
from bridge.core.reactions import standing
from bridge.formatting.emoji import custom_name, from_slack_reaction, unicode_to_slack
from bridge.store import keys

log = logging.getLogger(__name__)

OnReaction = Callable[[dict[str, Any], dict[str, Any]], Awaitable[None]]


def _slack_name(emoji: str) -> str | None:
    """A Slack reaction name that reads back as ``emoji`` (core form)."""
    name = custom_name(emoji) or unicode_to_slack(emoji)
    return name if name and from_slack_reaction(name) == emoji else None


async def replay(
    redis: redis_async.Redis,
    on_reaction: OnReaction,
    ref: ChannelRef,
    *,
    read_at: float,
    listed: list[dict[str, Any]],
    bot_user_id: str | None,
) -> int:
    """Take in the reactions ``listed`` messages (read at ``read_at``) gained or lost; how many."""
    at = f"{read_at:.6f}"
    here = ref.key()
    taken = 0
    for message in listed:
        ts = str(message.get("ts") or "")
        core_id = await redis.get(keys.platform_message("slack", ref.workspace, ref.channel_id, ts)) if ts else None
        if not core_id:
            continue
        raw: dict[str, str] = await redis.hgetall(keys.reactions(str(core_id)))  # type: ignore[assignment]
        have = {(r.emoji, r.user_id) for r in standing(raw) if r.channel == here}
        now: set[tuple[str, str]] = set()
        names: dict[str, str] = {}
        partial: set[str] = set()
        for entry in message.get("reactions") or []:
            name, users = str(entry.get("name") or ""), [str(u) for u in entry.get("users") or []]
            emoji = from_slack_reaction(name)
            names[emoji] = name
            if int(entry.get("count") or len(users)) > len(users):
                partial.add(emoji)  # Slack cut the list short: who took theirs back is unknown
            now |= {(emoji, u) for u in users if u != bot_user_id}
        changes = [("reaction_added", e, u, names[e]) for e, u in sorted(now - have)]
        for emoji, user in sorted(have - now):
            gone = names.get(emoji) or _slack_name(emoji)
            if emoji not in partial and gone:
                changes.append(("reaction_removed", emoji, user, gone))
        for kind, _, user, name in changes:
            event = {
                "type": kind, "user": user, "reaction": name, "event_ts": at,
                "item": {"type": "message", "channel": ref.channel_id, "ts": ts},
            }  # fmt: skip
            await on_reaction({"team_id": ref.workspace}, event)
            taken += 1
    if taken:
        log.info("slack: channel %s: %d reaction change(s) made while the app was out taken in", ref.channel_id, taken)
    return taken
