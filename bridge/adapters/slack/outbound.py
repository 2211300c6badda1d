"""Room traffic out: :class:`SlackDestination` implements ``bridge.core.ports.Destination`` for Slack.

Messages are posted as the person (``username`` + ``icon_url``, scope ``chat:write.customize``),
rendered with :func:`bridge.adapters.slack.slack_text.to_slack` (nothing typed by anyone can ping; only
the ``mentions`` map makes real mentions), split at ``max_chars``, threaded with ``thread_ts``.

Every call first waits for its slot at Slack's documented rate (``pacing.py``: 1 post per second per
channel with a short burst, the workspace's limits per method), so a backlog drains without 429s.
Failures become :class:`DeliveryError`: HTTP 429 with ``retry_after`` from ``Retry-After``, errors that
retrying cannot fix with ``permanent=True``. The client used here has no rate-limit retry handler on
purpose: the mirroring worker decides when to retry, so one slow channel never blocks the others.
If a split message fails half-way, the parts already posted are remembered, and the retry posts only
the rest (in this process). Across a crash, each part carries metadata (core entry + part) and a
delivery the worker marks as possibly landed is first looked up in the channel's (or thread's)
history (``reconcile.py``): only the parts provably absent are posted.
"""

from __future__ import annotations

import collections
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.adapters.file_transfer import FILE_BYTES, FILES_MOVED, Fetched, FileHub, FileTooLarge, fetched_all
from bridge.adapters.slack import file_upload, reconcile
from bridge.adapters.slack import text as slack_text
from bridge.adapters.slack.channel_access import ChannelAccess, RoomHeld
from bridge.adapters.slack.pacing import Pacer
from bridge.core.ports import Attachment, ChannelRef, OutboundMessage, Platform, PlatformUser, ThreadHomes
from bridge.errors import DeliveryError
from bridge.formatting.sizes import file_line, human_size
from bridge.formatting.thread_text import orphan_header

if TYPE_CHECKING:
    from bridge.adapters.slack.reactions_relay import SlackReactions

log = logging.getLogger(__name__)
SLACK_FILE_LIMIT = 1024 * 1024 * 1024
"""Slack's per-file limit (1 GB, Slack help "Upload files to Slack"); ``files.max_bytes`` caps lower."""


def lines_for_edit(files: tuple[Attachment, ...], uploaded: int, cap: int) -> list[str]:
    """The lines an edit keeps for files the send could not upload (an edit never uploads)."""
    if uploaded >= len(files):
        return []
    return [file_line(f.name, f.size, f.permalink or f.url, "not uploaded") for f in files if f.size > cap]


PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "cant_update_message",
        "message_not_found",  # the copy was removed on Slack: this edit can never land
        "thread_not_found",
        "cant_delete_message",
        "edit_window_closed",
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "missing_scope",
        "not_allowed_token_type",
        "invalid_blocks",
        "invalid_arguments",
        "team_access_not_granted",
        "ekm_access_denied",
        "duplicate_channel_not_found",
    }
)


AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"})
"""The bot token itself is refused: every call fails alike until an admin installs a new token, so
these are an outage of the whole platform (the worker holds the backlog), never a reason to drop
this one message."""


def delivery_error(action: str, err: Exception) -> DeliveryError:
    """Map a failed Web API call to the worker's error (retry_after / permanent)."""
    if isinstance(err, SlackApiError):
        status = getattr(err.response, "status_code", 0)
        data = err.response.data if isinstance(err.response.data, dict) else {}
        code = str(data.get("error") or f"http_{status}")
        if status == 429 or code == "ratelimited":
            raw = err.response.headers.get("Retry-After") or err.response.headers.get("retry-after") or "1"
            try:
                retry_after = max(float(raw), 0.0)
            except ValueError:
                retry_after = 1.0
            return DeliveryError(f"slack {action}: rate limited", retry_after=retry_after)
        return DeliveryError(f"slack {action}: {code or status}", permanent=code in PERMANENT_ERRORS)
    return DeliveryError(f"slack {action}: {type(err).__name__}: {err}")


