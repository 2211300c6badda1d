"""The bot's REST routes for threads and forum posts (behaviour in ``threads``; sources cited there).

- ``POST /channels/{id}/messages/{message id}/threads``  start a thread on a message
- ``POST /channels/{id}/threads``                         start one without a message, or a forum post
- ``PATCH /channels/{thread id}``                         name, archived, locked, auto_archive_duration
- ``DELETE /channels/{thread id}``
- ``GET /guilds/{id}/threads/active``, ``GET /channels/{id}/threads/archived/public``
- ``PUT /channels/{thread id}/thread-members/@me``
"""

from __future__ import annotations

from aiohttp import web

from . import api_errors as errors
from . import payloads
from .rest import body_of, no_content, reply
from .service import Backend
from .threads import FORUM, PRIVATE_THREAD, is_thread, meta, thread_archived, thread_payload


class ThreadRoutes:
    """The bot's REST routes for threads."""

    def __init__(self, backend: Backend) -> None:
        self.b = backend
        self.world = backend.world
        self.threads = backend.threads

    def routes(self, prefix: str) -> list[web.RouteDef]:
        p = prefix
        return [
            web.post(f"{p}/channels/{{channel_id}}/messages/{{message_id}}/threads", self.start_with_message),
            web.post(f"{p}/channels/{{channel_id}}/threads", self.start_without_message),
            web.patch(f"{p}/channels/{{channel_id}}", self.edit_channel),
            web.delete(f"{p}/channels/{{channel_id}}", self.delete_channel),
            web.get(f"{p}/guilds/{{guild_id}}/threads/active", self.active),
            web.get(f"{p}/channels/{{channel_id}}/threads/archived/public", self.archived_public),
            web.put(f"{p}/channels/{{channel_id}}/thread-members/@me", self.join),
        ]

    async def start_with_message(self, request: web.Request) -> web.Response:
        body = body_of(request)
        parent = self.b.channel(request.match_info["channel_id"])
        thread = await self.threads.start_from_message(
            parent,
            request.match_info["message_id"],
            name=body.get("name"),
            owner_id=self.world.bot.id,
            duration=body.get("auto_archive_duration"),
        )
        return reply(thread_payload(self.world, thread), 201)

    async def start_without_message(self, request: web.Request) -> web.Response:
        body = body_of(request)
        parent = self.b.channel(request.match_info["channel_id"])
        if parent.type == FORUM:
            message = body.get("message")
            if not isinstance(message, dict):
                raise errors.invalid_form_body("message", "BASE_TYPE_REQUIRED", "This field is required")
            thread, first = await self.threads.start_forum_post(
                parent,
                name=body.get("name"),
                author=payloads.user(self.world.bot),
                message=message,
                owner_id=self.world.bot.id,
                duration=body.get("auto_archive_duration"),
            )
            return reply({**thread_payload(self.world, thread), "message": first}, 201)
        thread = await self.threads.start_without_message(
            parent,
            name=body.get("name"),
            owner_id=self.world.bot.id,
            kind=body.get("type", PRIVATE_THREAD),
            duration=body.get("auto_archive_duration"),
        )
        return reply(thread_payload(self.world, thread), 201)

    async def edit_channel(self, request: web.Request) -> web.Response:
        channel = self.b.channel(request.match_info["channel_id"])
        if not is_thread(channel):
            raise errors.missing_permissions()  # editing other channels is not emulated
        body = body_of(request)
        thread = await self.threads.update(
            channel,
            actor_id=self.world.bot.id,
            name=body.get("name"),
            archived=body.get("archived"),
            locked=body.get("locked"),
            duration=body.get("auto_archive_duration"),
        )
        return reply(thread_payload(self.world, thread))

    async def delete_channel(self, request: web.Request) -> web.Response:
        channel = self.b.channel(request.match_info["channel_id"])
        if not is_thread(channel):
            raise errors.missing_permissions()  # deleting other channels is not emulated
        await self.threads.delete(channel, actor_id=self.world.bot.id)
        return no_content()

    async def active(self, request: web.Request) -> web.Response:
        if request.match_info["guild_id"] != self.world.guild_id:
            raise errors.APIError(403, 50001, "Missing Access")
        threads = self.threads.active()
        members = [
            {"id": t.id, "user_id": self.world.bot.id, "join_timestamp": meta(t).create_timestamp, "flags": 0}
            for t in threads
            if self.world.bot.id in meta(t).members
        ]
        # The docs' response body names `threads` and `members` only; the official OpenAPI spec
        # (discord-api-spec, ThreadsResponse for get_active_guild_threads) also requires `has_more`,
        # which the API sends there as for archived threads: always false, the list is complete.
        body = {"threads": [thread_payload(self.world, t) for t in threads], "members": members, "has_more": False}
        return reply(body)

    async def archived_public(self, request: web.Request) -> web.Response:
        parent = self.b.channel(request.match_info["channel_id"])
        found = [t for t in self.threads.of(parent) if meta(t).archived and t.type != PRIVATE_THREAD]
        found.sort(key=lambda t: meta(t).archive_timestamp, reverse=True)
        limit = max(2, min(100, int(request.query.get("limit", "50"))))
        return reply(
            {"threads": [thread_payload(self.world, t) for t in found[:limit]], "members": [], "has_more": False}
        )

    async def join(self, request: web.Request) -> web.Response:
        thread = self.b.channel(request.match_info["channel_id"])
        m = meta(thread)
        if m.archived:
            raise thread_archived()
        m.members.add(self.world.bot.id)
        return no_content()
