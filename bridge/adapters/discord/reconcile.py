"""Exactly once across crashes on Discord: before resending a delivery that may already have
landed, look among the channel's recent messages for the parts the bridge's webhook posted.

Webhook executes run with ``wait=true``, so a completed call returns the message and the worker
records its id; what a crash can leave behind is a message Discord shows whose id nobody recorded.
Discord has no message metadata, so the fingerprint of a part is: posted by this channel's webhook
(``webhook_id``, discord-api-docs resources/webhook.md), with the author name the bridge set
(``author.username``), with exactly the part's content, no earlier than the first attempt
(``timestamp``; less ``SKEW_S``), and not already known to the core (a recorded copy or an inbound
message). Parts are matched in order, oldest first; only the parts provably absent are resent.
The recent messages come from Get Channel Messages (resources/message.md, ``limit`` ≤ 100; needs
Read Message History).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import discord

from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef

from .webhooks import WebhookStore

SKEW_S = 2.0
"""Clock difference tolerated between this host and Discord's timestamps."""
RECENT = 100


def _ms(message: dict[str, Any]) -> float:
    try:
        return datetime.fromisoformat(str(message.get("timestamp"))).timestamp() * 1000
    except ValueError:
        return float("inf")  # no usable time: do not exclude it on time alone


async def posted_parts(
    client: discord.Client,
    chat: Chat,
    webhooks: WebhookStore,
    channel: ChannelRef,
    *,
    parts: list[str],
    username: str,
    since_ms: int,
) -> list[str]:
    """Ids of the leading ``parts`` already shown in ``channel`` by an attempt that died."""
    raw: list[Any] = list(await client.http.logs_from(int(channel.channel_id), RECENT))
    oldest_first = sorted(raw, key=lambda m: int(m["id"]))
    candidates = []
    for message in oldest_first:
        hook = message.get("webhook_id")
        author = (message.get("author") or {}).get("username")
        if not hook or author != username or _ms(message) < since_ms - SKEW_S * 1000:
            continue
        if await webhooks.is_own(channel.channel_id, str(hook)):
            candidates.append(message)
    known = await chat.mapped(channel, [str(m["id"]) for m in candidates])
    found: list[str] = []
    for message in candidates:
        if len(found) < len(parts) and str(message["id"]) not in known and message.get("content") == parts[len(found)]:
            found.append(str(message["id"]))
    return found