class SlackDestination:
    platform: Platform = "slack"

    def __init__(
        self,
        *,
        client: AsyncWebClient,
        max_chars: int = 4000,
        files: FileHub | None = None,
        homes: ThreadHomes | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self._client = client
        self.pacer = pacer or Pacer()
        """Slack's documented rates per channel and method (``pacing.py``): calls wait their slot."""
        self._homes = homes
        """Where each thread lives here (``keys.thread_home``), so a thread outlives its root's copy."""
        self._max_chars = max_chars
        self._partial: dict[tuple[str, str], list[str]] = {}
        self._uploads: dict[tuple[str, str], tuple[list[file_upload.Uploaded], list[str]]] = {}
        """Files already uploaded for a message whose post failed (the retry reuses them)."""
        self._session: aiohttp.ClientSession | None = None
        self.files = files or FileHub()
        self.counters: collections.Counter[str] = collections.Counter()
        """Calls by method, ``rate_limited``, ``failed_permanent``, ``failed_transient``."""
        self.reactions: SlackReactions | None = None
        """The bot's reactions (set by the adapter; see ``reactions``)."""
        self.access = ChannelAccess(join=client.conversations_join)
        """Joins a public channel that dropped the app; holds a room that needs an admin."""

    def render(
        self,
        message: OutboundMessage,
        lines: list[str] | None = None,
        limit: int | None = None,
        *,
        header: bool | None = None,
    ) -> list[str]:
        body = "\n".join(x for x in (message.text, *(lines or [])) if x)
        if header is None:
            header = bool(message.thread_root and not message.thread)
        if header:  # its thread's root is not here: say which it was
            body = f"{orphan_header(message.thread_title)}\n{body}"
        text = slack_text.to_slack(body, mentions=message.mentions)
        return slack_text.split(text, limit or self._max_chars) if text else []

    async def _call(self, action: str, **kwargs: Any) -> dict[str, Any]:
        method = getattr(self._client, action)
        channel = str(kwargs.get("channel") or "") or None
        await self.pacer.wait(action, channel)
        try:
            resp = await self.access.call(method, kwargs)
        except RoomHeld:
            self.counters["held"] += 1
            raise
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as err:
            error = delivery_error(action, err)
            if error.retry_after is not None:
                self.counters["rate_limited"] += 1
                self.pacer.blocked(action, channel, error.retry_after)
            else:
                self.counters["failed_permanent" if error.permanent else "failed_transient"] += 1
            raise error from err
        self.counters[action] += 1
        data = resp.data
        return data if isinstance(data, dict) else {}

    @staticmethod
    def placement(message: OutboundMessage) -> tuple[str | None, bool]:
        """Where a message goes on Slack: ``(thread_ts, also in the channel)``.

        - a thread reply: in the thread of its root's copy (``thread_ts`` = that copy's ts, always a
          root's: Slack has no nested threads); a broadcast one also in the channel;
        - a thread reply whose root's copy here cannot be proven: in the channel, its first line
          naming the thread (a guessed ``thread_ts`` would be accepted and shown nowhere);
        - a Discord reply in a channel: in the thread of the replied message's copy (the id map gives
          its thread's root) and also in the channel ("also send to channel"), where Discord shows it.
        """
        if message.thread:
            return message.thread[0], message.broadcast
        if message.thread_root:
            return None, False
        if message.reply_to:
            return message.reply_to[0], True
        return None, False

    async def _where(self, channel: ChannelRef, message: OutboundMessage) -> tuple[str | None, bool]:
        """``(thread_ts, header)``: :meth:`placement`, and for a thread whose root's copy is gone (a
        tombstone keeps the thread) the thread it had here."""
        thread_ts = self.placement(message)[0]
        if message.thread_root and not thread_ts and self._homes is not None:
            thread_ts = await self._homes.thread_home(channel, message.thread_root)
        return thread_ts, bool(message.thread_root and not thread_ts)

    async def _home(self, channel: ChannelRef, message: OutboundMessage, thread_ts: str | None) -> None:
        if message.thread_root and thread_ts and self._homes is not None:
            await self._homes.set_thread_home(channel, message.thread_root, thread_ts)

    async def _post(
        self,
        channel: str,
        text: str,
        message: OutboundMessage,
        thread_ts: str | None,
        blocks: list[dict[str, Any]] | None = None,
        part: int = 0,
    ) -> str:
        args: dict[str, Any] = {
            "channel": channel,
            "text": text,
            **self._persona(message),
            "unfurl_links": False,
            "unfurl_media": False,
            "metadata": reconcile.part_metadata(message.core_id, part),
        }
        if blocks:
            args["blocks"] = blocks
        if thread_ts:
            args["thread_ts"] = thread_ts
            if message.broadcast or (not message.thread_root and message.reply_to):
                args["reply_broadcast"] = True
        try:
            data = await self._call("chat_postMessage", **args)
        except RoomHeld as held:  # its sender learns why it waits (once per hold: the notice gate)
            text = f"Your message waits for #{message.channel} on Slack: {held}. It goes out once that is fixed."
            await self.files.tell_sender(message, text, reason=f"held:{channel}:{held.hold.since}")
            raise
        return str(data["ts"])

    async def send(self, channel: ChannelRef, message: OutboundMessage) -> list[str]:
        key = (channel.key(), message.core_id)
        uploaded, lines = await self._upload_all(key, message)
        limit = min(self._max_chars, file_upload.SECTION_MAX) if uploaded else None
        thread_ts, header = await self._where(channel, message)
        parts = self.render(message, lines, limit, header=header) or [""]
        done = self._partial.setdefault(key, [])
        if message.reconcile_since_ms and not done:  # an attempt may have landed: look before resending
            done += reconcile.leading(await self._posted(channel, message, thread_ts))[: len(parts)]
        for index, part in enumerate(parts[len(done) :], start=len(done)):
            blocks = file_upload.blocks_for(part, uploaded) if index == 0 and uploaded else None
            fallback = part or " ".join(f"📎 {u.name}" for u in uploaded)
            done.append(await self._post(channel.channel_id, fallback, message, thread_ts, blocks, index))
        del self._partial[key]
        self._uploads.pop(key, None)
        await self._home(channel, message, thread_ts)
        return done + [u.id for u in uploaded]

    async def _upload_all(
        self, key: tuple[str, str], message: OutboundMessage
    ) -> tuple[list[file_upload.Uploaded], list[str]]:
        """Upload the message's files (once per message in this process: a retry after a failed post
        reuses them); the ones that cannot travel become lines and their sender is told."""
        if not message.files:
            return [], []
        if key in self._uploads:
            return self._uploads[key]
        uploaded: list[file_upload.Uploaded] = []
        lines: list[str] = []
        untold: list[str] = []
        try:
            async with fetched_all(self.files, list(message.files), SLACK_FILE_LIMIT) as got:
                for file, item in zip(message.files, got, strict=True):
                    if isinstance(item, Fetched):
                        try:
                            uploaded.append(await self._upload(item))
                            continue
                        except DeliveryError as err:
                            if not err.permanent:
                                raise  # transient: the worker retries the whole message
                            why = f"refused by Slack ({err})"  # e.g. missing_scope: the text still crosses
                            lines.append(file_line(file.name, file.size, file.permalink or file.url, why))
                            untold.append(f"{file.name} ({human_size(file.size)}): {why}")
                            continue
                    why = f"over the {human_size(item.limit)} limit" if isinstance(item, FileTooLarge) else str(item)
                    lines.append(file_line(file.name, file.size, file.permalink or file.url, why))
                    untold.append(f"{file.name} ({human_size(file.size)}): {why}")
        except DeliveryError:
            await self._forget_files([u.id for u in uploaded])
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as err:
            await self._forget_files([u.id for u in uploaded])
            raise DeliveryError(f"slack files for {key[0]}: {type(err).__name__}: {err}") from err
        for done in uploaded:
            FILES_MOVED.labels(platform="slack", outcome="uploaded").inc()
            FILE_BYTES.labels(platform="slack").observe(done.size)
        if untold:
            FILES_MOVED.labels(platform="slack", outcome="not_uploaded").inc(len(untold))
            text = "Not every file of your message reached Slack:\n" + "\n".join(f"• {x}" for x in untold)
            await self.files.tell_sender(message, text, reason="files")
        self._uploads[key] = (uploaded, lines)
        return uploaded, lines

    async def _upload(self, item: Fetched) -> file_upload.Uploaded:
        step1 = await self._call("files_getUploadURLExternal", filename=item.name, length=item.size)
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=120))
        await file_upload.post_bytes(self._session, str(step1["upload_url"]), item)
        file_id = str(step1["file_id"])
        await self._call("files_completeUploadExternal", files=[{"id": file_id, "title": item.name}])
        permalink = ""
        if not item.content_type.startswith("image/"):
            info = await self._call("files_info", file=file_id)
            permalink = str((info.get("file") or {}).get("permalink") or "")
        return file_upload.Uploaded(file_id, item.name, item.size, item.content_type.startswith("image/"), permalink)

    async def _described(self, file_ids: list[str]) -> list[file_upload.Uploaded]:
        out = []
        for file_id in file_ids:
            info = (await self._call("files_info", file=file_id)).get("file") or {}
            name = str(info.get("name") or file_id)
            mimetype = str(info.get("mimetype") or "")
            permalink = str(info.get("permalink") or "")
            out.append(
                file_upload.Uploaded(
                    file_id, name, int(info.get("size") or 0), mimetype.startswith("image/"), permalink
                )
            )
        return out

    @staticmethod
    def _persona(message: OutboundMessage) -> dict[str, str]:
        """``username`` (+ ``icon_url``): the post shows as its author (scope chat:write.customize)."""
        persona = {"username": message.author_name[:80] or "someone"}
        if message.avatar_url:
            persona["icon_url"] = message.avatar_url
        return persona

    async def _forget_files(self, file_ids: list[str]) -> None:
        for file_id in file_ids:
            with contextlib.suppress(DeliveryError):
                await self._call("files_delete", file=file_id)

    async def edit(self, channel: ChannelRef, ids: list[str], message: OutboundMessage) -> list[str]:
        file_ids = [i for i in ids if file_upload.is_file_id(i)]
        ids = [i for i in ids if not file_upload.is_file_id(i)]
        uploaded = await self._described(file_ids) if file_ids else []
        names = collections.Counter(f.name for f in message.files)
        kept_files, removed = [], []
        for item in uploaded:  # a file removed from the original (a Discord edit) leaves the copy too
            if names[item.name] > 0:
                names[item.name] -= 1
                kept_files.append(item)
            else:
                removed.append(item.id)
        had_files = bool(file_ids)
        uploaded, file_ids = kept_files, [i.id for i in kept_files]
        lines = lines_for_edit(message.files, len(uploaded), self.files.max_bytes)
        limit = min(self._max_chars, file_upload.SECTION_MAX) if uploaded else None
        thread_ts, header = await self._where(channel, message)
        parts = self.render(message, lines, limit, header=header) or [""]
        kept: list[str] = []
        for index, (ts, part) in enumerate(zip(ids, parts, strict=False)):
            blocks = file_upload.blocks_for(part, uploaded) if index == 0 and uploaded else None
            if index == 0 and had_files and not uploaded:
                blocks = []  # chat.update: an empty array removes the previous blocks (absent keeps them)
            args: dict[str, Any] = {
                "channel": channel.channel_id,
                "ts": ts,
                "text": part or " ".join(f"📎 {u.name}" for u in uploaded),
                # not documented for chat.update: whether Slack keeps a post's custom username/icon
                # on update is unknown, so the persona is sent again (correct either way; Slack
                # ignores arguments a method does not take)
                **self._persona(message),
            }
            if blocks is not None:
                args["blocks"] = blocks
            await self._call("chat_update", **args)
            kept.append(ts)
        landed = await self._posted(channel, message, thread_ts) if message.reconcile_since_ms else {}
        try:
            for index in range(len(ids), len(parts)):
                if landed.get(index) and landed[index] not in ids:  # posted by an attempt that died
                    kept.append(landed[index])
                    continue
                kept.append(await self._post(channel.channel_id, parts[index], message, thread_ts, None, index))
        except DeliveryError:
            added = kept[len(ids) :]
            if added:  # parts this attempt posted: removed again so the retry cannot post them twice
                with contextlib.suppress(DeliveryError):
                    await self.delete(channel, added)
            raise
        if len(ids) > len(parts):
            await self.delete(channel, ids[len(parts) :])
        await self._forget_files(removed)
        return kept + file_ids

    async def _posted(self, channel: ChannelRef, message: OutboundMessage, thread_ts: str | None) -> dict[int, str]:
        self.counters["reconciled"] += 1
        return await reconcile.posted_parts(
            self._call, channel.channel_id, message.core_id, thread_ts=thread_ts, since_ms=message.reconcile_since_ms
        )

    async def delete(self, channel: ChannelRef, ids: list[str]) -> None:
        await self._forget_files([i for i in ids if file_upload.is_file_id(i)])
        for ts in [i for i in ids if not file_upload.is_file_id(i)]:
            try:
                await self._call("chat_delete", channel=channel.channel_id, ts=ts)
            except DeliveryError as err:
                if "message_not_found" in str(err):
                    continue  # already gone: deleting is idempotent
                raise

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def react(self, channel: ChannelRef, message_id: str, emoji: str, *, add: bool) -> bool:
        if self.reactions is None:
            return False
        done = await self.reactions.react(channel, message_id, emoji, add=add)
        self.counters["reactions" if done else "reactions_unavailable"] += 1
        return done

    async def direct_message(self, user: PlatformUser, text: str) -> None:
        opened = await self._call("conversations_open", users=user.user_id)
        channel = str((opened.get("channel") or {}).get("id") or "")
        if not channel:
            raise DeliveryError("slack conversations_open: no channel in the answer")
        for part in slack_text.split(slack_text.to_slack(text), self._max_chars):
            await self._call("chat_postMessage", channel=channel, text=part, unfurl_links=False)
