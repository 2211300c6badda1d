"""Bot REST routes: login, users, DMs, channels and their messages, webhook management, command sync."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from . import api_errors as errors
from . import appcommands, message_pages, payloads, webhook_names
from . import permissions as perms
from .service import Backend
from .state import Channel
from .uploads import take_files

JSON_BODY = web.RequestKey("json_body", object)
"""Where the middleware puts the parsed JSON body of a request."""

MAX_WEBHOOKS = 15
"""Webhooks per channel (topics/opcodes-and-status-codes.mdx: 30007 "Maximum number of webhooks reached (15)")."""


def reply(obj: Any, status: int = 200) -> web.Response:
    """JSON with ``Content-Type: application/json`` exactly (discord.py compares it with ``==``)."""
    return web.Response(body=json.dumps(obj).encode(), status=status, content_type="application/json")


def no_content() -> web.Response:
    return web.Response(status=204)


def body_of(request: web.Request) -> dict[str, Any]:
    body = request.get(JSON_BODY)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise errors.invalid_form_body("_root", "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    return body


class BotRoutes:
    def __init__(self, backend: Backend) -> None:
        self.b = backend
        self.world = backend.world

    def routes(self, prefix: str) -> list[web.RouteDef]:
        p = prefix
        return [
            web.get(f"{p}/users/@me", self.get_me),
            web.get(f"{p}/oauth2/applications/@me", self.get_app),
            web.get(f"{p}/gateway", self.get_gateway),
            web.get(f"{p}/gateway/bot", self.get_gateway_bot),
            web.post(f"{p}/users/@me/channels", self.create_dm),
            web.get(f"{p}/users/@me/guilds", self.my_guilds),
            web.get(f"{p}/users/{{user_id}}", self.get_user),
            web.get(f"{p}/channels/{{channel_id}}", self.get_channel),
            web.get(f"{p}/channels/{{channel_id}}/messages", self.list_messages),
            web.post(f"{p}/channels/{{channel_id}}/messages", self.create_message),
            web.get(f"{p}/channels/{{channel_id}}/messages/{{message_id}}", self.get_message),
            web.patch(f"{p}/channels/{{channel_id}}/messages/{{message_id}}", self.edit_message),
            web.delete(f"{p}/channels/{{channel_id}}/messages/{{message_id}}", self.delete_message),
            web.post(f"{p}/channels/{{channel_id}}/webhooks", self.create_webhook),
            web.get(f"{p}/channels/{{channel_id}}/webhooks", self.channel_webhooks),
            web.get(f"{p}/guilds/{{guild_id}}/webhooks", self.guild_webhooks),
            web.get(f"{p}/guilds/{{guild_id}}/members/{{user_id}}", self.get_member),
            web.get(f"{p}/applications/{{app_id}}/commands", self.get_commands),
            web.put(f"{p}/applications/{{app_id}}/commands", self.put_commands),
            web.get(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self.get_commands),
            web.put(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self.put_commands),
        ]

    def _need(self, channel: Channel, needed: int) -> None:
        """The bot's permissions in ``channel`` (``permissions.py``): 403 50001 / 50013 without them."""
        perms.require(self.world, self.world.bot.id, channel, needed)

    # -- login ---------------------------------------------------------------------------------
    async def get_me(self, request: web.Request) -> web.Response:
        return reply(payloads.me(self.world))

    async def get_app(self, request: web.Request) -> web.Response:
        return reply(payloads.app_info(self.world))

    async def get_gateway(self, request: web.Request) -> web.Response:
        return reply({"url": self.b.gateway.url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        shards = self.world.config.recommended_shards
        return reply({"url": self.b.gateway.url, "shards": shards, "session_start_limit": limit})

    # -- users ---------------------------------------------------------------------------------
    async def my_guilds(self, request: web.Request) -> web.Response:
        """``GET /users/@me/guilds`` (resources/user.mdx): partial guilds with the bot's permissions."""
        world = self.world
        guild: dict[str, Any] = {
            "id": world.guild_id,
            "name": world.guild_name,
            "icon": None,
            "banner": None,
            "owner": world.owner_id == world.bot.id,
            "permissions": str(world.permissions_of(world.bot.id)),
            "features": [],
        }
        return reply([guild])

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.world.users.get(request.match_info["user_id"])
        if user is None:
            raise errors.unknown_user()
        return reply(payloads.user(user))

    async def get_member(self, request: web.Request) -> web.Response:
        member = self.world.members.get(request.match_info["user_id"])
        if member is None or request.match_info["guild_id"] != self.world.guild_id:
            raise errors.APIError(404, 10007, "Unknown Member")
        return reply(payloads.member(self.world, member))

    async def create_dm(self, request: web.Request) -> web.Response:
        recipient = str(body_of(request).get("recipient_id"))
        if recipient not in self.world.users or self.world.users[recipient].bot:
            raise errors.invalid_form_body("recipient_id", "USER_NOT_FOUND", "Unknown User")
        return reply(payloads.channel(self.world, self.world.dm_channel(recipient)))

    # -- channels and messages -----------------------------------------------------------------
    async def get_channel(self, request: web.Request) -> web.Response:
        channel = self.b.channel(request.match_info["channel_id"])
        self._need(channel, perms.VIEW_CHANNEL)
        return reply(payloads.channel(self.world, channel))

    async def list_messages(self, request: web.Request) -> web.Response:
        channel = self.b.channel(request.match_info["channel_id"])
        self._need(channel, perms.VIEW_CHANNEL)
        if not perms.in_channel(self.world, self.world.bot.id, channel) & perms.READ_MESSAGE_HISTORY:
            # resources/message.mdx, Get Channel Messages: "If the current user is missing the
            # READ_MESSAGE_HISTORY permission in the channel, then no messages will be returned."
            return reply([])
        return reply(message_pages.page(list(channel.messages.values()), request.query))

    async def get_message(self, request: web.Request) -> web.Response:
        channel = self.b.channel(request.match_info["channel_id"])
        self._need(channel, perms.VIEW_CHANNEL | perms.READ_MESSAGE_HISTORY)  # Get Channel Message
        return reply(self.b.message(channel, request.match_info["message_id"]))

    async def create_message(self, request: web.Request) -> web.Response:
        channel = self.b.channel(request.match_info["channel_id"])
        self._need(channel, perms.to_send(channel))  # Create Message: SEND_MESSAGES (threads: _IN_THREADS)
        payload, files = await take_files(request, self.b, channel.id)
        if payload is not None:
            request[JSON_BODY] = payload
        body = body_of(request)
        # Create Message: files need ATTACH_FILES, a reply READ_MESSAGE_HISTORY
        self._need(channel, (perms.ATTACH_FILES if files else 0) | (
            perms.READ_MESSAGE_HISTORY if body.get("message_reference") else 0))  # fmt: skip
        message = await self.b.create_message(
            channel,
            author=payloads.user(self.world.bot),
            content=body.get("content"),
            reference=body.get("message_reference"),
            allowed_mentions=body.get("allowed_mentions"),
            flags=int(body.get("flags") or 0),
            extra={"attachments": files, "embeds": body.get("embeds")},
        )
        return reply(message)

    async def edit_message(self, request: web.Request) -> web.Response:
        channel = self.b.channel(request.match_info["channel_id"])
        message = self.b.message(channel, request.match_info["message_id"])
        if message["author"]["id"] != self.world.bot.id or "webhook_id" in message:
            raise errors.cannot_edit_other()
        body = body_of(request)
        content = body.get("content", message["content"])
        edited = await self.b.edit_message(
            channel, message["id"], content=content, allowed_mentions=body.get("allowed_mentions")
        )
        return reply(edited)

    async def delete_message(self, request: web.Request) -> web.Response:
        channel = self.b.channel(request.match_info["channel_id"])
        message = self.b.message(channel, request.match_info["message_id"])
        own = message["author"]["id"] == self.world.bot.id and "webhook_id" not in message
        if not own and channel.type == 1:
            raise errors.cannot_edit_other()
        if not own:  # Delete Message: another's message needs MANAGE_MESSAGES
            self._need(channel, perms.MANAGE_MESSAGES)
        await self.b.delete_message(channel, message["id"])
        return no_content()

    # -- webhooks ------------------------------------------------------------------------------
    async def create_webhook(self, request: web.Request) -> web.Response:
        channel = self.b.channel(request.match_info["channel_id"])
        if channel.type not in (0, 5, 15, 16):  # text, announcement, forum, media (resources/webhook.mdx)
            raise errors.APIError(400, 50024, "Cannot execute action on this channel type")
        self._need(channel, perms.VIEW_CHANNEL | perms.MANAGE_WEBHOOKS)  # Create Webhook: MANAGE_WEBHOOKS
        name = body_of(request).get("name")
        webhook_names.check("name", name, strict_invisible=self.world.config.webhook_names_strict)
        assert isinstance(name, str)
        if sum(1 for w in self.world.webhooks.values() if w.channel_id == channel.id) >= MAX_WEBHOOKS:
            # topics/opcodes-and-status-codes.mdx: 30007 "Maximum number of webhooks reached (15)"
            raise errors.APIError(400, 30007, "Maximum number of webhooks reached (15)")
        hook = self.world.new_webhook(channel, name, self.world.bot.id)
        self.b.notifier.poke()
        return reply(payloads.webhook(self.world, hook))

    async def channel_webhooks(self, request: web.Request) -> web.Response:
        channel = self.b.channel(request.match_info["channel_id"])
        self._need(channel, perms.VIEW_CHANNEL | perms.MANAGE_WEBHOOKS)  # Get Channel Webhooks
        hooks = [h for h in self.world.webhooks.values() if h.channel_id == channel.id]
        return reply([payloads.webhook(self.world, h) for h in hooks])

    async def guild_webhooks(self, request: web.Request) -> web.Response:
        if not self.world.permissions_of(self.world.bot.id) & perms.MANAGE_WEBHOOKS:  # Get Guild Webhooks
            raise errors.missing_permissions()
        return reply([payloads.webhook(self.world, h) for h in self.world.webhooks.values()])

    # -- application commands ------------------------------------------------------------------
    def _command_list(self, request: web.Request) -> list[dict[str, Any]]:
        if request.match_info["app_id"] != self.world.application_id:
            raise errors.APIError(403, 50001, "Missing Access")
        guild_id = request.match_info.get("guild_id")
        if guild_id is None:
            return self.world.global_commands
        if guild_id != self.world.guild_id:
            raise errors.APIError(403, 50001, "Missing Access")
        return self.world.guild_commands.setdefault(guild_id, [])

    async def get_commands(self, request: web.Request) -> web.Response:
        return reply(self._command_list(request))

    async def put_commands(self, request: web.Request) -> web.Response:
        current = self._command_list(request)
        body = appcommands.validate_commands(request.get(JSON_BODY))
        guild_id = request.match_info.get("guild_id")
        stored = []
        for command in body:
            old = appcommands.find_command(current, command["name"])
            entry = {
                **command,
                "id": old["id"] if old else self.world.ids.next(),
                "application_id": self.world.application_id,
                "version": self.world.ids.next(),
                "type": command.get("type", 1),
                "default_member_permissions": command.get("default_member_permissions"),
                # null in the request means the default: installable in guilds (0), discord-api-docs
                # interactions/application-commands.mdx "integration_types"
                "integration_types": command.get("integration_types") or [0],
            }
            if guild_id is not None:
                entry["guild_id"] = guild_id
            stored.append(entry)
        current[:] = stored
        self.b.notifier.poke()
        return reply(stored)
