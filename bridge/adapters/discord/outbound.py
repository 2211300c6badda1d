"""Room traffic out: :class:`DiscordDestination` implements ``bridge.core.ports.Destination``.

Messages are posted through the channel's webhook as the author (username + avatar). Replies
cannot be native for webhook posts, so a reply starts with a quote line and a jump link.
``allowed_mentions`` lets only the users in ``OutboundMessage.mentions`` be pinged: never
``@everyone``/``@here``, never roles, never someone whose ``<@id>`` was typed by hand.

Rate limits (the choice): discord.py handles short 429s itself. On webhook routes it would sleep
any ``retry_after`` and retry up to 5 times inside the call; ``webhook_limits`` lets it do so only up
to ``webhook_max_wait_s`` and turns longer waits, global limits and Cloudflare bans into
``DeliveryError(retry_after=...)`` at once, so the worker reschedules the job in order. The parts
a split post or a growing edit posted before such a 429 are kept (deleting them would spend more of
the limit) and its retry posts only the rest.
The bot's own routes (DMs, notices, reactions, thread and webhook creation, reply lookups) get the
same treatment while a delivery runs (``bot_limits``: every destination call is ``delivering``), so
no bot-route 429 longer than ``webhook_max_wait_s`` is slept inside a call either.
401 (token revoked) is an outage, not permanent; other 4xx answers are permanent
(``DeliveryError(permanent=True)``); 5xx and network errors are not.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import discord

from bridge.adapters.file_transfer import FILE_BYTES, FILES_MOVED, FileHub
from bridge.core.chat import Chat
from bridge.core.ports import Attachment, ChannelRef, OutboundMessage, Platform, PlatformUser
from bridge.errors import DeliveryError
from bridge.formatting.thread_text import orphan_header

if TYPE_CHECKING:
    from .reactions_relay import DiscordReactions

from . import reconcile
from .bot_limits import BotLimits
from .config import DiscordConfig
from .endpoints import jump_url
from .files import Plan, lines_for_edit, planned, upload_limit
from .permission_watch import PermissionWatch, is_refusal
from .text import reply_header, split, to_discord, webhook_username
from .thread_places import THREAD_ARCHIVED, Placement, Threads
from .webhook_limits import RateGate, Throttled
from .webhooks import WebhookStore

log = logging.getLogger(__name__)
UNKNOWN_WEBHOOK, UNKNOWN_MESSAGE, REQUEST_TOO_LARGE, INVALID_FORM = 10015, 10008, 40005, 50035
MISSING = discord.utils.MISSING
T = TypeVar("T")


def to_delivery_error(err: BaseException, what: str, gate: RateGate | None = None) -> DeliveryError:
    """Map a discord.py / network failure to the worker's :class:`DeliveryError` (a Cloudflare 429
    on a bot route also holds the webhooks' ``gate``)."""
    if isinstance(err, DeliveryError):
        return err
    if isinstance(err, Throttled):
        return DeliveryError(f"{what}: {err}", retry_after=err.retry_after)
    if isinstance(err, discord.RateLimited):
        return DeliveryError(f"{what}: rate limited", retry_after=err.retry_after)
    if isinstance(err, discord.HTTPException):
        detail = f"{what}: HTTP {err.status} (code {err.code}) {err.text[:200]}"
        if err.status == 429:
            cloudflare = not (getattr(err.response, "headers", None) or {}).get("Via")
            if cloudflare and gate is not None:  # an IP ban: no Retry-After, and every refusal prolongs it
                return DeliveryError(f"{detail} (Cloudflare)", retry_after=gate.cloudflare())
            return DeliveryError(detail, retry_after=_retry_after(err))
        if err.status >= 500 or err.status == 408:
            return DeliveryError(detail)
        if err.status == 401:  # the bot token was revoked: an outage of the whole side, held, not dropped
            return DeliveryError(detail)
        if is_refusal(err):  # a permission is missing: held until an admin grants it (permission_watch)
            return DeliveryError(detail, needs_admin=True)
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
        bot_limits: BotLimits | None = None,
    ) -> None:
        self.client = client
        self.bot_limits = bot_limits or BotLimits(RateGate(max_wait_s=config.webhook_max_wait_s))
        """Bot-route 429s raised, not slept, inside these calls (``bot_limits``)."""
        self.chat = chat
        self.config = config
        self.webhooks = webhooks
        self.files = files or FileHub()
        """Where attachments are downloaded from (the origin's source) and senders are told."""
        self.threads = Threads(client=client, chat=chat)
        """Where thread replies and forum posts go (``thread_places``)."""
        self.visible_names = False
        """Set once Discord refused a name with a zero-width-space rewrite (see ``webhook_username``)."""
        self.counters: collections.Counter[str] = collections.Counter()
        """sent/edited/deleted/dms (parts), rate_limited, failed, permanent: for /metrics."""
        self.reactions: DiscordReactions | None = None
        """The bot's reactions (set by the adapter; see ``reactions``)."""
        self._partial: dict[tuple[str, str], list[str]] = {}
        """Parts of a split message posted before a 429 (this process): its retry posts the rest."""
        self._grown: dict[tuple[str, str], tuple[tuple[str, ...], list[tuple[str, str]]]] = {}
        """Parts an edit that grew posted before a 429 (this process), by (channel, first part id):
        the ids it edited, and each new part's (id, text). Its retry (or a newer edit of the same
        message) reuses them; a delete of the message removes them too."""
        self.watch: PermissionWatch | None = None
        """Tells the admins about a held channel (missing permission) and when it works again."""

    def _failed(self, err: BaseException, what: str) -> DeliveryError:
        error = to_delivery_error(err, what, self.webhooks.gate)
        self.counters["rate_limited" if error.retry_after is not None else "failed"] += 1
        if error.permanent:
            self.counters["permanent"] += 1
        return error

    # -- Destination ---------------------------------------------------------------------------
    async def _checked(self, channel: ChannelRef, work: Awaitable[T]) -> T:
        """A destination call; a refusal an admin must fix is told to them (``permission_watch``)
        and held; a success closes whatever was held in the channel."""
        try:
            with self.bot_limits.delivering():
                result = await work
        except Throttled as err:  # a global limit or ban on the bot's routes: not even asked
            _close(work)
            raise self._failed(err, f"delivery to {channel.key()}") from err
        except DeliveryError as err:
            if err.needs_admin and self.watch is not None:
                raise await self.watch.refused(channel, err) from err
            raise
        if self.watch is not None:
            self.watch.worked(channel)
        return result

    async def send(self, channel: ChannelRef, message: OutboundMessage) -> list[str]:
        return await self._checked(channel, self._send_files(channel, message))

    async def _send_files(self, channel: ChannelRef, message: OutboundMessage) -> list[str]:
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
            refusal = _file_refusal(err)
            if refusal is None or not plan.uploads:
                raise self._failed(err, f"send to {channel.key()}") from err
            # the guild's limit was lower than it looked (a boost lost since the last GUILD_UPDATE):
            # the text still crosses, the files as lines, and the sender is told
            plan.give_up_uploads(refusal)
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
        return await self._send_at(channel, message, plan, await self.threads.place(channel, message))

    async def _send_at(self, channel: ChannelRef, message: OutboundMessage, plan: Plan, place: Placement) -> list[str]:
        """Post every part where ``place`` says (a broadcast reply also in the channel); a reply into
        a locked thread goes to the channel instead, saying which thread it belongs to."""
        text, pingable = await self._render(channel, message, plan.lines, place)
        allowed = _allowed(pingable)
        parts = split(text) if text else [""]
        sent: list[str] = []
        key = (channel.key(), message.core_id)
        plain = place.thread is None and place.new_post is None and not place.also_channel
        try:
            if plain and key in self._partial:  # a rate-limited attempt posted these: the rest follows
                sent = self._partial.pop(key)[: len(parts)]
            elif message.reconcile_since_ms and plain:  # an attempt may have landed: look before resending
                sent = await self._landed(channel, message, parts)
            for index in range(len(sent), len(parts)):
                files = plan.files() if index == 0 else []
                sent.append(await self._post(channel, parts[index], message, allowed, files, place))
                if place.new_post is not None:  # the forum post it started: the other parts go in it
                    place = Placement(thread=int(sent[0]), also_channel=False)
                if place.thread is not None:
                    await self.threads.remember(channel, sent[-1], place.thread)
            if place.also_channel:
                for part in parts:
                    sent.append(await self._post(channel, part, message, allowed, None, Placement()))
        except Exception as err:
            if sent and plain and _rate_limited(err):  # kept, and resumed after the wait (deleting
                self._partial[key] = sent  # would only spend more of the limit, and could fail too)
                raise
            if sent:  # no half-delivered message: the worker's retry starts from a clean slate
                await self._delete_quietly(channel, sent)
            locked = isinstance(err, discord.HTTPException) and err.code == THREAD_ARCHIVED
            if not locked or place.thread is None:
                raise
            if sent or await self.threads.is_forum(int(channel.channel_id)):  # a forum takes no channel posts
                raise DeliveryError(f"the thread {place.thread} is locked", permanent=True) from err
            log.warning("%s: thread %s is locked; %s goes to the channel", channel.key(), place.thread, message.core_id)
            return await self._send_at(channel, message, plan, Placement(header=True))
        if message.thread_root and place.thread is not None:
            await self.chat.set_thread_home(channel, message.thread_root, str(place.thread))
        return sent

    async def edit(self, channel: ChannelRef, ids: list[str], message: OutboundMessage) -> list[str]:
        return await self._checked(channel, self._edit(channel, ids, message))

    async def _edit(self, channel: ChannelRef, ids: list[str], message: OutboundMessage) -> list[str]:
        lines = lines_for_edit(message.files, upload_limit(self.client, channel.workspace), self.files.max_bytes)
        holding: list[str] = []
        added: list[str] = []
        others: list[tuple[int | None, list[str]]] = []
        parts: list[str] = []
        base = tuple(ids)
        key = (channel.key(), ids[0] if ids else "")
        kept = self._grown.pop(key, None)
        reuse = kept[1] if kept is not None and kept[0] == base else []
        try:
            place = await self.threads.place(channel, message)
            text, pingable = await self._render(channel, message, lines, place)
            allowed = _allowed(pingable)
            parts = split(text) if text else [""]  # files only: the first part keeps them, with no text
            hook = await self.webhooks.get(channel.channel_id)
            groups = await self._copies(channel, ids)
            if len(groups) > 1:  # a broadcast reply: a copy in its thread and one in the channel
                ids, others = groups[0][1], groups[1:]
            extra = parts[len(ids) :]
            where = await self.threads.thread_of(channel, ids[0]) if ids and extra else None
            in_channel = where is None and place.thread is None  # reconcile looks in the channel only
            if others:  # a broadcast's parts are not kept across a 429 (below): none to reuse
                await self._delete_quietly(channel, [i for i, _ in reuse])
                reuse = []
            landed = (
                await self._landed(channel, message, extra)
                if message.reconcile_since_ms and extra and in_channel and not reuse
                else []
            )
            for index, part in enumerate(parts):
                if index < len(ids):
                    files = message.files if index == 0 else None  # the first part holds the files
                    await self._edit_one(channel, hook, ids[index], part, allowed, files)
                    holding.append(ids[index])
                elif index - len(ids) < len(reuse):  # posted by an attempt refused later with a 429
                    posted, posted_text = reuse[index - len(ids)]
                    if posted_text != part:  # a newer text meanwhile
                        await self._edit_one(channel, hook, posted, part, allowed)
                    holding.append(posted)
                    added.append(posted)
                elif index - len(ids) < len(landed):  # posted by an attempt that died
                    holding.append(landed[index - len(ids)])
                    added.append(holding[-1])
                else:  # a longer text: the new parts go where the first one is
                    spot = Placement(thread=where) if where else Placement(thread=place.thread)
                    holding.append(await self._post(channel, part, message, allowed, None, spot))
                    added.append(holding[-1])
                    if spot.thread is not None:
                        await self.threads.remember(channel, holding[-1], spot.thread)
            for other, copy in others:  # the broadcast's other copy, edited where it is
                await self._edit_copy(channel, hook, copy, other, parts, message, allowed, holding, added)
        except Exception as err:
            if added and not others and _rate_limited(err):  # kept, and reused by the retry after the wait
                self._grown[key] = (base, [(i, parts[len(ids) + n]) for n, i in enumerate(added)])  # (deleting
            elif added:  # would spend more of the limit); else removed: the retry does not post them twice
                await self._delete_quietly(channel, added)
            raise self._failed(err, f"edit in {channel.key()}") from err
        surplus = ids[len(parts) :] + [i for _, copy in others for i in copy[len(parts) :]]
        surplus += [i for i, _ in reuse[max(0, len(parts) - len(ids)) :]]  # the newer text is shorter
        if surplus:
            await self.delete(channel, surplus)
        self.counters["edited"] += 1
        return holding

    async def _edit_copy(
        self, channel: ChannelRef, hook: discord.Webhook, copy: list[str], thread: int | None, parts: list[str],
        message: OutboundMessage, allowed: discord.AllowedMentions, holding: list[str], added: list[str],
    ) -> None:  # fmt: skip
        """A broadcast reply's other copy (in ``thread``, or None: the channel), edited where it is."""
        for index, part in enumerate(parts):
            if index < len(copy):
                await self._edit_one(channel, hook, copy[index], part, allowed)
                holding.append(copy[index])
                continue
            holding.append(await self._post(channel, part, message, allowed, None, Placement(thread=thread)))
            added.append(holding[-1])
            if thread is not None:
                await self.threads.remember(channel, holding[-1], thread)

    async def _copies(self, channel: ChannelRef, ids: list[str]) -> list[tuple[int | None, list[str]]]:
        """The posted parts grouped by where they are (a thread id, or None: the channel), in order."""
        groups: dict[int | None, list[str]] = {}
        for message_id in ids:
            groups.setdefault(await self.threads.thread_of(channel, message_id), []).append(message_id)
        return list(groups.items()) or [(None, [])]

    async def _edit_one(
        self,
        channel: ChannelRef,
        hook: discord.Webhook,
        message_id: str,
        part: str,
        allowed: discord.AllowedMentions,
        files: tuple[Attachment, ...] | None = None,
    ) -> None:
        """Edit one posted part where it lives; in an archived thread, unarchive it first (50083).
        ``files``: the original's attachments now; the copy's attachments no longer among them (by
        name) are removed (Edit Message keeps only the ``attachments`` listed)."""
        thread = await self.threads.thread_of(channel, message_id)
        where = discord.Object(thread) if thread else MISSING
        keep: Any = MISSING
        if files is not None:
            copy = await hook.fetch_message(int(message_id), thread=where)
            kept = kept_attachments(copy.attachments, files)
            if len(kept) < len(copy.attachments):
                keep = kept
        try:
            await hook.edit_message(
                int(message_id), content=part, allowed_mentions=allowed, thread=where, attachments=keep
            )
        except discord.HTTPException as err:
            if err.code != THREAD_ARCHIVED or thread is None:
                raise
            await self.threads.unarchive(thread)  # a locked one answers 403 unless the bot may manage threads
            await hook.edit_message(
                int(message_id), content=part, allowed_mentions=allowed, thread=where, attachments=keep
            )

    async def delete(self, channel: ChannelRef, ids: list[str]) -> None:
        kept = self._grown.pop((channel.key(), ids[0]), None) if ids else None
        if kept is not None and kept[0] == tuple(ids):  # parts a rate-limited edit posted go with it
            ids = ids + [i for i, _ in kept[1]]
        await self._checked(channel, self._delete(channel, ids))

    async def _delete(self, channel: ChannelRef, ids: list[str]) -> None:
        try:
            hook = await self.webhooks.get(channel.channel_id)
            for message_id in ids:
                self.webhooks.deleting(message_id)
                thread = await self.threads.thread_of(channel, message_id)
                try:
                    await hook.delete_message(int(message_id), thread=discord.Object(thread) if thread else MISSING)
                except discord.NotFound as err:
                    if err.code == UNKNOWN_WEBHOOK:  # webhook gone: moderators' delete as the bot
                        await self._bot_delete(channel, message_id, thread)
                    # UNKNOWN_MESSAGE: already deleted; deleting is idempotent
                if thread is not None:
                    await self.threads.forget(channel, message_id)
        except Exception as err:
            raise self._failed(err, f"delete in {channel.key()}") from err
        self.counters["deleted"] += len(ids)

    async def react(self, channel: ChannelRef, message_id: str, emoji: str, *, add: bool) -> bool:
        if self.reactions is None:
            return False
        try:
            with self.bot_limits.delivering():
                thread = await self.threads.thread_of(channel, message_id)  # a copy (or original) in a thread
                where = ChannelRef(channel.platform, channel.workspace, str(thread)) if thread else channel
                done = await self.reactions.react(where, message_id, emoji, add=add)
        except Throttled as err:
            raise self._failed(err, f"reaction {emoji} on {message_id}") from err
        self.counters["reactions" if done else "reactions_unavailable"] += 1
        return done

    async def direct_message(self, user: PlatformUser, text: str) -> None:
        try:
            with self.bot_limits.delivering():
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
    async def _render(
        self, channel: ChannelRef, message: OutboundMessage, lines: list[str], place: Placement | None = None
    ) -> tuple[str, list[str]]:
        body = "\n".join(x for x in (message.text, *lines) if x)
        if place is not None and place.header:  # not in its thread: say which thread it belongs to
            body = f"{orphan_header(message.thread_title)}\n{body}"
        text, pingable = to_discord(body, mentions=message.mentions)
        if message.reply_to:
            header = await self._reply_header(channel, message.reply_to[0], place)
            text = f"{header}\n{text}"
        return text, pingable

    async def _reply_header(self, channel: ChannelRef, message_id: str, place: Placement | None = None) -> str:
        author: str | None = None
        snippet: str | None = None
        # the replied message may be in a thread: one the bridge posted into, or the reply's own
        where = await self.threads.thread_of(channel, message_id) or (place.thread if place else None)
        where = where or int(channel.channel_id)
        try:
            data = await self.client.http.get_message(where, int(message_id))
            author = data["author"].get("global_name") or data["author"]["username"]
            snippet = data.get("content") or None
        except discord.NotFound:
            snippet = "(deleted message)"
        except (discord.HTTPException, discord.RateLimited, Throttled, aiohttp.ClientError, KeyError) as err:
            log.warning("reply lookup failed for %s in %s: %s", message_id, channel.key(), err)
        return reply_header(author, snippet, jump_url(channel.workspace, str(where), message_id))

    async def _post(
        self,
        channel: ChannelRef,
        content: str,
        message: OutboundMessage,
        allowed: discord.AllowedMentions,
        files: list[discord.File] | None = None,
        place: Placement | None = None,
    ) -> str:
        username = webhook_username(message.author_name, visible=self.visible_names)
        avatar = message.avatar_url or discord.utils.MISSING
        where = place or Placement()
        # into a thread (``thread_id``), or a new forum post (``thread_name``), or the channel
        thread = discord.Object(where.thread) if where.thread is not None and where.new_post is None else MISSING
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
                    thread=thread,
                    thread_name=where.new_post if where.new_post is not None else MISSING,
                )
                return str(sent.id)
            except discord.NotFound as err:
                if err.code != UNKNOWN_WEBHOOK or attempt == 2:
                    raise
                log.warning("webhook for %s was deleted; creating a new one", channel.key())
                await self.webhooks.forget(channel.channel_id)
            except discord.HTTPException as err:
                refused = err.status == 400 and err.code == INVALID_FORM and "In username" in err.text
                if not refused or self.visible_names or attempt == 2:
                    raise
                # Discord's name check saw through the zero-width space: the visible form from now on
                log.warning("Discord refused webhook name %r; using visible name rewrites", username)
                self.visible_names = True
                username = webhook_username(message.author_name, visible=True)
        raise AssertionError("unreachable")

    async def _landed(self, channel: ChannelRef, message: OutboundMessage, parts: list[str]) -> list[str]:
        self.counters["reconciled"] += 1
        return await reconcile.posted_parts(
            self.client, self.chat, self.webhooks, channel,
            parts=parts, username=webhook_username(message.author_name), since_ms=message.reconcile_since_ms,
        )  # fmt: skip

    async def _bot_delete(self, channel: ChannelRef, message_id: str, thread: int | None = None) -> None:
        with contextlib.suppress(discord.NotFound):
            await self.client.http.delete_message(thread or int(channel.channel_id), int(message_id))

    async def _delete_quietly(self, channel: ChannelRef, ids: list[str]) -> None:
        try:
            await self.delete(channel, ids)
        except DeliveryError as err:
            log.warning("could not remove partial parts %s in %s: %s", ids, channel.key(), err)


def kept_attachments(current: list[discord.Attachment], files: tuple[Attachment, ...]) -> list[discord.Attachment]:
    """The copy's attachments whose file is still on the original (matched by name, each once)."""
    names = collections.Counter(f.name for f in files)
    kept = []
    for attachment in current:
        if names[attachment.filename] > 0:
            names[attachment.filename] -= 1
            kept.append(attachment)
    return kept


def _close(work: Awaitable[Any]) -> None:
    """A call never started (refused before it ran): no "never awaited" warning for it."""
    if asyncio.iscoroutine(work):
        work.close()


def _rate_limited(err: BaseException) -> bool:
    if isinstance(err, Throttled | discord.RateLimited):
        return True
    return isinstance(err, discord.HTTPException) and err.status == 429


def _file_refusal(err: discord.HTTPException) -> str | None:
    """Why Discord refused a post because of its files (None: not because of them)."""
    if err.code == REQUEST_TOO_LARGE or err.status == 413:
        return "refused by Discord as too large"
    return None


def _allowed(user_ids: list[str]) -> discord.AllowedMentions:
    users = [discord.Object(int(uid)) for uid in user_ids if uid.isdigit()]
    return discord.AllowedMentions(everyone=False, roles=False, users=users, replied_user=False)
