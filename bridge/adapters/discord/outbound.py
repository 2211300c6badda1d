"""Room traffic out: :class:`DiscordDestination` implements ``bridge.core.ports.Destination``.

Messages are posted through the channel's webhook as the author (username + avatar). Replies
cannot be native for webhook posts, so a reply starts with a quote line and a jump link.
``allowed_mentions`` lets only the users in ``OutboundMessage.mentions`` be pinged: never
``@everyone``/``@here``, never roles, never someone whose ``<@id>`` was typed by hand.

Rate limits (the choice): discord.py handles 429s itself. On webhook routes it sleeps
``retry_after`` and retries (up to 5 times) inside the call, so short limits are waited out there,
ordered per webhook; only when it gives up does the 429 reach us and become
``DeliveryError(retry_after=...)``. On bot routes (DMs, reply lookups) ``max_ratelimit_timeout``
(config, minimum 30 s) makes discord.py raise ``RateLimited`` for longer waits, which also becomes
``DeliveryError(retry_after=...)`` so the worker can reschedule instead of blocking.
401 (token revoked) is an outage, not permanent; other 4xx answers are permanent
(``DeliveryError(permanent=True)``); 5xx and network errors are not.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging

import aiohttp
import discord

from bridge.adapters.file_transfer import FILE_BYTES, FILES_MOVED, FileHub
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, OutboundMessage, Platform, PlatformUser
from bridge.errors import DeliveryError

from .config import DiscordConfig
from .endpoints import jump_url
from .files import Plan, lines_for_edit, planned, upload_limit
from .text import reply_header, split, to_discord, webhook_username
from .webhooks import WebhookStore

log = logging.getLogger("bridge.discord.outbound")
UNKNOWN_WEBHOOK, UNKNOWN_MESSAGE, REQUEST_TOO_LARGE = 10015, 10008, 40005


def to_delivery_error(err: BaseException, what: str) -> DeliveryError:
    """Map a discord.py / network failure to the worker's :class:`DeliveryError`."""
    if isinstance(err, DeliveryError):
        return err
    if isinstance(err, discord.RateLimited):
        return DeliveryError(f"{what}: rate limited", retry_after=err.retry_after)
    if isinstance(err, discord.HTTPException):
        detail = f"{what}: HTTP {err.status} (code {err.code}) {err.text[:200]}"
        if err.status == 429:
            return DeliveryError(detail, retry_after=_retry_after(err))
        if err.status >= 500 or err.status == 408:
            return DeliveryError(detail)
        if err.status == 401:  # the bot token was revoked: an outage of the whole side, held, not dropped
            return DeliveryError(detail)
        return DeliveryError(detail, permanent=True)
    if isinstance(err, aiohttp.ClientError | OSError | asyncio.TimeoutError | discord.GatewayNotFound):
        return DeliveryError(f"{what}: {type(err).__name__}: {err}")
    return DeliveryError(f"{what}: unexpected {type(err).__name__}: {err}")


def _retry_after(err: discord.HTTPException) -> float:
    headers = getattr(err.response, "headers", {}) or {}
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        value = headers.get(name)
        if value:
            try:
                return float(value)
            except ValueError:
                continue
    return 1.0


