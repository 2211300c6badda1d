"""What people post besides text, built the way Discord sends it (discord-api-docs
resources/message.mdx): attachments of a person's upload, stickers (``sticker_items``), forwards
(``message_reference.type`` 1 with the original in ``message_snapshots[0].message``, a "minimal
subset of fields": type, content, embeds, attachments, timestamp, edited_timestamp, flags, mentions,
mention_roles, sticker_items, components; ``flags`` HAS_SNAPSHOT 1 << 14; empty ``content``),
another bot's rich embeds, polls (resources/poll.mdx: ``question.text``, ``answers[].poll_media``)
and voice messages (flag IS_VOICE_MESSAGE 1 << 13, one ``audio/ogg`` attachment with
``duration_secs`` and ``waveform``).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from .service import Backend
from .state import Channel, User

HAS_SNAPSHOT = 1 << 14
IS_VOICE_MESSAGE = 1 << 13
SNAPSHOT_FIELDS = (
    "type", "content", "embeds", "attachments", "timestamp", "edited_timestamp", "flags", "mentions",
    "mention_roles", "sticker_items", "components",
)  # fmt: skip


async def upload(backend: Backend, channel: Channel, files: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """Attachments of a person's upload (stored on the CDN at signed URLs)."""
    out = []
    for name, data in files:
        blob = await backend.blobs.put(data)
        out.append(
            backend.cdn.add(attachment_id=backend.world.ids.next(), channel_id=channel.id, filename=name, blob=blob)
        )
    return out


def snapshot(message: dict[str, Any]) -> dict[str, Any]:
    """``message_snapshots[0]`` of a forward of ``message`` (immutable copy: later edits do not show)."""
    return {"message": {k: copy.deepcopy(message.get(k)) for k in SNAPSHOT_FIELDS if k in message}}


def forward_reference(channel: Channel, message_id: str) -> dict[str, Any]:
    ref = {"type": 1, "message_id": message_id, "channel_id": channel.id}
    if channel.guild_id is not None:
        ref["guild_id"] = channel.guild_id
    return ref


def poll(question: str, answers: list[str]) -> dict[str, Any]:
    return {
        "question": {"text": question},
        "answers": [{"answer_id": i + 1, "poll_media": {"text": a}} for i, a in enumerate(answers)],
        "expiry": (datetime.now(UTC) + timedelta(hours=24)).isoformat(),  # poll.mdx: default duration 24 h
        "allow_multiselect": False,
        "layout_type": 1,
        "results": {"is_finalized": False, "answer_counts": []},
    }


def foreign_bot(backend: Backend, name: str) -> User:
    """Another application's bot user in the guild (its posts are not the bridge's own)."""
    for user in backend.world.users.values():
        if user.bot and user.username == name:
            return user
    user = User(backend.world.ids.next(), name, bot=True)
    backend.world.users[user.id] = user
    return user
