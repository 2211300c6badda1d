"""``conversations.history`` and ``conversations.replies`` with Slack's cursor pagination.

Sources: https://api.slack.com/methods/conversations.history and
https://api.slack.com/methods/conversations.replies (arguments ``cursor``, ``limit``, ``latest``,
``oldest``, ``inclusive``; history is newest first, "Maximum of 999" per call, default 100; replies
list the parent first, then its replies oldest first, default and maximum 1000; both answer
``has_more``; error ``invalid_cursor``; replies answer ``thread_not_found``), and
https://api.slack.com/docs/pagination ("Cursor-based pagination": pass ``response_metadata.next_cursor``
back as ``cursor`` with the same ``limit``; "an empty, null, or non-existent next_cursor" means no
more results; fewer than ``limit`` items may come back). The cursor is opaque; the emulator makes
it the way Slack's own example cursors decode (``bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz`` is base64 of
``next_ts:1512085861000543``): base64 of ``next_ts:<ts of the next item, digits only>``.

Assumed where the docs do not say: a continuation page of ``conversations.replies`` starts with the
parent again (as its first page does), and the parent is not counted in ``limit`` after the first
page. A client that keeps only messages whose ``ts`` differs from the parent's is right either way.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bridge.emulators.slack.state import SlackMessage
from bridge.emulators.slack.threads import in_channel

if TYPE_CHECKING:
    from bridge.emulators.slack.server import SlackEmulator

HISTORY_LIMIT = (100, 999)
"""conversations.history ``limit``: (default, maximum)."""
REPLIES_LIMIT = (1000, 1000)


class PageError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _micros(ts: str) -> int:
    whole, _, frac = ts.partition(".")
    return int(whole) * 1_000_000 + int((frac + "000000")[:6])


def encode_cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{_micros(ts)}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The micro-timestamp a cursor resumes at (inclusive); ``invalid_cursor`` for anything else."""
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise PageError("invalid_cursor") from None
    kind, _, value = text.partition(":")
    if kind != "next_ts" or not value.isdigit():
        raise PageError("invalid_cursor")
    return int(value)


def _limit(args: dict[str, Any], bounds: tuple[int, int]) -> int:
    raw = args.get("limit")
    if raw in (None, ""):
        return bounds[0]
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise PageError("invalid_arguments") from None
    # Slack serves at most the maximum whatever is asked; 0 or less reads as the default
    return bounds[0] if value < 1 else min(value, bounds[1])


def _bound(args: dict[str, Any], name: str) -> int | None:
    raw = args.get(name)
    if raw in (None, ""):
        return None
    try:
        return _micros(f"{float(raw):.6f}")
    except (TypeError, ValueError):
        raise PageError("invalid_arguments") from None


def _window(args: dict[str, Any], msgs: Sequence[SlackMessage]) -> list[SlackMessage]:
    """``oldest`` / ``latest`` (exclusive unless ``inclusive``)."""
    oldest, latest = _bound(args, "oldest"), _bound(args, "latest")
    inclusive = str(args.get("inclusive", "")).lower() in ("1", "true")
    out = []
    for m in msgs:
        at = _micros(m.ts)
        if oldest is not None and (at < oldest or (at == oldest and not inclusive)):
            continue
        if latest is not None and (at > latest or (at == latest and not inclusive)):
            continue
        out.append(m)
    return out


def _page(items: list[SlackMessage], args: dict[str, Any], limit: int, *, newest_first: bool) -> dict[str, Any]:
    cursor = args.get("cursor")
    if cursor:
        resume = decode_cursor(str(cursor))
        items = [m for m in items if (_micros(m.ts) <= resume if newest_first else _micros(m.ts) >= resume)]
    page, rest = items[:limit], items[limit:]
    return {
        "messages": page,
        "has_more": bool(rest),
        "response_metadata": {"next_cursor": encode_cursor(rest[0].ts) if rest else ""},
    }


def history_page(emu: SlackEmulator, channel_id: str, args: dict[str, Any]) -> dict[str, Any]:
    limit = _limit(args, HISTORY_LIMIT)
    listed = [m for m in emu.history(channel_id) if in_channel(m)]
    newest_first = sorted(_window(args, listed), key=lambda m: _micros(m.ts), reverse=True)
    return _page(newest_first, args, limit, newest_first=True)


def replies_page(emu: SlackEmulator, channel_id: str, ts: str, args: dict[str, Any]) -> dict[str, Any]:
    limit = _limit(args, REPLIES_LIMIT)
    thread = emu.thread(channel_id, ts)
    if not thread:
        raise PageError("thread_not_found")
    parent, replies = thread[0], _window(args, thread[1:])
    if not args.get("cursor"):
        out = _page([parent, *replies], args, limit, newest_first=False)
    else:
        out = _page(replies, args, limit, newest_first=False)
        out["messages"] = [parent, *out["messages"]]
    return out
