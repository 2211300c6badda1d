"""Operations shared by the REST routes, the control routes and the Python API of the emulator.

Each mutation updates the stored state first, then sends the gateway dispatch Discord would send
(the bot's own posts and webhook posts included: that echo is what loop prevention relies on).
"""

from __future__ import annotations

import secrets
from typing import Any

from ..blobs import BlobStore
from . import api_errors as errors
from . import payloads
from .cdn import CDN
from .gateway import Gateway, message_shape
from .recorder import Notifier
from .state import MAX_CONTENT, Channel, Interaction, Webhook, World, iso_now
from .threads import Threads

EPHEMERAL = 1 << 6
LOADING = 1 << 7


def check_content(content: Any, *, allow_empty: bool = False) -> str:
    """Validate ``content`` like Discord does (type, 2000-character limit, emptiness)."""
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise errors.invalid_form_body("content", "STRING_TYPE_CONVERT", "Could not interpret value as string.")
    if len(content) > MAX_CONTENT:
        raise errors.content_too_long(MAX_CONTENT)
    if not content and not allow_empty:
        raise errors.empty_message()
    return content


class Backend:
    def __init__(self, world: World, gateway: Gateway, notifier: Notifier) -> None:
        self.world = world
        self.gateway = gateway
        self.notifier = notifier
        self.blobs = BlobStore()
        self.cdn = CDN(self.blobs)
        """Attachments and stickers (``cdn.py``); its base URL is set when the server starts."""
        self.posted: list[dict[str, Any]] = []
        """Log of every message created/edited/deleted through the API (bot, webhooks, interactions)."""
        self.threads = Threads(self, check_content)

    # -- lookups -----------------------------------------------------------------------------
    def channel(self, channel_id: str) -> Channel:
        channel = self.world.channels.get(channel_id)
        if channel is None:
            raise errors.unknown_channel()
        return channel

    def message(self, channel: Channel, message_id: str) -> dict[str, Any]:
        message = channel.messages.get(message_id)
        if message is None:
            raise errors.unknown_message()
        return message

    def webhook(self, webhook_id: str, token: str | None) -> Webhook:
        hook = self.world.webhooks.get(webhook_id)
        if hook is None:
            raise errors.unknown_webhook()
        if token is not None and hook.token != token:
            raise errors.invalid_webhook_token()
        return hook

    # -- messages ----------------------------------------------------------------------------
    async def create_message(
        self,
        channel: Channel,
        *,
        author: dict[str, Any],
        content: Any,
        webhook: Webhook | None = None,
        reference: dict[str, Any] | None = None,
        allowed_mentions: dict[str, Any] | None = None,
        avatar_url: str | None = None,
        flags: int = 0,
        msg_type: int = 0,
        application_id: str | None = None,
        dispatch: bool = True,
        source: str = "api",
        allow_empty: bool = False,
        message_id: str | None = None,
        extra: dict[str, Any] | None = None,
        reference_raw: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``extra``: attachments, sticker_items, embeds, message_snapshots, poll (rich.py, uploads.py);
        a message with any of them may have empty content (resources/message.mdx, Create Message:
        "at least one of content, embeds, sticker_ids, components, files[n], or poll")."""
        rich = {k: v for k, v in (extra or {}).items() if v}
        text = check_content(content, allow_empty=allow_empty or bool(rich))
        if not flags & EPHEMERAL:
            await self.threads.admit(channel, str(author.get("id")))
        if reference is not None:
            ref_id = str(reference.get("message_id"))
            if ref_id not in channel.messages:
                raise errors.invalid_form_body(
                    "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
            reference = {"message_id": ref_id, "channel_id": channel.id, "type": 0}
            if channel.guild_id is not None:
                reference["guild_id"] = channel.guild_id
        message_id = message_id or self.world.ids.next()
        ping = self.world.compute_ping(text, allowed_mentions)
        message = payloads.message(
            self.world,
            channel,
            message_id=message_id,
            author=author,
            content=text,
            ping=ping,
            webhook=webhook,
            reference=reference,
            flags=flags,
            msg_type=msg_type,
            application_id=application_id,
        )
        message.update(rich)
        if reference_raw is not None:  # a forward: the reference as built, no referenced_message
            message["message_reference"] = reference_raw
        self.world.pings[message_id] = ping
        self.world.avatar_urls[message_id] = avatar_url
        if not flags & EPHEMERAL:
            channel.messages[message_id] = message
            self.threads.counted(channel, 1)
        if source != "user":
            self.posted.append({"action": "create", "message": message, "avatar_url": avatar_url})
        if dispatch and not flags & EPHEMERAL:
            await self.gateway.dispatch("MESSAGE_CREATE", message, shape=message_shape(self.world))
        self.notifier.poke()
        return message

    async def edit_message(
        self,
        channel: Channel,
        message_id: str,
        *,
        content: Any,
        allowed_mentions: dict[str, Any] | None = None,
        source: str = "api",
        keep_attachments: list[Any] | None = None,
    ) -> dict[str, Any]:
        """``keep_attachments``: the ``attachments`` of an Edit Message body, the ones to keep; any
        previously uploaded attachment not listed is removed (resources/message.mdx, Edit Message)."""
        message = self.message(channel, message_id)
        if keep_attachments is not None:
            keep = {str(a.get("id")) for a in keep_attachments if isinstance(a, dict)}
            gone = [a for a in message.get("attachments") or [] if str(a.get("id")) not in keep]
            message["attachments"] = [a for a in message.get("attachments") or [] if str(a.get("id")) in keep]
            self.cdn.forget(gone)
        text = check_content(content, allow_empty=bool(message.get("attachments") or message.get("sticker_items")))
        self.threads.editable(channel)
        ping = self.world.compute_ping(text, allowed_mentions)
        self.world.pings[message_id] = ping
        message["content"] = text
        message["flags"] = int(message.get("flags", 0)) & ~LOADING
        message["edited_timestamp"] = iso_now()
        message["mentions"] = [payloads.user(self.world.users[u]) for u in ping.users]
        message["mention_roles"] = list(ping.roles)
        message["mention_everyone"] = ping.everyone
        if source != "user":
            self.posted.append({"action": "edit", "message": dict(message)})
        await self.gateway.dispatch("MESSAGE_UPDATE", dict(message), shape=message_shape(self.world))
        self.notifier.poke()
        return message

    async def delete_message(self, channel: Channel, message_id: str, *, source: str = "api") -> None:
        message = self.message(channel, message_id)
        del channel.messages[message_id]
        self.threads.counted(channel, -1)
        self.cdn.forget(message.get("attachments") or [])  # a deleted message's files leave the CDN
        event: dict[str, Any] = {"id": message_id, "channel_id": channel.id}
        if channel.guild_id is not None:
            event["guild_id"] = channel.guild_id
        if source != "user":
            self.posted.append({"action": "delete", "message": event})
        await self.gateway.dispatch("MESSAGE_DELETE", event, shape=message_shape(self.world))
        self.notifier.poke()

    # -- interactions ------------------------------------------------------------------------
    async def create_interaction(
        self, *, kind: int, data: dict[str, Any], user_id: str, channel: Channel
    ) -> Interaction:
        interaction_id = self.world.ids.next()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(60)
        payload = payloads.interaction(
            self.world,
            interaction_id=interaction_id,
            token=token,
            kind=kind,
            data=data,
            user_id=user_id,
            channel=channel,
        )
        inter = Interaction(interaction_id, token, payload)
        self.world.interactions[interaction_id] = inter
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return inter

    def interaction_by_token(self, token: str) -> Interaction:
        for inter in self.world.interactions.values():
            if inter.token == token:
                return inter
        raise errors.unknown_webhook()