class DiscordDestination:
    platform: Platform = "discord"

    def __init__(
        self,
        *,
        client: discord.Client,
        chat: Chat,
        config: DiscordConfig,
        webhooks: WebhookStore,
        files: FileHub | None = None,
    ) -> None:
        self.client = client
        self.chat = chat
        self.config = config
        self.webhooks = webhooks
        self.files = files or FileHub()
        """Where attachments are downloaded from (the origin's source) and senders are told."""
        self.counters: collections.Counter[str] = collections.Counter()
        """sent/edited/deleted/dms (parts), rate_limited, failed, permanent: for /metrics."""

    def _failed(self, err: BaseException, what: str) -> DeliveryError:
        error = to_delivery_error(err, what)
        self.counters["rate_limited" if error.retry_after is not None else "failed"] += 1
        if error.permanent:
            self.counters["permanent"] += 1
        return error

    # -- Destination ---------------------------------------------------------------------------
    async def send(self, channel: ChannelRef, message: OutboundMessage) -> list[str]:
        limit = upload_limit(self.client, channel.workspace)
        try:
            async with planned(self.files, message.files, limit) as plan:
                return await self._send_planned(channel, message, plan)
        except DeliveryError:
            raise
        except Exception as err:  # a download failed half-way (network): the worker retries it all
            raise self._failed(err, f"files for {channel.key()}") from err

    async def _send_planned(self, channel: ChannelRef, message: OutboundMessage, plan: Plan) -> list[str]:
        try:
            sent = await self._send(channel, message, plan)
        except discord.HTTPException as err:
            if err.code != REQUEST_TOO_LARGE or not plan.uploads:
                raise self._failed(err, f"send to {channel.key()}") from err
            # the guild's limit was lower than it looked (boost lost): send the files as lines
            plan.give_up_uploads("refused by Discord as too large")
            try:
                sent = await self._send(channel, message, plan)
            except Exception as again:
                raise self._failed(again, f"send to {channel.key()}") from again
        except Exception as err:
            raise self._failed(err, f"send to {channel.key()}") from err
        self.counters["sent"] += len(sent)
        for item in plan.uploads:
            FILES_MOVED.labels(platform="discord", outcome="uploaded").inc()
            FILE_BYTES.labels(platform="discord").observe(item.size)
        if plan.untold:
            FILES_MOVED.labels(platform="discord", outcome="not_uploaded").inc(len(plan.untold))
            text = "Not every file of your message reached Discord:\n" + "\n".join(f"• {x}" for x in plan.untold)
            await self.files.tell_sender(message, text, reason="files")
        return sent

    async def _send(self, channel: ChannelRef, message: OutboundMessage, plan: Plan) -> list[str]:
        text, pingable = await self._render(channel, message, plan.lines)
        allowed = _allowed(pingable)
        sent: list[str] = []
        try:
            for index, part in enumerate(split(text) if text else [""]):
                files = plan.files() if index == 0 else []
                sent.append(await self._post(channel, part, message, allowed, files))
        except Exception:
            if sent:  # no half-delivered message: the worker's retry starts from a clean slate
                await self._delete_quietly(channel, sent)
            raise
        return sent

    async def edit(self, channel: ChannelRef, ids: list[str], message: OutboundMessage) -> list[str]:
        lines = lines_for_edit(message.files, upload_limit(self.client, channel.workspace), self.files.max_bytes)
        text, pingable = await self._render(channel, message, lines)
        allowed = _allowed(pingable)
        parts = split(text) if text else [""]  # files only: the first part keeps them, with no text
        holding: list[str] = []
        try:
            hook = await self.webhooks.get(channel.channel_id)
            for index, part in enumerate(parts):
                if index < len(ids):
                    await hook.edit_message(int(ids[index]), content=part, allowed_mentions=allowed)
                    holding.append(ids[index])
                else:
                    holding.append(await self._post(channel, part, message, allowed))
        except Exception as err:
            added = holding[len(ids) :]
            if added:  # parts posted by this attempt: removed, so the retry does not post them twice
                await self._delete_quietly(channel, added)
            raise self._failed(err, f"edit in {channel.key()}") from err
        if len(ids) > len(parts):
            await self.delete(channel, ids[len(parts) :])
        self.counters["edited"] += 1
        return holding

    async def delete(self, channel: ChannelRef, ids: list[str]) -> None:
        try:
            hook = await self.webhooks.get(channel.channel_id)
            for message_id in ids:
                self.webhooks.deleting(message_id)
                try:
                    await hook.delete_message(int(message_id))
                except discord.NotFound as err:
                    if err.code == UNKNOWN_WEBHOOK:  # webhook gone: moderators' delete as the bot
                        await self._bot_delete(channel, message_id)
                    # UNKNOWN_MESSAGE: already deleted; deleting is idempotent
        except Exception as err:
            raise self._failed(err, f"delete in {channel.key()}") from err
        self.counters["deleted"] += len(ids)

    async def direct_message(self, user: PlatformUser, text: str) -> None:
        try:
            target = self.client.get_user(int(user.user_id)) or await self.client.fetch_user(int(user.user_id))
            dm = await target.create_dm()
            for part in split(to_discord(text)[0]):
                await dm.send(part, allowed_mentions=discord.AllowedMentions.none())
            self.counters["dms"] += 1
        except ValueError as err:
            raise DeliveryError(f"not a Discord user id: {user.user_id!r}", permanent=True) from err
        except Exception as err:
            raise self._failed(err, f"DM to discord user {user.user_id}") from err

    # -- helpers -------------------------------------------------------------------------------
    async def _render(self, channel: ChannelRef, message: OutboundMessage, lines: list[str]) -> tuple[str, list[str]]:
        body = "\n".join(x for x in (message.text, *lines) if x)
        text, pingable = to_discord(body, mentions=message.mentions)
        if message.reply_to:
            header = await self._reply_header(channel, message.reply_to[0])
            text = f"{header}\n{text}"
        return text, pingable

    async def _reply_header(self, channel: ChannelRef, message_id: str) -> str:
        author: str | None = None
        snippet: str | None = None
        try:
            data = await self.client.http.get_message(int(channel.channel_id), int(message_id))
            author = data["author"].get("global_name") or data["author"]["username"]
            snippet = data.get("content") or None
        except discord.NotFound:
            snippet = "(deleted message)"
        except (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, KeyError) as err:
            log.warning("reply lookup failed for %s in %s: %s", message_id, channel.key(), err)
        return reply_header(author, snippet, jump_url(channel.workspace, channel.channel_id, message_id))

    async def _post(
        self,
        channel: ChannelRef,
        content: str,
        message: OutboundMessage,
        allowed: discord.AllowedMentions,
        files: list[discord.File] | None = None,
    ) -> str:
        username = webhook_username(message.author_name)
        avatar = message.avatar_url or discord.utils.MISSING
        for attempt in (1, 2):
            hook = await self.webhooks.get(channel.channel_id)
            try:
                sent = await hook.send(
                    content,
                    username=username,
                    avatar_url=avatar,
                    allowed_mentions=allowed,
                    wait=True,
                    files=files or discord.utils.MISSING,
                )
                return str(sent.id)
            except discord.NotFound as err:
                if err.code != UNKNOWN_WEBHOOK or attempt == 2:
                    raise
                log.warning("webhook for %s was deleted; creating a new one", channel.key())
                await self.webhooks.forget(channel.channel_id)
        raise AssertionError("unreachable")

    async def _bot_delete(self, channel: ChannelRef, message_id: str) -> None:
        with contextlib.suppress(discord.NotFound):
            await self.client.http.delete_message(int(channel.channel_id), int(message_id))

    async def _delete_quietly(self, channel: ChannelRef, ids: list[str]) -> None:
        try:
            await self.delete(channel, ids)
        except DeliveryError as err:
            log.warning("could not remove partial parts %s in %s: %s", ids, channel.key(), err)


def _allowed(user_ids: list[str]) -> discord.AllowedMentions:
    users = [discord.Object(int(uid)) for uid in user_ids if uid.isdigit()]
    return discord.AllowedMentions(everyone=False, roles=False, users=users, replied_user=False)
