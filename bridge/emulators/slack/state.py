"""In-memory state of the Slack emulator: workspace, people, channels, messages, and the request log.

Everything here is plain data so tests (and the ``/_emulator`` control routes) can inspect it as
stored. Nothing in this module does I/O.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass
class SlackUser:
    id: str
    name: str
    real_name: str = ""
    display_name: str = ""
    is_admin: bool = False
    is_owner: bool = False
    is_bot: bool = False
    bot_id: str | None = None
    image_72: str = ""
    deleted: bool = False

    def __post_init__(self) -> None:
        self.real_name = self.real_name or self.name.capitalize()
        self.display_name = self.display_name or self.name
        self.image_72 = self.image_72 or f"https://avatars.example.invalid/{self.id}_72.png"


@dataclass
class SlackChannel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    members: set[str] = field(default_factory=set)
    archived: bool = False
    created: int = field(default_factory=lambda: int(time.time()))
    topic: str = ""


@dataclass
class SlackMessage:
    """A message as the emulator stores it (the shape ``conversations.history`` would return)."""

    channel: str
    ts: str
    text: str
    user: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    username: str | None = None
    icon_url: str | None = None
    thread_ts: str | None = None
    subtype: str | None = None
    edited: dict[str, str] | None = None
    deleted: bool = False
    blocks: list[Any] | None = None
    reply_count: int = 0
    reply_users: list[str] = field(default_factory=list)
    latest_reply: str | None = None
    hidden: bool = False
    """Accepted but shown nowhere (a reply whose ``thread_ts`` matched no parent: see ``threads``)."""
    files: list[str] = field(default_factory=list)
    """Ids of the files shared in this message (``file_share``), see ``external_upload.py``."""
    file_objects: list[dict[str, Any]] = field(default_factory=list)
    """Their file objects as events and history show them (filled when the files are shared)."""
    reactions: list[dict[str, Any]] = field(default_factory=list)
    """``[{"name", "users", "count"}]`` as Slack lists them (see ``reaction_routes``)."""
    metadata: dict[str, Any] | None = None
    """Message metadata (``{"event_type", "event_payload"}``) posted with ``chat.postMessage``;
    listed by conversations.history/replies only with ``include_all_metadata`` (see webapi)."""

    def to_api(self) -> dict[str, Any]:
        """The message object as Slack shows it in events and API answers."""
        out: dict[str, Any] = {"type": "message", "text": self.text, "ts": self.ts}
        if self.subtype:
            out["subtype"] = self.subtype
        if self.user:
            out["user"] = self.user
        if self.bot_id:
            out["bot_id"] = self.bot_id
            if self.app_id:
                out["app_id"] = self.app_id
        if self.username:
            out["username"] = self.username
        if self.icon_url:
            out["icons"] = {"image_48": self.icon_url}
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.edited:
            out["edited"] = dict(self.edited)
        if self.blocks is not None:
            out["blocks"] = self.blocks
        if self.reply_count or (self.thread_ts and self.thread_ts == self.ts):
            out["reply_count"] = self.reply_count
            out["reply_users"] = list(self.reply_users)
            out["reply_users_count"] = len(self.reply_users)
            if self.latest_reply:
                out["latest_reply"] = self.latest_reply
        if self.subtype == "tombstone":
            out["hidden"] = True
        if self.file_objects:
            out["files"] = [dict(f) for f in self.file_objects]
            out["upload"] = True
            out["display_as_bot"] = False
        return self._with_reactions(out)

    def _with_reactions(self, out: dict[str, Any]) -> dict[str, Any]:
        if self.metadata is not None:
            out["metadata"] = dict(self.metadata)
        if self.reactions:
            out["reactions"] = [{**r, "users": list(r["users"])} for r in self.reactions]
        return out


@dataclass
class RecordedRequest:
    """One HTTP request the emulator received (Web API, response_url, socket ack...)."""

    seq: int
    http_method: str
    path: str
    api_method: str | None
    query: dict[str, str]
    form: dict[str, str]
    json: Any
    headers: dict[str, str]
    at: float
    answer: Any = None
    """The JSON the emulator answered (Web API calls), for the contract tests."""

    @property
    def args(self) -> dict[str, Any]:
        """Query, form and JSON arguments merged, as Slack reads them."""
        merged: dict[str, Any] = dict(self.query)
        merged.update(self.form)
        if isinstance(self.json, dict):
            merged.update(self.json)
        return merged

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "http_method": self.http_method,
            "path": self.path,
            "api_method": self.api_method,
            "args": self.args,
            "headers": {k: v for k, v in self.headers.items() if k.lower() != "authorization"},
            "at": self.at,
        }


LogKind = Literal["post", "update", "delete", "ephemeral", "response", "ack"]


@dataclass
class LogEntry:
    """Something that became visible to people in the workspace (what a CLI ``sandbox`` shows)."""

    seq: int
    kind: LogKind
    channel: str | None
    ts: str | None
    text: str
    user: str | None = None
    username: str | None = None
    thread_ts: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "channel": self.channel,
            "ts": self.ts,
            "text": self.text,
            "user": self.user,
            "username": self.username,
            "thread_ts": self.thread_ts,
            **self.extra,
        }


@dataclass
class CommandRun:
    """One slash command invocation and everything the app answered to it."""

    id: str
    command: str
    text: str
    user: str
    channel: str
    response_url: str
    ack: dict[str, Any] | None = None
    acked: bool = False
    ack_status: int | None = None
    responses: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command,
            "text": self.text,
            "user": self.user,
            "channel": self.channel,
            "acked": self.acked,
            "ack_status": self.ack_status,
            "ack": self.ack,
            "responses": self.responses,
        }


class TsClock:
    """Slack message timestamps: ``"<unix seconds>.<6 digits>"``, unique and increasing."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        micros = max(int(time.time() * 1_000_000), self._last + 1)
        self._last = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


