"""Token-authenticated routes: webhook execution and webhook messages, interaction callbacks and followups.

``/webhooks/{application_id}/{interaction_token}`` is the interaction followup webhook; any other
``/webhooks/{id}/{token}`` is a channel webhook.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import api_errors as errors
from . import interaction_deadlines, payloads, webhook_names
from . import permissions as perms
from .channel_types import THREAD_ONLY
from .rest import JSON_BODY, body_of, no_content, reply
from .service import EPHEMERAL, LOADING, Backend, check_content
from .state import Channel, Interaction, Webhook
from .threads import is_thread
from .uploads import take_files

CALLBACK_MESSAGE, CALLBACK_DEFERRED, CALLBACK_DEFERRED_UPDATE, CALLBACK_UPDATE = 4, 5, 6, 7
CALLBACK_AUTOCOMPLETE, CALLBACK_MODAL = 8, 9


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true")


class TokenRoutes:
    def __init__(self, backend: Backend) -> None:
        self.b = backend
        self.world = backend.world

    def routes(self, prefix: str) -> list[web.RouteDef]:
        p = prefix
        hook = f"{p}/webhooks/{{webhook_id}}/{{token}}"
        return [
            web.get(f"{p}/webhooks/{{webhook_id}}", self.get_webhook),
            web.delete(f"{p}/webhooks/{{webhook_id}}", self.delete_webhook),
            web.get(hook, self.get_webhook),
            web.post(hook, self.execute),
            web.get(f"{hook}/messages/{{message_id}}", self.get_hook_message),
            web.patch(f"{hook}/messages/{{message_id}}", self.edit_hook_message),
            web.delete(f"{hook}/messages/{{message_id}}", self.delete_hook_message),
            web.post(f"{p}/interactions/{{interaction_id}}/{{token}}/callback", self.callback),
        ]

    def _is_app(self, request: web.Request) -> bool:
        return request.match_info["webhook_id"] == self.world.application_id

    def _hook(self, request: web.Request) -> Webhook:
        return self.b.webhook(request.match_info["webhook_id"], request.match_info.get("token"))

    # -- channel webhooks ----------------------------------------------------------------------
    def _managed(self, hook: Webhook, request: web.Request) -> None:
        """resources/webhook.mdx: Get/Delete Webhook (without its token) need MANAGE_WEBHOOKS; the
        ``/{id}/{token}`` forms need no permission at all (the token is the credential)."""
        if "token" not in request.match_info:
            channel = self.b.channel(hook.channel_id)
            perms.require(self.world, self.world.bot.id, channel, perms.VIEW_CHANNEL | perms.MANAGE_WEBHOOKS)

    async def get_webhook(self, request: web.Request) -> web.Response:
        hook = self._hook(request)
        self._managed(hook, request)
        return reply(payloads.webhook(self.world, hook, with_token="token" not in request.match_info))

    async def delete_webhook(self, request: web.Request) -> web.Response:
        hook = self._hook(request)
        self._managed(hook, request)
        del self.world.webhooks[hook.id]
        return no_content()

    async def execute(self, request: web.Request) -> web.Response:
        if self._is_app(request):
            return await self._followup(request)
        hook = self._hook(request)
        payload, files = await take_files(request, self.b, hook.channel_id)
        if payload is not None:
            request[JSON_BODY] = payload
        body = body_of(request)
        username = body.get("username")
        if username is not None:
            webhook_names.check("username", username, strict_invisible=self.world.config.webhook_names_strict)
        author = payloads.webhook_author(hook, username)
        common: dict[str, Any] = {
            "webhook": hook,
            "avatar_url": body.get("avatar_url"),
            "extra": {"attachments": files, "embeds": body.get("embeds")},
        }
        if body.get("thread_name") is not None:
            if self.b.channel(hook.channel_id).type not in THREAD_ONLY:  # forum or media (resources/webhook.mdx)
                raise errors.APIError(400, 220003, "Webhooks can only create threads in forum channels")
            _, message = await self.b.threads.start_forum_post(
                self.b.channel(hook.channel_id),
                name=body.get("thread_name"),
                author=author,
                message=body,
                owner_id=self.world.bot.id,
                **common,
            )
        else:
            message = await self.b.create_message(
                self._target(hook, request),
                author=author,
                content=body.get("content"),
                allowed_mentions=body.get("allowed_mentions"),
                **common,
            )
        return reply(message) if _truthy(request.query.get("wait")) else no_content()

    def _target(self, hook: Webhook, request: web.Request) -> Channel:
        """The channel a webhook call acts in: its own, or the thread ``?thread_id`` names, which must
        be a thread of the webhook's channel (resources/webhook.mdx). A forum takes posts only in a
        thread (220001)."""
        parent = self.b.channel(hook.channel_id)
        thread_id = request.query.get("thread_id")
        if not thread_id:
            if parent.type in THREAD_ONLY and request.method == "POST":
                raise errors.APIError(
                    400, 220001, "Webhooks posted to forum channels must have a thread_name or thread_id"
                )
            return parent
        thread = self.world.channels.get(thread_id)
        if thread is None or not is_thread(thread) or thread.parent_id != parent.id:
            raise errors.unknown_channel()
        return thread

    def _hook_message(self, request: web.Request) -> dict[str, Any]:
        if self._is_app(request):
            return self._interaction_message(request)
        hook = self._hook(request)
        message = self.b.message(self._target(hook, request), request.match_info["message_id"])
        if message.get("webhook_id") != hook.id:
            raise errors.unknown_message()
        return message

    async def get_hook_message(self, request: web.Request) -> web.Response:
        return reply(self._hook_message(request))

    async def edit_hook_message(self, request: web.Request) -> web.Response:
        message = self._hook_message(request)
        body = body_of(request)
        channel = self.b.channel(message["channel_id"])
        content = body.get("content", message["content"])
        if message["id"] not in channel.messages:  # ephemeral: edit in place, nothing dispatched
            message["content"] = check_content(content)
            message["flags"] = int(message.get("flags", 0)) & ~LOADING
            self.b.notifier.poke()
            return reply(message)
        keep = body.get("attachments")
        edited = await self.b.edit_message(
            channel,
            message["id"],
            content=content,
            allowed_mentions=body.get("allowed_mentions"),
            keep_attachments=keep if isinstance(keep, list) else None,
        )
        return reply(edited)

    async def delete_hook_message(self, request: web.Request) -> web.Response:
        message = self._hook_message(request)
        channel = self.b.channel(message["channel_id"])
        if message["id"] in channel.messages:
            await self.b.delete_message(channel, message["id"])
        return no_content()

    # -- interactions --------------------------------------------------------------------------
    def _interaction(self, request: web.Request, *, initial: bool = False) -> Interaction:
        inter = self.b.interaction_by_token(request.match_info["token"])
        if "interaction_id" in request.match_info and request.match_info["interaction_id"] != inter.id:
            raise errors.unknown_interaction()
        if initial:  # the callback: 3 s from creation
            interaction_deadlines.check_initial(inter.id, self.world.config.interaction_initial_s)
        else:  # followups and edits: the token's 15 minutes
            interaction_deadlines.check_token(inter.id, self.world.config.interaction_token_s)
        return inter

    def _interaction_message(self, request: web.Request) -> dict[str, Any]:
        inter = self._interaction(request)
        wanted = request.match_info["message_id"]
        if wanted == "@original":
            if inter.original is None:
                raise errors.unknown_message()
            return inter.original
        for message in inter.followups:
            if message["id"] == wanted:
                return message
        raise errors.unknown_message()

    async def _bot_message(
        self, inter: Interaction, data: dict[str, Any], *, flags: int, allow_empty: bool = False
    ) -> dict[str, Any]:
        channel = self.b.channel(inter.payload["channel_id"])
        return await self.b.create_message(
            channel,
            allow_empty=allow_empty,
            author=payloads.user(self.world.bot),
            content=data.get("content"),
            allowed_mentions=data.get("allowed_mentions"),
            flags=flags,
            msg_type=20,
            application_id=self.world.application_id,
        )

    async def callback(self, request: web.Request) -> web.Response:
        inter = self._interaction(request, initial=True)
        if inter.acknowledged:
            raise errors.already_acknowledged()
        body = body_of(request)
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        message: dict[str, Any] | None = None
        if kind == CALLBACK_MESSAGE:
            inter.ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
            message = await self._bot_message(inter, data, flags=int(data.get("flags") or 0))
            inter.original = message
        elif kind == CALLBACK_DEFERRED:  # Discord shows a "thinking…" message: the original, loading
            inter.ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
            flags = (EPHEMERAL if inter.ephemeral else 0) | LOADING
            message = await self._bot_message(inter, {"content": ""}, flags=flags, allow_empty=True)
            inter.original = message
        elif kind == CALLBACK_AUTOCOMPLETE:
            if inter.payload["type"] != 4:
                raise errors.APIError(400, 50035, "Invalid Form Body")
            if len(data.get("choices") or []) > 25:
                raise errors.invalid_form_body("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        elif kind not in (CALLBACK_DEFERRED_UPDATE, CALLBACK_UPDATE, CALLBACK_MODAL):
            raise errors.invalid_form_body("type", "BASE_TYPE_CHOICES", f"Value must be one of ... (got {kind})")
        inter.callbacks.append(body)
        self.b.notifier.poke()
        if _truthy(request.query.get("with_response")):
            return reply(payloads.callback_response(inter, kind, message))
        return no_content()

    async def _followup(self, request: web.Request) -> web.Response:
        inter = self._interaction(request)
        if not inter.acknowledged:
            raise errors.unknown_webhook()
        body = body_of(request)
        flags = int(body.get("flags") or 0)
        original = inter.original
        if original is not None and int(original.get("flags", 0)) & LOADING:
            # the first followup after a deferral replaces the loading message (and keeps its visibility)
            channel = self.b.channel(original["channel_id"])
            if original["id"] in channel.messages:
                message = await self.b.edit_message(
                    channel, original["id"], content=body.get("content"), allowed_mentions=body.get("allowed_mentions")
                )
            else:
                original["content"] = check_content(body.get("content"))
                original["flags"] = int(original["flags"]) & ~LOADING
                message = original
            inter.followups.append(message)
            self.b.notifier.poke()
            return reply(message) if _truthy(request.query.get("wait")) else no_content()
        message = await self._bot_message(inter, body, flags=flags)
        inter.followups.append(message)
        self.b.notifier.poke()
        return reply(message) if _truthy(request.query.get("wait")) else no_content()
