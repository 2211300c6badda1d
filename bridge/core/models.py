"""Core records, as read back from Redis."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bridge.core.ports import attachments_from_json
from bridge.store.keys import stream_ms


@dataclass(frozen=True)
class Message:
    """A channel stream entry joined with its ``message:<id>`` hash (for ``type`` = message)."""

    id: str
    channel: str
    kind: str
    username: str
    text: str = ""
    ts: int = 0
    origin: str = ""
    reply_to: str = ""
    edited_ts: int = 0
    target: str = ""
    """For ``edit`` / ``delete`` events: the id of the message they change."""
    files: list[dict[str, Any]] = field(default_factory=list)
    """Attachments: name, size, content_type, url, origin, permalink (``files`` JSON of the hash)."""
    thread: str = ""
    """The id of the thread root this message is in (a root with replies has its own id here)."""
    replies: int = 0
    """How many replies a thread root has."""
    broadcast: bool = False
    """A thread reply also shown in the channel (Slack's "also send to channel")."""

    @property
    def in_thread(self) -> bool:
        """A reply in a thread (not its root)."""
        return bool(self.thread) and self.thread != self.id

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_entry(cls, channel: str, entry_id: str, entry: dict[str, str], body: dict[str, str]) -> Message:
        """Build from a stream entry and (for messages) its hash; data written by the guide's raw
        commands has only ``type message`` in the entry and no ``ts`` in the hash."""
        kind = entry.get("type", "message")
        ts = body.get("ts") or ""
        return cls(
            id=entry_id,
            channel=body.get("channel") or channel,
            kind=kind,
            username=body.get("username") or entry.get("username", ""),
            text=body.get("message", ""),
            ts=int(ts) if ts.isdigit() else stream_ms(entry_id),
            origin=body.get("origin", ""),
            reply_to=body.get("reply_to", ""),
            edited_ts=int(body.get("edited_ts") or 0),
            target=entry.get("id", ""),
            files=[f.as_json() for f in attachments_from_json(body.get("files"))],
            thread=body.get("thread", ""),
            replies=int(body.get("replies") or 0) if (body.get("replies") or "0").lstrip("-").isdigit() else 0,
            broadcast=body.get("broadcast") == "1",
        )


@dataclass(frozen=True)
class Profile:
    username: str
    firstname: str = ""
    lastname: str = ""
    city: str = ""
    country: str = ""
    hobbies: str = ""
    location: str = ""
    auto: bool = False
    last_seen: dict[str, str] | None = None

    @classmethod
    def from_hash(cls, name: str, data: dict[str, str]) -> Profile:
        seen = {k.split(":", 1)[1]: v for k, v in data.items() if k.startswith("channel:")}
        return cls(
            username=data.get("username", name),
            firstname=data.get("firstname", ""),
            lastname=data.get("lastname", ""),
            city=data.get("city", ""),
            country=data.get("country", ""),
            hobbies=data.get("hobbies", ""),
            location=data.get("location", ""),
            auto=data.get("auto") == "1",
            last_seen=seen,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
