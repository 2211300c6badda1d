"""Exactly once across crashes on Slack: every part the bridge posts carries message metadata
naming the core entry and the part, and a delivery that may already have landed is reconciled
against the channel's (or the thread's) recent history before anything is resent.

Slack's message metadata: ``chat.postMessage`` takes ``metadata`` = ``{"event_type",
"event_payload"}`` and ``conversations.history`` / ``conversations.replies`` return it when called
with ``include_all_metadata=true`` (docs.slack.dev/messaging/message-metadata; the
``include_all_metadata`` argument of conversations.history). Metadata is invisible to people.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

EVENT_TYPE = "chatbridge_mirror"
LOOKBACK_S = 300.0
"""History is read from this long before the first attempt (clock skew between us and Slack)."""
HISTORY_LIMIT = 200

Call = Callable[..., Awaitable[dict[str, Any]]]


def part_metadata(core_id: str, part: int) -> dict[str, Any]:
    return {"event_type": EVENT_TYPE, "event_payload": {"core": core_id, "part": part}}


async def posted_parts(
    call: Call, channel_id: str, core_id: str, *, thread_ts: str | None, since_ms: int
) -> dict[int, str]:
    """part -> ts of every part of ``core_id`` this app posted in the channel (or thread) since
    ``since_ms`` (less the lookback). ``call`` is the destination's Web API caller (its errors are
    DeliveryErrors: a failed lookup sends nothing)."""
    oldest = f"{max(0.0, since_ms / 1000 - LOOKBACK_S):.6f}"
    args: dict[str, Any] = {"channel": channel_id, "include_all_metadata": True, "limit": HISTORY_LIMIT}
    if thread_ts:
        data = await call("conversations_replies", ts=thread_ts, oldest=oldest, **args)
    else:
        data = await call("conversations_history", oldest=oldest, **args)
    found: dict[int, str] = {}
    for message in data.get("messages") or []:
        meta = message.get("metadata") or {}
        payload = meta.get("event_payload") or {}
        if meta.get("event_type") == EVENT_TYPE and str(payload.get("core")) == core_id:
            try:
                found[int(payload.get("part", -1))] = str(message["ts"])
            except (TypeError, ValueError, KeyError):
                continue
    return found


def leading(found: dict[int, str]) -> list[str]:
    """The parts present from the first one on, without a gap (parts are posted in order)."""
    out: list[str] = []
    while len(out) in found:
        out.append(found[len(out)])
    return out
