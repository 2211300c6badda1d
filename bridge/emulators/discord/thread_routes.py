"""The bot's REST routes for threads and forum posts (behaviour in ``threads``; sources cited there).

- ``POST /channels/{id}/messages/{message id}/threads``  start a thread on a message
- ``POST /channels/{id}/threads``                         start one without a message, or a forum post
- ``PATCH /channels/{thread id}``                         name, archived, locked, auto_archive_duration
- ``DELETE /channels/{thread id}``
- ``GET /guilds/{id}/threads/active``                      the active threads the bot can see
- ``GET /channels/{id}/threads/archived/public``, ``.../threads/archived/private``,
  ``GET /channels/{id}/users/@me/threads/archived/private``  archived threads, paged (see ``_archived``)
- ``PUT /channels/{thread id}/thread-members/@me``
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from . import api_errors as errors
from . import payloads
from . import permissions as perms
from .channel_types import PRIVATE_THREAD, THREAD_ONLY
from .rest import body_of, no_content, reply
from .service import Backend
from .state import Channel
from .threads import is_thread, meta, thread_payload


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
            web.get(f"{p}/channels/{{channel_id}}/threads/archived/private", self.archived_private),
            web.get(f"{p}/channels/{{channel_id}}/users/@me/threads/archived/private", self.archived_joined),
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
        if parent.type in THREAD_ONLY:
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

    def visible(self, thread: Channel) -> bool:
        """A private thread is the bot's to see only as a member or a moderator (MANAGE_THREADS in
        its channel): topics/threads.md "Private threads are only synced to you if you are a member
        or a moderator"; List Active Guild Threads lists the threads "the current user can access"."""
        if thread.type != PRIVATE_THREAD or self.world.bot.id in meta(thread).members:
            return True
        return bool(perms.in_channel(self.world, self.world.bot.id, thread) & perms.MANAGE_THREADS)

    def _members(self, threads: list[Channel]) -> list[dict[str, Any]]:
        """ "a thread member object for each returned thread the current user has joined"."""
        return [
            {"id": t.id, "user_id": self.world.bot.id, "join_timestamp": meta(t).create_timestamp, "flags": 0}
            for t in threads
            if self.world.bot.id in meta(t).members
        ]

    async def active(self, request: web.Request) -> web.Response:
        if request.match_info["guild_id"] != self.world.guild_id:
            raise errors.APIError(403, 50001, "Missing Access")
        threads = [t for t in self.threads.active() if self.visible(t)]
        # The docs' response body names `threads` and `members` only; the official OpenAPI spec
        # (discord-api-spec, ThreadsResponse for get_active_guild_threads) also requires `has_more`,
        # which the API sends there as for archived threads: always false, the list is complete.
        body = {"threads": [thread_payload(self.world, t) for t in threads], "members": self._members(threads)}
        return reply({**body, "has_more": False})

    async def archived_public(self, request: web.Request) -> web.Response:
        """List Public Archived Threads: READ_MESSAGE_HISTORY; on a text channel its PUBLIC_THREADs, on
        an announcement channel its ANNOUNCEMENT_THREADs, on a forum or media channel its posts ("threads
        in forum channels ... use the same endpoints", topics/threads.md "Forums")."""
        return self._archived(request, lambda t: t.type != PRIVATE_THREAD, 0, joined=False)

    async def archived_private(self, request: web.Request) -> web.Response:
        """List Private Archived Threads: "Requires both the READ_MESSAGE_HISTORY and MANAGE_THREADS
        permissions"."""
        return self._archived(request, lambda t: t.type == PRIVATE_THREAD, perms.MANAGE_THREADS, joined=False)

    async def archived_joined(self, request: web.Request) -> web.Response:
        """List Joined Private Archived Threads: the bot's own private archived threads, ordered by id;
        READ_MESSAGE_HISTORY."""
        bot = self.world.bot.id
        return self._archived(request, lambda t: t.type == PRIVATE_THREAD and bot in meta(t).members, 0, joined=True)

    def _archived(
        self, request: web.Request, wanted: Callable[[Channel], bool], needs: int, *, joined: bool
    ) -> web.Response:
        """The three archived-thread lists (discord-api-docs resources/channel.mdx "List Public Archived
        Threads", "List Private Archived Threads", "List Joined Private Archived Threads"): newest
        first, by ``archive_timestamp`` (by id for the joined list); ``before`` an ISO8601 timestamp
        (a snowflake for the joined list), exclusive; ``limit`` 2-100 (the official OpenAPI spec:
        ``minimum: 2, maximum: 100``; a value outside is 400 50035), 50 when absent (the docs give no
        default; 50 is the default of the API's other listings); ``has_more`` while older ones remain.
        Missing a permission is 403 50013 (50001 without VIEW_CHANNEL)."""
        parent = self.b.channel(request.match_info["channel_id"])
        perms.require(self.world, self.world.bot.id, parent, perms.VIEW_CHANNEL | perms.READ_MESSAGE_HISTORY | needs)
        limit = _limit(request.query.get("limit"))
        before = request.query.get("before")
        found = [t for t in self.threads.of(parent) if meta(t).archived and wanted(t)]
        if joined:
            found.sort(key=lambda t: int(t.id), reverse=True)
            if before:
                if not before.isdigit():
                    raise errors.invalid_form_body(
                        "before", "NUMBER_TYPE_COERCE", f'Value "{before}" is not snowflake.'
                    )
                found = [t for t in found if int(t.id) < int(before)]
        else:
            found.sort(key=lambda t: _when(meta(t).archive_timestamp), reverse=True)
            if before:
                try:
                    bound = _when(before)
                except ValueError:
                    raise errors.invalid_form_body(
                        "before", "DATE_TIME_TYPE_PARSE", "Could not parse datetime."
                    ) from None
                found = [t for t in found if _when(meta(t).archive_timestamp) < bound]
        page = found[:limit]
        body = {"threads": [thread_payload(self.world, t) for t in page], "members": self._members(page)}
        return reply({**body, "has_more": len(found) > limit})

    async def join(self, request: web.Request) -> web.Response:
        thread = self.b.channel(request.match_info["channel_id"])
        await self.threads.add_member(thread, self.world.bot.id, actor_id=self.world.bot.id)
        return no_content()


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return 50
    if not raw.lstrip("-").isdigit():
        raise errors.invalid_form_body("limit", "NUMBER_TYPE_COERCE", f'Value "{raw}" is not int.')
    value = int(raw)
    if value < 2:
        raise errors.invalid_form_body("limit", "NUMBER_TYPE_MIN", "int value should be greater than or equal to 2.")
    if value > 100:
        raise errors.invalid_form_body("limit", "NUMBER_TYPE_MAX", "int value should be less than or equal to 100.")
    return value
