"""Slack's thread rules, as the emulator applies them.

Sources: the Slack docs ("Threading messages": ``thread_ts`` is always the parent's ts, there are no
nested threads; ``reply_broadcast`` makes a ``thread_broadcast`` that shows in the thread and in the
channel; a reply changes its parent: ``message_changed`` with ``reply_count``, ``reply_users``,
``latest_reply``), python-slack-sdk issue 840 (``chat.postMessage`` with a ``thread_ts`` that matches
no parent answers ``ok: true`` and the message is shown nowhere; a malformed one is
``invalid_thread_ts``), and captured payloads of a deleted parent with replies: ``message_changed``
whose ``message`` is ``subtype: tombstone``, ``user: USLACKBOT``, ``text: "This message was deleted."``,
``hidden: true`` (the thread stays); when its last reply goes, the tombstone itself is deleted
(``message_deleted``).

Assumed where only a live check could settle it: a ``thread_ts`` naming a *reply* (not a parent)
is treated like one naming nothing (``ok: true``, shown nowhere), so a bridge that ever sends a
reply's ts fails its tests instead of passing by luck.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bridge.emulators.slack import payloads
from bridge.emulators.slack.state import SlackMessage

if TYPE_CHECKING:
    from bridge.emulators.slack.message_ops import MessageOps

TS = re.compile(r"\d{1,12}\.\d{1,6}")
TOMBSTONE_USER = "USLACKBOT"
TOMBSTONE_TEXT = "This message was deleted."


def valid_ts(value: str) -> bool:
    return bool(TS.fullmatch(value))


def is_root(msg: SlackMessage) -> bool:
    """A channel-level message (a thread parent or a plain message), not a reply."""
    return not msg.thread_ts or msg.thread_ts == msg.ts


def is_tombstone(msg: SlackMessage) -> bool:
    return msg.subtype == "tombstone"


def parent(ops: MessageOps, channel: str, thread_ts: str) -> SlackMessage | None:
    """The parent a reply with ``thread_ts`` goes under (a tombstone keeps its thread), or None."""
    found = next((m for m in ops.messages.get(channel, []) if m.ts == thread_ts and not m.deleted), None)
    if found is None or found.hidden or not is_root(found):
        return None
    return found


def replies(ops: MessageOps, channel: str, root_ts: str) -> list[SlackMessage]:
    """The live replies of a thread, oldest first."""
    return [
        m
        for m in ops.messages.get(channel, [])
        if m.thread_ts == root_ts and m.ts != root_ts and not m.deleted and not m.hidden
    ]


def refresh_parent(ops: MessageOps, root: SlackMessage) -> None:
    """Recount a parent's thread metadata and send its ``message_changed`` (``hidden``: only the
    metadata changed), as Slack does when a reply arrives or goes."""
    previous = root.to_api()
    live = replies(ops, root.channel, root.ts)
    root.thread_ts = root.ts
    root.reply_count = len(live)
    root.reply_users = list(dict.fromkeys(m.user or m.bot_id or "" for m in live))
    root.latest_reply = live[-1].ts if live else None
    channel = ops.workspace.channels[root.channel]
    ops.emit(payloads.message_changed_event(root, previous, channel, event_ts=ops.clock.next()), channel=channel)


def bury(ops: MessageOps, root: SlackMessage) -> None:
    """Deleting a parent that has replies: it becomes a tombstone; the thread stays."""
    previous = root.to_api()
    root.subtype = "tombstone"
    root.text = TOMBSTONE_TEXT
    root.user = TOMBSTONE_USER
    root.bot_id = root.app_id = root.username = root.icon_url = None
    root.blocks = None
    root.edited = None
    channel = ops.workspace.channels[root.channel]
    ops.emit(payloads.message_changed_event(root, previous, channel, event_ts=ops.clock.next()), channel=channel)


def after_reply_removed(ops: MessageOps, reply: SlackMessage) -> None:
    """A reply went: its parent is recounted; a tombstone parent left without replies is deleted."""
    if not reply.thread_ts:
        return
    root = parent(ops, reply.channel, reply.thread_ts)
    if root is None:
        return
    if is_tombstone(root) and not replies(ops, root.channel, root.ts):
        previous = root.to_api()
        root.deleted = True
        channel = ops.workspace.channels[root.channel]
        ops.emit(payloads.message_deleted_event(root, previous, channel, event_ts=ops.clock.next()), channel=channel)
        return
    refresh_parent(ops, root)


def in_channel(msg: SlackMessage) -> bool:
    """What ``conversations.history`` lists: parents and plain messages, and broadcast replies."""
    return is_root(msg) or msg.subtype == "thread_broadcast"
