"""Room traffic out: :class:`SlackDestination` implements ``bridge.core.ports.Destination`` for Slack.

Messages are posted as the person (``username`` + ``icon_url``, scope ``chat:write.customize``),
rendered with :func:`bridge.adapters.slack.slack_text.to_slack` (nothing typed by anyone can ping; only
the ``mentions`` map makes real mentions), split at ``max_chars``, threaded with ``thread_ts``.

Failures become :class:`DeliveryError`: HTTP 429 with ``retry_after`` from ``Retry-After``, errors that
retrying cannot fix with ``permanent=True``. The client used here has no rate-limit retry handler on
purpose: the mirroring worker decides when to retry, so one slow channel never blocks the others.
If a split message fails half-way, the parts already posted are remembered, and the retry posts only
the rest (in this process).
"""

from __future__ import annotations

import collections
import contextlib
import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.adapters.slack import text as slack_text
from bridge.core.ports import ChannelRef, OutboundMessage, Platform, PlatformUser
from bridge.errors import DeliveryError
from bridge.formatting.sizes import file_line

log = logging.getLogger("bridge.slack")

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
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "not_allowed_token_type",
        "invalid_blocks",
        "invalid_arguments",
        "team_access_not_granted",
        "ekm_access_denied",
        "duplicate_channel_not_found",
    }
)


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

    def __init__(self, *, client: AsyncWebClient, max_chars: int = 4000) -> None:
        self._client = client
        self._max_chars = max_chars
        self._partial: dict[tuple[str, str], list[str]] = {}
        self.counters: collections.Counter[str] = collections.Counter()
        """Calls by method, ``rate_limited``, ``failed_permanent``, ``failed_transient``."""

    def render(self, message: OutboundMessage) -> list[str]:
        lines = [file_line(f.name, f.size, f.permalink or f.url) for f in message.files]
        body = "\n".join(x for x in (message.text, *lines) if x)
        return slack_text.split(slack_text.to_slack(body, mentions=message.mentions), self._max_chars)

    async def _call(self, action: str, **kwargs: Any) -> dict[str, Any]:
        method = getattr(self._client, action)
        try:
            resp = await method(**kwargs)
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as err:
            error = delivery_error(action, err)
            if error.retry_after is not None:
                self.counters["rate_limited"] += 1
            else:
                self.counters["failed_permanent" if error.permanent else "failed_transient"] += 1
            raise error from err
        self.counters[action] += 1
        data = resp.data
        return data if isinstance(data, dict) else {}

    async def _post(self, channel: str, text: str, message: OutboundMessage, thread_ts: str | None) -> str:
        args: dict[str, Any] = {
            "channel": channel,
            "text": text,
            "username": message.author_name[:80] or "someone",
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if message.avatar_url:
            args["icon_url"] = message.avatar_url
        if thread_ts:
            args["thread_ts"] = thread_ts
        data = await self._call("chat_postMessage", **args)
        return str(data["ts"])

    async def send(self, channel: ChannelRef, message: OutboundMessage) -> list[str]:
        parts = self.render(message)
        key = (channel.key(), message.core_id)
        done = self._partial.setdefault(key, [])
        thread_ts = message.reply_to[0] if message.reply_to else None
        for part in parts[len(done) :]:
            done.append(await self._post(channel.channel_id, part, message, thread_ts))
        del self._partial[key]
        return done

    async def edit(self, channel: ChannelRef, ids: list[str], message: OutboundMessage) -> list[str]:
        parts = self.render(message)
        kept: list[str] = []
        for ts, part in zip(ids, parts, strict=False):
            await self._call("chat_update", channel=channel.channel_id, ts=ts, text=part)
            kept.append(ts)
        thread_ts = message.reply_to[0] if message.reply_to else None
        try:
            for part in parts[len(ids) :]:
                kept.append(await self._post(channel.channel_id, part, message, thread_ts))
        except DeliveryError:
            added = kept[len(ids) :]
            if added:  # parts this attempt posted: removed again so the retry cannot post them twice
                with contextlib.suppress(DeliveryError):
                    await self.delete(channel, added)
            raise
        if len(ids) > len(parts):
            await self.delete(channel, ids[len(parts) :])
        return kept

    async def delete(self, channel: ChannelRef, ids: list[str]) -> None:
        for ts in ids:
            try:
                await self._call("chat_delete", channel=channel.channel_id, ts=ts)
            except DeliveryError as err:
                if "message_not_found" in str(err):
                    continue  # already gone: deleting is idempotent
                raise

    async def direct_message(self, user: PlatformUser, text: str) -> None:
        opened = await self._call("conversations_open", users=user.user_id)
        channel = str((opened.get("channel") or {}).get("id") or "")
        if not channel:
            raise DeliveryError("slack conversations_open: no channel in the answer")
        for part in slack_text.split(slack_text.to_slack(text), self._max_chars):
            await self._call("chat_postMessage", channel=channel, text=part, unfurl_links=False)
