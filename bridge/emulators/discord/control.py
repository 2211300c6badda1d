"""HTTP control routes under ``/_emulator`` so another process (``chatbridge sandbox``) can drive the
emulator and read what was posted. All bodies and answers are JSON.

- ``GET  /_emulator/state``                        guild, channels, users, bot, application
- ``GET  /_emulator/channels/{channel}/messages``  stored messages (channel id or name; ``?threads=1``:
  with its threads' messages, in order); a message in a thread has ``in_thread`` {id, parent_id, name}
- ``GET  /_emulator/threads/{id}/messages``        a thread: its starter message, then its messages
- ``POST /_emulator/messages`` with ``thread``: a message or thread id: posted in that thread (started on
  the message if needed)
- ``GET  /_emulator/requests?since=N``             the REST request log
- ``GET  /_emulator/posted?since=N``               what the bot/webhooks created, edited, deleted
- ``POST /_emulator/messages``                     ``{user, channel, content, reply_to?, files?: [{name,
  data_b64}], stickers?: [id]}`` → message (files are uploaded to the CDN as the person's attachments)
- ``GET  /_emulator/files``                        attachment id → name, size, content_type, sha256 of the
  bytes the emulator holds (only attachments still on the CDN)
- ``PATCH /_emulator/messages/{channel}/{id}``     ``{content}`` → message
- ``DELETE /_emulator/messages/{channel}/{id}``
- ``POST /_emulator/interactions``                 ``{user, channel, command, options?, focused?}``
- ``GET  /_emulator/interactions/{id}``            callbacks and followups of an interaction
- ``POST /_emulator/rate_limits``                  ``{method, path_regex, retry_after, times?, global?}``
- ``POST /_emulator/gateway/close``                ``{code?}`` (default 4000: the client resumes; 4007/4009
  end the session: the client must identify anew)
- ``POST /_emulator/gateway/faults``, ``/_emulator/gateway/chaos``, ``GET /_emulator/gateway``: op 7, op 9,
  4009, zombie connections, on demand or at random (``gateway_chaos``)
- ``POST /_emulator/outage``                      drop every gateway socket and refuse reconnects
- ``DELETE /_emulator/outage``                    allow reconnects again
- ``POST /_emulator/channels``                     ``{name}`` → the new text channel
- ``POST /_emulator/forums``                       ``{name, media?}`` → the new forum (or media) channel
- ``POST /_emulator/threads``                      ``{user, channel, name, message_id?, private?}``
  → the thread (on that message; ``message_id`` + an existing thread answers that thread)
- ``POST /_emulator/forum_posts``                  ``{user, forum, title, content}`` → thread + message
- ``PATCH /_emulator/threads/{id}``                ``{archived?, locked?, name?}``
- ``DELETE /_emulator/threads/{id}``
- ``PUT /_emulator/threads/{id}/members/{user}``     ``{by}``: a person adds ``user`` (or ``bot``) to the thread
- ``POST /_emulator/threads/sync``                 ``{channels}`` → the THREAD_LIST_SYNC sent
- ``POST /_emulator/reactions``, ``GET /_emulator/reactions?channel=``: see ``reaction_routes.control_routes``
- ``POST /_emulator/permissions``, ``GET /_emulator/permissions``, ``PUT /_emulator/roles/{role}``: grant and
  revoke the bot's (or anyone's) permissions, see ``permission_routes``
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..blobs import decode_files
from . import api_errors as errors
from . import payloads
from .rest import reply

if TYPE_CHECKING:
    from .server import DiscordEmulator


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise errors.APIError(400, 50109, "The request body contains invalid JSON.") from None
    if not isinstance(body, dict):
        raise errors.APIError(400, 0, "expected a JSON object")
    return body


class ControlRoutes:
    def __init__(self, emulator: DiscordEmulator) -> None:
        self.emu = emulator

    def routes(self) -> list[web.RouteDef]:
        p = "/_emulator"
        wrap = self._guard
        return [
            web.get(f"{p}/state", wrap(self.state)),
            web.get(f"{p}/channels/{{channel}}/messages", wrap(self.channel_messages)),
            web.get(f"{p}/requests", wrap(self.requests)),
            web.get(f"{p}/posted", wrap(self.posted)),
            web.post(f"{p}/messages", wrap(self.say)),
            web.get(f"{p}/files", wrap(self.files)),
            web.patch(f"{p}/messages/{{channel}}/{{message_id}}", wrap(self.edit)),
            web.delete(f"{p}/messages/{{channel}}/{{message_id}}", wrap(self.delete)),
            web.post(f"{p}/interactions", wrap(self.interact)),
            web.get(f"{p}/interactions/{{interaction_id}}", wrap(self.interaction)),
            web.post(f"{p}/rate_limits", wrap(self.rate_limit)),
            web.post(f"{p}/gateway/close", wrap(self.close_gateway)),
            web.post(f"{p}/channels", wrap(self.create_channel)),
            web.post(f"{p}/outage", wrap(self.outage_start)),
            web.delete(f"{p}/outage", wrap(self.outage_end)),
            web.post(f"{p}/forums", wrap(self.create_forum)),
            web.post(f"{p}/threads/sync", wrap(self.thread_sync)),
            web.get(f"{p}/threads/{{thread}}/messages", wrap(self.thread_messages)),
            web.post(f"{p}/threads", wrap(self.start_thread)),
            web.post(f"{p}/forum_posts", wrap(self.forum_post)),
            web.patch(f"{p}/threads/{{thread}}", wrap(self.update_thread)),
            web.delete(f"{p}/threads/{{thread}}", wrap(self.delete_thread)),
            web.put(f"{p}/threads/{{thread}}/members/{{user}}", wrap(self.add_to_thread)),
        ]

    @staticmethod
    def _guard(handler: Any) -> Any:
        async def run(request: web.Request) -> web.Response:
            try:
                response: web.Response = await handler(request)
                return response
            except errors.APIError as err:
                return reply(err.body(), err.status)
            except (KeyError, ValueError) as err:
                return reply({"message": str(err), "code": 0}, 400)

        return run

    async def state(self, request: web.Request) -> web.Response:
        world = self.emu.world
        return reply(
            {
                "guild_id": world.guild_id,
                "application_id": world.application_id,
                "bot": payloads.user(world.bot),
                "api_base": self.emu.api_base,
                "gateway_url": self.emu.gateway_url,
                "channels": [payloads.channel(world, c) for c in world.guild_channels()],
                "threads": [payloads.channel(world, c) for c in world.channels.values() if c.thread is not None],
                "users": [payloads.user(u) for u in world.users.values()],
                "gateway": {
                    "connected": self.emu.gateway.connected(),
                    "resumes": self.emu.gateway.resumes,
                    "refusing": self.emu.gateway.refusing,
                    "refused": self.emu.gateway.refused,
                },
            }
        )

    async def channel_messages(self, request: web.Request) -> web.Response:
        """The stored message objects; a webhook message also carries the ``avatar_url`` its execute
        request set (Discord itself answers only the avatar hash), and a message with attachments
        ``received_files``: name, size, content_type, sha256 of the bytes the CDN holds for them."""
        channel = self.emu.channel(request.match_info["channel"])
        stored = list(channel.messages.values())
        if request.query.get("threads") in ("1", "true"):  # with the messages of its threads, in order
            for thread in self.emu.backend.threads.of(channel):
                stored += thread.messages.values()
            stored.sort(key=lambda m: int(m["id"]))
        return reply(self._rows(stored))

    async def thread_messages(self, request: web.Request) -> web.Response:
        """A thread's messages in order: the message it was started on (in the parent), then its own."""
        thread = self.emu.channel(request.match_info["thread"])
        if thread.thread is None:
            raise errors.unknown_channel()
        parent = self.emu.world.channels.get(thread.parent_id or "")
        starter = parent.messages.get(thread.id) if parent is not None else None
        stored = ([starter] if starter is not None else []) + list(thread.messages.values())
        return reply(self._rows(stored))

    def _rows(self, stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = []
        for message in stored:
            row = dict(message)
            where = self.emu.world.channels.get(str(message["channel_id"]))
            if where is not None and where.thread is not None:  # the thread channel it is in
                row["in_thread"] = {"id": where.id, "parent_id": where.parent_id, "name": where.name}
            avatar = self.emu.avatar_url(str(message["id"])) if message.get("webhook_id") else None
            if avatar:
                row["avatar_url"] = avatar
            if message.get("attachments"):
                row["received_files"] = self._received(message["attachments"])
            if message.get("reactions"):  # who reacted (Discord's message object has only counts)
                row["reacted_by"] = self.emu.reactions.of_names(str(message["id"]))
            rows.append(row)
        return rows

    def _received(self, attachments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        held = [self.emu.backend.cdn.files.get(str(a.get("id"))) for a in attachments]
        return [
            {"name": f.attachment["filename"], "size": f.blob.size, "content_type": f.attachment["content_type"],
             "sha256": f.blob.sha256}
            for f in held if f is not None
        ]  # fmt: skip

    async def requests(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return reply([r.to_dict() for r in self.emu.requests[since:]])

    async def posted(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return reply(self.emu.posted[since:])

    async def say(self, request: web.Request) -> web.Response:
        body = await _json(request)
        channel = str(body.get("channel") or "general")
        if body.get("thread"):  # in the thread of that message (started on it if needed)
            channel = (await self.emu.thread_for(str(body["user"]), str(body["thread"]))).id
        message = await self.emu.say(
            str(body["user"]),
            channel,
            str(body.get("content") or ""),
            reply_to=body.get("reply_to"),
            files=decode_files(body.get("files")),
            stickers=[str(s) for s in body.get("stickers") or []],
        )
        return reply(message)

    async def files(self, request: web.Request) -> web.Response:
        cdn = self.emu.backend.cdn
        return reply(
            {
                aid: {
                    "name": f.attachment["filename"],
                    "size": f.blob.size,
                    "content_type": f.attachment["content_type"],
                    "sha256": f.blob.sha256,
                }
                for aid, f in cdn.files.items()
            }
        )

    async def edit(self, request: web.Request) -> web.Response:
        body = await _json(request)
        info = request.match_info
        return reply(await self.emu.edit(info["channel"], info["message_id"], str(body["content"])))

    async def delete(self, request: web.Request) -> web.Response:
        await self.emu.delete(request.match_info["channel"], request.match_info["message_id"])
        return web.Response(status=204)

    async def interact(self, request: web.Request) -> web.Response:
        body = await _json(request)
        user, channel, command = str(body["user"]), str(body["channel"]), str(body["command"])
        options = body.get("options") or {}
        if body.get("focused"):
            inter = await self.emu.autocomplete(user, channel, command, options, str(body["focused"]))
        else:
            inter = await self.emu.slash(user, channel, command, options)
        return reply({"id": inter.id, "token": inter.token, "payload": inter.payload})

    async def interaction(self, request: web.Request) -> web.Response:
        inter = self.emu.world.interactions.get(request.match_info["interaction_id"])
        if inter is None:
            raise errors.unknown_interaction()
        return reply(
            {
                "id": inter.id,
                "callbacks": inter.callbacks,
                "original": inter.original,
                "followups": inter.followups,
            }
        )

    async def rate_limit(self, request: web.Request) -> web.Response:
        body = await _json(request)
        rule = self.emu.rate_limit(
            str(body["method"]),
            str(body["path_regex"]),
            retry_after=float(body["retry_after"]),
            times=int(body.get("times", 1)),
            is_global=bool(body.get("global", False)),
        )
        return reply({"method": rule.method, "path_regex": rule.path_regex, "times": rule.times})

    async def close_gateway(self, request: web.Request) -> web.Response:
        body = await _json(request) if request.body_exists else {}
        return reply({"closed": await self.emu.close_gateway(int(body.get("code", 4000)))})

    async def outage_start(self, request: web.Request) -> web.Response:
        return reply({"closed": await self.emu.outage(True), "refusing": True})

    async def outage_end(self, request: web.Request) -> web.Response:
        await self.emu.outage(False)
        return reply({"closed": 0, "refusing": False})

    async def create_channel(self, request: web.Request) -> web.Response:
        body = await _json(request)
        name = str(body["name"])
        if not name or len(name) > 100:
            raise errors.invalid_form_body("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        channel = await self.emu.create_channel(name)
        return reply(payloads.channel(self.emu.world, channel))

    async def create_forum(self, request: web.Request) -> web.Response:
        body = await _json(request)
        name = str(body["name"])
        if not name or len(name) > 100:
            raise errors.invalid_form_body("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        forum = await self.emu.create_forum(name, media=bool(body.get("media", False)))
        return reply(payloads.channel(self.emu.world, forum))

    async def start_thread(self, request: web.Request) -> web.Response:
        body = await _json(request)
        message_id = str(body["message_id"]) if body.get("message_id") else None
        existing = self.emu.thread_of(message_id) if message_id else None
        if existing is not None:
            return reply(payloads.channel(self.emu.world, existing))
        thread = await self.emu.start_thread(
            str(body["user"]),
            str(body["channel"]),
            str(body.get("name") or "thread"),
            message_id=message_id,
            private=bool(body.get("private", False)),
        )
        return reply(payloads.channel(self.emu.world, thread))

    async def forum_post(self, request: web.Request) -> web.Response:
        body = await _json(request)
        thread, message = await self.emu.forum_post(
            str(body["user"]), str(body["forum"]), str(body["title"]), str(body["content"])
        )
        return reply({"thread": payloads.channel(self.emu.world, thread), "message": message})

    async def update_thread(self, request: web.Request) -> web.Response:
        body = await _json(request)
        thread = await self.emu.update_thread(
            request.match_info["thread"],
            archived=body.get("archived"),
            locked=body.get("locked"),
            name=body.get("name"),
            by=body.get("by"),
        )
        return reply(payloads.channel(self.emu.world, thread))

    async def delete_thread(self, request: web.Request) -> web.Response:
        await self.emu.delete_thread(request.match_info["thread"])
        return web.Response(status=204)

    async def add_to_thread(self, request: web.Request) -> web.Response:
        body = await _json(request)
        await self.emu.add_to_thread(request.match_info["thread"], request.match_info["user"], by=str(body["by"]))
        return web.Response(status=204)

    async def thread_sync(self, request: web.Request) -> web.Response:
        body = await _json(request)
        return reply(await self.emu.thread_list_sync([str(c) for c in body.get("channels") or []]))