class IdMaker:
    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self, prefix: str) -> str:
        return f"{prefix}{next(self._counter):08X}"


@dataclass
class Workspace:
    """The emulated workspace: one team, its people and channels, and the bot installed in it."""

    team_id: str = "T0EMULATOR"
    team_domain: str = "emulator"
    team_name: str = "Emulator Workspace"
    app_id: str = "A0EMULATOR"
    bot_user_id: str = "U0BOT00001"
    bot_id: str = "B0BOT00001"
    bot_name: str = "chatbridge"
    users: dict[str, SlackUser] = field(default_factory=dict)
    channels: dict[str, SlackChannel] = field(default_factory=dict)
    custom_emoji: dict[str, str] = field(
        default_factory=lambda: {
            "partyparrot": "https://emoji.slack-edge.invalid/T0EMULATOR/partyparrot/1.gif",
            "blobwave": "https://emoji.slack-edge.invalid/T0EMULATOR/blobwave/1.png",
            "parrot": "alias:partyparrot",
        }
    )
    """The workspace's custom emoji as ``emoji.list`` returns them (image URL or ``alias:name``)."""

    @classmethod
    def default(cls) -> Workspace:
        ws = cls()
        ws.users[ws.bot_user_id] = SlackUser(id=ws.bot_user_id, name=ws.bot_name, is_bot=True, bot_id=ws.bot_id)
        for uid, name, admin, owner in (
            ("U0ALICE001", "alice", True, True),
            ("U0BOB00001", "bob", False, False),
            ("U0CAROL001", "carol", False, False),
        ):
            ws.users[uid] = SlackUser(id=uid, name=name, is_admin=admin, is_owner=owner)
        people = {u for u in ws.users}
        for cid, name in (("C0GENERAL1", "general"), ("C0RANDOM01", "random"), ("C0CRICKET1", "cricket")):
            ws.channels[cid] = SlackChannel(id=cid, name=name, members=set(people))
        ws.channels["C0NOBOT001"] = SlackChannel(id="C0NOBOT001", name="no-bot", members=people - {ws.bot_user_id})
        return ws

    def add_user(self, user_id: str, name: str, **fields: Any) -> SlackUser:
        """Add a person (see :class:`SlackUser` for the fields: ``is_admin``, ``display_name``...)."""
        user = SlackUser(id=user_id, name=name, **fields)
        self.users[user_id] = user
        for channel in self.channels.values():
            if channel.name == "general" and not channel.is_im:
                channel.members.add(user_id)
        return user

    def add_channel(
        self, channel_id: str, name: str, *, members: set[str] | None = None, bot: bool = True, private: bool = False
    ) -> SlackChannel:
        """Add a channel; by default everyone is in it, the bot included (``bot=False`` leaves it out)."""
        people = set(members) if members is not None else set(self.users)
        if bot:
            people.add(self.bot_user_id)
        else:
            people.discard(self.bot_user_id)
        channel = SlackChannel(id=channel_id, name=name, is_private=private, members=people)
        self.channels[channel_id] = channel
        return channel

    def user(self, ref: str) -> SlackUser | None:
        """A user by id, name or ``@name``."""
        ref = ref.removeprefix("@")
        if ref in self.users:
            return self.users[ref]
        return next((u for u in self.users.values() if u.name == ref), None)

    def channel(self, ref: str) -> SlackChannel | None:
        """A channel by id, name or ``#name``."""
        ref = ref.removeprefix("#")
        if ref in self.channels:
            return self.channels[ref]
        return next((c for c in self.channels.values() if c.name == ref and not c.is_im), None)
