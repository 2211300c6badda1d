"""Backfill: a platform channel's earlier messages recorded in its linked core channel, so history
and search cover what was said before the link (or during an outage the gateway could not replay).

Adapters fetch (Discord channel history, Slack ``conversations.history`` with replies) and hand the
messages over as :class:`HistoryMessage` (an :class:`InboundEvent` plus its original time); this
module is platform-neutral. Guarantees:

- attributed: each author is resolved as a live message's would be (auto users included);
- in order: oldest first, with their original ``ts``; replies and thread replies point at their
  parents when those were recorded (before, or earlier in the same backfill);
- deduplicated by platform id: a message whose ``cb:pmsg:*`` is known (recorded live, or by an
  earlier backfill) writes nothing, so a backfill is safe to repeat and to overlap live traffic;
- never mirrored: the platform channel saw them when they were new, and a room's other channels
  get no flood of old messages (no mirror-log entry, see ``BulkPost.mirror``);
- progress reported per batch for large N.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bridge.core.messages import BULK_BATCH, BulkPost, PostOptions, PostResult
from bridge.core.ports import ChannelRef, HistoryMessage
from bridge.errors import NotFound, UserError
from bridge.store import keys

if TYPE_CHECKING:
    from bridge.core.chat import Chat


@dataclass
class BackfillResult:
    recorded: int = 0
    duplicates: int = 0
    refused: list[str] = field(default_factory=list)
    """``<platform message id>: <why>`` for messages that could not be recorded."""


async def backfill(
    chat: Chat,
    ref: ChannelRef,
    history: Sequence[HistoryMessage],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> BackfillResult:
    channel = await chat.channels.route(ref)
    if channel is None:
        raise NotFound(f"{ref.key()} is not linked to a chatbridge channel; `link` it first.")
    result = BackfillResult()
    items = sorted((h for h in history if h.event.kind == "message"), key=lambda h: (h.ts_ms, h.event.message_id))
    authors: dict[tuple[str, str, str], str] = {}
    pending: list[tuple[str, BulkPost]] = []
    in_batch: set[str] = set()
    known: dict[str, str] = {}
    """Platform id -> core id ("" when unknown) of what this run recorded or looked up: most replies
    point at a message recorded just before, so most lookups cost no round trip."""

    async def flush() -> None:
        posted = await chat.messages.post_many([p for _, p in pending])
        for (pid, _), r in zip(pending, posted, strict=True):
            _count(result, pid, r)
            if r.id:
                known[pid] = r.id
        pending.clear()
        in_batch.clear()
        if progress is not None:
            progress(result.recorded + result.duplicates + len(result.refused), len(items))

    for item in items:
        ev = item.event
        if ev.author is None:
            result.refused.append(f"{ev.message_id}: no author")
            continue
        who = (ev.author.platform, ev.author.workspace, ev.author.user_id)
        if who not in authors:
            try:
                authors[who] = await chat.users.resolve(ev.author)
            except UserError as err:
                result.refused.append(f"{ev.message_id}: {err}")
                continue
        root = ev.thread if ev.thread != ev.message_id else None
        # a parent waiting in this batch has no core id yet: the script reads it by its id map key
        # once written (PostOptions.parent_keys), so a thread does not cut the batch short
        waiting = tuple(_key(ref, p) if p and p in in_batch else "" for p in (ev.reply_to, root))
        opts = PostOptions(
            origin=ref.platform,
            origin_channel=ref.key(),
            platform_key=_key(ref, ev.message_id),
            origin_message_id=ev.message_id,
            reply_to="" if waiting[0] else await _core_id(chat, ref, ev.reply_to, known),
            files=ev.attachments,
            thread="" if waiting[1] else await _core_id(chat, ref, root, known),
            broadcast=ev.broadcast,
            parent_keys=(waiting[0], waiting[1]),
        )
        pending.append((ev.message_id, BulkPost(channel, authors[who], ev.text, item.ts_ms, opts, mirror=False)))
        in_batch.add(ev.message_id)
        if len(pending) >= BULK_BATCH:
            await flush()
    if pending:
        await flush()
    return result


def _count(result: BackfillResult, platform_id: str, posted: PostResult) -> None:
    if posted.error:
        result.refused.append(f"{platform_id}: {posted.error}")
    elif posted.duplicate:
        result.duplicates += 1
    else:
        result.recorded += 1


def _key(ref: ChannelRef, platform_id: str) -> str:
    return keys.platform_message(ref.platform, ref.workspace, ref.channel_id, platform_id)


async def _core_id(chat: Chat, ref: ChannelRef, platform_id: str | None, known: dict[str, str]) -> str:
    if not platform_id:
        return ""
    if platform_id not in known:
        found: str | None = await chat.ctx.redis.get(_key(ref, platform_id))
        known[platform_id] = found or ""
    return known[platform_id]
