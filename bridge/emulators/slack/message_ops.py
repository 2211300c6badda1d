"""Messages, commands and event emission of the Slack emulator (the part that behaves like Slack).

Every change a person or the app makes becomes the event Slack would send: a new message (the
bot's own included, with ``bot_id``), ``message_changed``, ``message_deleted``; thread replies carry
``thread_ts``. Events are delivered to the app only for channels its bot user is a member of.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from bridge.emulators.slack import payloads
from bridge.emulators.slack import threads as thread_rules
from bridge.emulators.slack.state import (
    CommandRun,
    IdMaker,
    LogEntry,
    LogKind,
    SlackChannel,
    SlackMessage,
    SlackUser,
    TsClock,
)

if TYPE_CHECKING:
    from bridge.emulators.slack.config import EmulatorConfig
    from bridge.emulators.slack.events_http import HttpDeliverer
    from bridge.emulators.slack.external_upload import FileStore, SlackFile
    from bridge.emulators.slack.socket_mode import SocketModeHub
    from bridge.emulators.slack.state import Workspace

T = TypeVar("T")


class EmulatorError(LookupError):
    """A control call named something the emulated workspace does not have."""


class MessageOps:
    config: EmulatorConfig
    workspace: Workspace
    socket: SocketModeHub
    http: HttpDeliverer
    files: FileStore

    def __init__(self) -> None:
        self.messages: dict[str, list[SlackMessage]] = {}
        self.log: list[LogEntry] = []
        self.commands: dict[str, CommandRun] = {}
        self.ephemeral: list[LogEntry] = []
        self.emitted: list[dict[str, Any]] = []
        """Every Events API payload emitted, in order (whatever the delivery)."""
        self.clock = TsClock()
        self.ids = IdMaker()

    # provided by SlackEmulator
    @property
    def url(self) -> str:
        raise NotImplementedError

    def notify(self) -> None:
        raise NotImplementedError

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        raise NotImplementedError

    # -- lookups -------------------------------------------------------------------------------
    def _user(self, ref: str) -> SlackUser:
        user = self.workspace.user(ref)
        if user is None:
            raise EmulatorError(f"no such user {ref!r}")
        return user

    def _channel(self, ref: str) -> SlackChannel:
        channel = self.workspace.channel(ref)
        if channel is None:
            raise EmulatorError(f"no such channel {ref!r}")
        return channel

    def history(self, channel: str, *, include_deleted: bool = False) -> list[SlackMessage]:
        """Messages of a channel (id or name) as stored, oldest first."""
        cid = self._channel(channel).id
        return [m for m in self.messages.get(cid, []) if not m.hidden and (include_deleted or not m.deleted)]

    def find_message(self, channel: str, ts: str) -> SlackMessage | None:
        return next((m for m in self.messages.get(channel, []) if m.ts == ts and not m.deleted and not m.hidden), None)

    def thread(self, channel: str, ts: str) -> list[SlackMessage]:
        """A thread as Slack shows it: the parent (or its tombstone), then its replies."""
        cid = self._channel(channel).id
        root = thread_rules.parent(self, cid, ts)
        return ([root] if root is not None else []) + thread_rules.replies(self, cid, ts)

    def _log(self, kind: LogKind, msg: SlackMessage | None = None, **fields: Any) -> LogEntry:
        entry_fields: dict[str, Any] = {}
        if msg is not None:
            entry_fields = {
                "channel": msg.channel,
                "ts": msg.ts,
                "text": msg.text,
                "user": msg.user,
                "username": msg.username,
                "thread_ts": msg.thread_ts,
            }
        entry_fields.update(fields)
        entry_fields.setdefault("channel", None)
        entry_fields.setdefault("ts", None)
        entry_fields.setdefault("text", "")
        entry = LogEntry(seq=len(self.log) + 1, kind=kind, **entry_fields)
        self.log.append(entry)
        return entry

    # -- the changes ---------------------------------------------------------------------------
    def _store(self, msg: SlackMessage) -> None:
        self.messages.setdefault(msg.channel, []).append(msg)
        if msg.hidden:  # a reply to no parent: accepted, shown nowhere, no event (threads.py)
            self.notify()
            return
        channel = self.workspace.channels[msg.channel]
        self.emit(payloads.message_event(msg, channel, team_id=self.workspace.team_id), channel=channel)
        if msg.thread_ts and msg.thread_ts != msg.ts:
            root = thread_rules.parent(self, msg.channel, msg.thread_ts)
            if root is not None:
                thread_rules.refresh_parent(self, root)
        self.notify()

    def post_as_bot(
        self,
        *,
        channel: str,
        text: str,
        username: str | None = None,
        icon_url: str | None = None,
        thread_ts: str | None = None,
        blocks: list[Any] | None = None,
        reply_broadcast: bool = False,
    ) -> SlackMessage:
        """What ``chat.postMessage`` with the bot token does."""
        ws = self.workspace
        custom = bool(username or icon_url)
        cid = self._channel(channel).id
        orphan = bool(thread_ts) and thread_rules.parent(self, cid, str(thread_ts)) is None
        broadcast = bool(thread_ts) and reply_broadcast and not orphan
        msg = SlackMessage(
            channel=self._channel(channel).id,
            ts=self.clock.next(),
            text=text,
            user=None if custom else ws.bot_user_id,
            bot_id=ws.bot_id,
            app_id=ws.app_id,
            username=username or (ws.bot_name if custom else None),
            icon_url=icon_url,
            thread_ts=thread_ts,
            subtype="thread_broadcast" if broadcast else "bot_message" if custom else None,
            blocks=blocks,
            hidden=orphan,
        )
        if not orphan:
            self._log("post", msg)
        self._store(msg)
        return msg

    def user_says(
        self,
        *,
        user: str,
        channel: str,
        text: str,
        thread_ts: str | None = None,
        broadcast: bool = False,
        files: list[tuple[str, bytes]] | None = None,
    ) -> SlackMessage:
        """A person posts a message (a thread reply when ``thread_ts`` is given; also sent to the
        channel when ``broadcast``), with ``files`` (name, bytes) uploaded from their Slack client:
        then it is a ``file_share`` message. Slack's clients offer no reply to a reply (no nested threads)."""
        person = self._user(user)
        chan = self._channel(channel)
        if thread_ts and thread_rules.parent(self, chan.id, thread_ts) is None:
            raise EmulatorError(f"no thread parent {thread_ts} in {chan.name} (Slack has no nested threads)")
        msg = SlackMessage(
            channel=chan.id,
            ts=self.clock.next(),
            text=text,
            user=person.id,
            thread_ts=thread_ts,
            subtype="thread_broadcast" if thread_ts and broadcast else None,
        )
        if files:
            items = []
            for name, data in files:
                item, _ = self.files.new(file_id=self.ids.next("F"), name=name, user=person.id, length=len(data))
                item.blob = self.files.blobs.put_bytes(data)
                item.complete = True
                items.append(item)
            self._attach(msg, items)
        self._log("post", msg)
        self._store(msg)
        return msg

    def _attach(self, msg: SlackMessage, items: list[SlackFile]) -> None:
        msg.subtype = "file_share"
        for item in items:
            if msg.channel not in item.channels:
                item.channels.append(msg.channel)
            msg.files.append(item.id)
            msg.file_objects.append(item.to_api(self))  # type: ignore[arg-type]

    def share_files(self, channel: str, items: list[SlackFile], *, text: str, thread_ts: str | None) -> SlackMessage:
        """``files.completeUploadExternal`` with a channel: the app's ``file_share`` message."""
        ws = self.workspace
        msg = SlackMessage(
            channel=self._channel(channel).id, ts=self.clock.next(), text=text, user=ws.bot_user_id,
            bot_id=ws.bot_id, app_id=ws.app_id, thread_ts=thread_ts,
        )  # fmt: skip
        self._attach(msg, items)
        self._log("post", msg)
        self._store(msg)
        return msg

    def edit_message(self, *, channel: str, ts: str, text: str, blocks: list[Any] | None = None) -> SlackMessage:
        """Anyone's message changes (a person's edit, or the app's ``chat.update``; ``blocks`` given
        replace the message's blocks, absent they are kept: see webapi.chat_update)."""
        chan = self._channel(channel)
        msg = self.find_message(chan.id, ts)
        if msg is None:
            raise EmulatorError(f"no message {ts} in {chan.name}")
        previous = msg.to_api()
        msg.text = text
        if blocks is not None:
            msg.blocks = blocks
        event_ts = self.clock.next()
        msg.edited = {"user": msg.user or self.workspace.bot_user_id, "ts": event_ts}
        self._log("update", msg)
        event = payloads.message_changed_event(msg, previous, chan, event_ts=event_ts)
        self.emit(event, channel=chan)
        self.notify()
        return msg

    def remove_message(self, *, channel: str, ts: str) -> SlackMessage:
        chan = self._channel(channel)
        msg = self.find_message(chan.id, ts)
        if msg is None:
            raise EmulatorError(f"no message {ts} in {chan.name}")
        self._log("delete", msg)
        if thread_rules.is_root(msg) and thread_rules.replies(self, chan.id, msg.ts):
            thread_rules.bury(self, msg)  # a parent with replies leaves a tombstone
            self.notify()
            return msg
        previous = msg.to_api()
        msg.deleted = True
        self.emit(payloads.message_deleted_event(msg, previous, chan, event_ts=self.clock.next()), channel=chan)
        if not thread_rules.is_root(msg):
            thread_rules.after_reply_removed(self, msg)
        self.notify()
        return msg

    def user_edits(self, *, channel: str, ts: str, text: str) -> SlackMessage:
        return self.edit_message(channel=channel, ts=ts, text=text)

    def user_deletes(self, *, channel: str, ts: str) -> SlackMessage:
        return self.remove_message(channel=channel, ts=ts)

    def post_ephemeral(self, *, channel: str, user: str, text: str) -> str:
        ts = self.clock.next()
        entry = self._log("ephemeral", None, channel=channel, ts=ts, text=text, user=user)
        self.ephemeral.append(entry)
        self.notify()
        return ts

    def open_im(self, user_id: str) -> tuple[SlackChannel, bool]:
        ws = self.workspace
        for chan in ws.channels.values():
            if chan.is_im and chan.members == {user_id, ws.bot_user_id}:
                return chan, True
        chan = SlackChannel(id=f"D0{user_id[-8:]}", name=user_id, is_im=True, members={user_id, ws.bot_user_id})
        ws.channels[chan.id] = chan
        return chan, False

    def dms_to(self, user: str) -> list[SlackMessage]:
        """Messages in the bot's DM with a person (notifications)."""
        chan, _ = self.open_im(self._user(user).id)
        return self.history(chan.id)

    # -- events --------------------------------------------------------------------------------
    def emit(self, event: dict[str, Any], *, channel: SlackChannel | None = None) -> str:
        """Deliver an Events API event to the app (if it can see the channel); return its event_id."""
        event_id = self.ids.next("Ev")
        if channel is not None and self.workspace.bot_user_id not in channel.members:
            return event_id
        payload = payloads.event_callback(self.workspace, event, event_id=event_id)
        self.emitted.append(payload)
        self.spawn(self._deliver_event(payload))
        return event_id

    async def _deliver_event(self, payload: dict[str, Any]) -> None:
        if self.config.delivery == "socket":
            await self.socket.deliver_event(payload)
        elif self.config.request_url:
            await self.http.deliver_event(self.config.request_url, payload)

    def redeliver(self, event_id: str) -> None:
        """Send an already emitted event again, as Slack does after a lost acknowledgement."""
        payload = next(p for p in self.emitted if p["event_id"] == event_id)
        self.spawn(self._deliver_event(payload))

    # -- slash commands ------------------------------------------------------------------------
    def slash_command(self, *, user: str, channel: str, text: str, command: str = "/chat") -> CommandRun:
        """A person types ``/chat <text>``; returns the run, which fills in as the app answers."""
        person = self._user(user)
        chan = self._channel(channel)
        run_id = uuid.uuid4().hex
        run = CommandRun(
            id=run_id,
            command=command,
            text=text,
            user=person.id,
            channel=chan.id,
            response_url=f"{self.url}/_respond/{run_id}",
        )
        self.commands[run_id] = run
        form = payloads.slash_command_form(
            self.workspace,
            user=person,
            channel=chan,
            command=command,
            text=text,
            response_url=run.response_url,
            trigger_id=self.ids.next("trig"),
        )
        self.spawn(self._deliver_command(run, form))
        return run

    async def _deliver_command(self, run: CommandRun, form: dict[str, str]) -> None:
        timeout = self.config.command_timeout
        if self.config.delivery == "socket":
            env = await self.socket.deliver_command(form, ack_within=timeout)
            run.acked = env.acked
            run.ack_status = 200 if env.acked else None
            run.ack = env.ack_payload
        else:
            url = self.config.command_url or self.config.request_url
            if url is None:
                return
            attempt = await self.http.deliver_command(url, form, answer_within=timeout)
            run.acked = attempt.ok
            run.ack_status = attempt.status
            if attempt.ok and attempt.body:
                parsed = _json_object(attempt.body) if attempt.content_type == "application/json" else None
                run.ack = parsed if parsed is not None else {"text": attempt.body}
        if run.ack and run.ack.get("text"):
            self._log("ack", None, channel=run.channel, text=str(run.ack["text"]), user=run.user)
        self.notify()

    def record_response(self, run: CommandRun, body: dict[str, Any]) -> None:
        run.responses.append(body)
        text = str(body.get("text") or "")
        if body.get("response_type") == "in_channel":
            msg = self.post_as_bot(channel=run.channel, text=text)
            self._log("response", msg, user=run.user, extra={"response_type": "in_channel"})
        else:
            self._log("response", None, channel=run.channel, text=text, user=run.user)
        self.notify()


def _json_object(body: str) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
