"""Reactions: the REST routes, their gateway events, the guild's custom emoji, the reaction rate limit.

Sources (discord-api-docs):

* resources/message.mdx — Create Reaction ``PUT /channels/{c}/messages/{m}/reactions/{emoji}/@me``
  (204; ``emoji`` URL-encoded Unicode or ``name:id``; READ_MESSAGE_HISTORY, and ADD_REACTIONS when
  nobody has reacted with that emoji yet), Delete Own Reaction ``DELETE …/{emoji}/@me``, Delete User
  Reaction ``DELETE …/{emoji}/{user.id}`` (MANAGE_MESSAGES), Get Reactions ``GET …/{emoji}`` (users,
  ``after``, ``limit`` 1-100 default 25), Delete All Reactions ``DELETE …/reactions`` and Delete All
  Reactions for Emoji ``DELETE …/reactions/{emoji}`` (MANAGE_MESSAGES); the Reaction object in a
  message (``count``, ``count_details``, ``me``, ``me_burst``, ``emoji``, ``burst_colors``).
* topics/opcodes-and-status-codes.mdx — 10014 Unknown Emoji, 50013 Missing Permissions.
* events/gateway-events.mdx — MESSAGE_REACTION_ADD (``user_id``, ``channel_id``, ``message_id``,
  ``guild_id``, ``member``, ``emoji``, ``message_author_id``, ``burst``, ``burst_colors``, ``type``),
  MESSAGE_REACTION_REMOVE, MESSAGE_REACTION_REMOVE_ALL, MESSAGE_REACTION_REMOVE_EMOJI; intents
  GUILD_MESSAGE_REACTIONS (1 << 10) and DIRECT_MESSAGE_REACTIONS (1 << 13).
* topics/rate-limits.mdx — per-route limits; reactions are the strictest route people meet
  (about one reaction per 0.25 s per channel: a faster bot gets 429 with ``retry_after``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import emoji as emoji_lib
from aiohttp import web

from . import api_errors as errors
from . import payloads, permissions
from .gateway import Filter, Session
from .intents import INTENT_DIRECT_MESSAGE_REACTIONS, INTENT_GUILD_MESSAGE_REACTIONS

if TYPE_CHECKING:
    from .server import DiscordEmulator
    from .service import Backend
    from .state import World

ADD_REACTIONS = 1 << 6
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_MESSAGES = 1 << 13


@dataclass(frozen=True)
class GuildEmoji:
    id: str
    name: str
    animated: bool = False

    def payload(self) -> dict[str, Any]:
        """``types/emoji.py: Emoji`` as GUILD_CREATE lists it."""
        return {
            "id": self.id,
            "name": self.name,
            "animated": self.animated,
            "roles": [],
            "require_colons": True,
            "managed": False,
            "available": True,
        }


@dataclass(frozen=True)
class EmojiRef:
    """The emoji of a reaction: Unicode (``id`` None) or a guild's custom emoji."""

    name: str
    id: str | None = None
    animated: bool = False

    @property
    def key(self) -> str:
        return self.name if self.id is None else f"{self.name}:{self.id}"

    def partial(self) -> dict[str, Any]:
        """The partial emoji of reaction objects and events."""
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.animated:
            out["animated"] = True
        return out


@dataclass
class MessageReactions:
    """Who reacted with what on one message, in the order reactions were first added."""

    by_emoji: dict[str, tuple[EmojiRef, list[str]]] = field(default_factory=dict)


def reaction_shape(session: Session, data: dict[str, Any]) -> dict[str, Any] | None:
    """Reaction events need GUILD_MESSAGE_REACTIONS (guild) or DIRECT_MESSAGE_REACTIONS (DM)."""
    needed = INTENT_GUILD_MESSAGE_REACTIONS if "guild_id" in data else INTENT_DIRECT_MESSAGE_REACTIONS
    return data if session.intents & needed else None


def visible_reaction_shape(world: World) -> Filter:
    """``reaction_shape``, and nothing from a channel the bot cannot view (topics/permissions.mdx: View
    Channel "includes reading messages"; topics/threads.mdx "Losing Access to Channels": the app gets
    no further events of it). A thread follows its parent's overwrites (``permissions.in_channel``)."""

    def shape(session: Session, data: dict[str, Any]) -> dict[str, Any] | None:
        channel = world.channels.get(str(data.get("channel_id")))
        if channel is not None and not permissions.views(world, world.bot.id, channel):
            return None
        return reaction_shape(session, data)

    return shape


class Reactions:
    """Reaction state and operations; every change updates the stored message's ``reactions`` and
    sends the gateway event."""

    def __init__(self, backend: Backend, *, interval_s: float = 0.25) -> None:
        self.b = backend
        self.world = backend.world
        self.interval_s = interval_s
        """The bot's reaction rate limit per channel (0 turns it off)."""
        self.emojis: dict[str, GuildEmoji] = {}
        self.messages: dict[str, MessageReactions] = {}
        self._last: dict[str, float] = {}
        self._shape = visible_reaction_shape(self.world)

    # -- custom emoji ----------------------------------------------------------------------------
    def add_emoji(self, name: str, *, animated: bool = False) -> GuildEmoji:
        """A custom emoji of the guild (listed in GUILD_CREATE ``emojis``)."""
        found = GuildEmoji(self.world.ids.next(), name, animated)
        self.emojis[found.id] = found
        self.world.emojis.append(found.payload())
        return found

    def resolve(self, text: str) -> EmojiRef:
        """What a person reacts with: Unicode, a custom emoji's name (``blobwave``, ``:blobwave:``)
        or ``name:id``."""
        bare = text.strip(":")
        for found in self.emojis.values():
            if found.name == bare:
                return EmojiRef(found.name, found.id, found.animated)
        return self.parse(text)

    def parse(self, raw: str) -> EmojiRef:
        """A route's ``{emoji}`` (URL-decoded): Unicode, or ``name:id`` of a guild emoji."""
        text = unquote(raw)
        _, sep, ident = text.rpartition(":")
        if sep and ident.isdigit():
            found = self.emojis.get(ident)
            if found is None:
                raise errors.APIError(400, 10014, "Unknown Emoji")
            return EmojiRef(found.name, found.id, found.animated)
        if not emoji_lib.is_emoji(text):
            raise errors.APIError(400, 10014, "Unknown Emoji")
        return EmojiRef(text)

    # -- state -----------------------------------------------------------------------------------
    def of(self, message_id: str) -> list[dict[str, Any]]:
        """``[{emoji, count, users}]`` of a message (``emoji``: Unicode or ``name:id``)."""
        found = self.messages.get(message_id)
        if found is None:
            return []
        return [{"emoji": ref.key, "count": len(users), "users": list(users)} for ref, users in found.by_emoji.values()]

    def of_names(self, message_id: str) -> list[dict[str, Any]]:
        """:meth:`of` with usernames instead of user ids (the sandbox's view)."""
        out = self.of(message_id)
        for entry in out:
            entry["users"] = [self.world.users[u].username for u in entry["users"] if u in self.world.users]
        return out

    def _summary(self, message_id: str) -> list[dict[str, Any]]:
        found = self.messages.get(message_id)
        out = []
        for ref, users in found.by_emoji.values() if found else ():
            out.append(
                {
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "me": self.world.bot.id in users,
                    "me_burst": False,
                    "emoji": ref.partial(),
                    "burst_colors": [],
                }
            )
        return out

    def _store(self, channel_messages: dict[str, dict[str, Any]], message_id: str) -> None:
        message = channel_messages[message_id]
        summary = self._summary(message_id)
        if summary:
            message["reactions"] = summary
        else:
            message.pop("reactions", None)

    def _event(self, channel_id: str, guild_id: str | None, message_id: str, **more: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"channel_id": channel_id, "message_id": message_id, **more}
        if guild_id is not None:
            out["guild_id"] = guild_id
        return out

    async def add(self, channel_id: str, message_id: str, ref: EmojiRef, user_id: str) -> None:
        """``user_id`` reacts (no event when they already had: the route still answers 204)."""
        channel = self.b.channel(channel_id)
        message = self.b.message(channel, message_id)
        entry = self.messages.setdefault(message_id, MessageReactions())
        _, users = entry.by_emoji.setdefault(ref.key, (ref, []))
        if user_id in users:
            return
        users.append(user_id)
        self._store(channel.messages, message_id)
        more: dict[str, Any] = {
            "user_id": user_id,
            "emoji": ref.partial(),
            "message_author_id": message["author"]["id"],
            "burst": False,
            "burst_colors": [],
            "type": 0,
        }
        member = self.world.members.get(user_id)
        if channel.guild_id is not None and member is not None:
            more["member"] = payloads.member(self.world, member)
        await self.b.gateway.dispatch(
            "MESSAGE_REACTION_ADD", self._event(channel.id, channel.guild_id, message_id, **more), shape=self._shape
        )
        self.b.notifier.poke()

    async def remove(self, channel_id: str, message_id: str, ref: EmojiRef, user_id: str) -> None:
        channel = self.b.channel(channel_id)
        self.b.message(channel, message_id)
        entry = self.messages.get(message_id)
        found = entry.by_emoji.get(ref.key) if entry else None
        if entry is None or found is None or user_id not in found[1]:
            return
        found[1].remove(user_id)
        if not found[1]:
            del entry.by_emoji[ref.key]
        self._store(channel.messages, message_id)
        more = {"user_id": user_id, "emoji": ref.partial(), "burst": False, "type": 0}
        await self.b.gateway.dispatch(
            "MESSAGE_REACTION_REMOVE", self._event(channel.id, channel.guild_id, message_id, **more), shape=self._shape
        )
        self.b.notifier.poke()

    async def remove_all(self, channel_id: str, message_id: str) -> None:
        channel = self.b.channel(channel_id)
        self.b.message(channel, message_id)
        self.messages.pop(message_id, None)
        self._store(channel.messages, message_id)
        event = self._event(channel.id, channel.guild_id, message_id)
        await self.b.gateway.dispatch("MESSAGE_REACTION_REMOVE_ALL", event, shape=self._shape)
        self.b.notifier.poke()

    async def remove_emoji(self, channel_id: str, message_id: str, ref: EmojiRef) -> None:
        channel = self.b.channel(channel_id)
        self.b.message(channel, message_id)
        entry = self.messages.get(message_id)
        if entry is not None:
            entry.by_emoji.pop(ref.key, None)
        self._store(channel.messages, message_id)
        event = self._event(channel.id, channel.guild_id, message_id, emoji=ref.partial())
        await self.b.gateway.dispatch("MESSAGE_REACTION_REMOVE_EMOJI", event, shape=self._shape)
        self.b.notifier.poke()

    def users(self, message_id: str, ref: EmojiRef) -> list[str]:
        entry = self.messages.get(message_id)
        found = entry.by_emoji.get(ref.key) if entry else None
        return list(found[1]) if found else []

    # -- the bot's rate limit -----------------------------------------------------------------------
    def throttle(self, channel_id: str) -> web.Response | None:
        """429 when the bot reacts in ``channel_id`` again within ``interval_s`` (else records it)."""
        now = time.monotonic()
        wait = self._last.get(channel_id, float("-inf")) + self.interval_s - now
        if wait > 0:
            body = {"message": "You are being rate limited.", "retry_after": round(wait, 3), "global": False}
            headers = {
                "Via": "1.1 google",  # a 429 without it is Cloudflare's, which discord.py does not retry
                "Retry-After": "1",
                "X-RateLimit-Limit": "1",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": f"{wait:.3f}",
                "X-RateLimit-Bucket": f"reactions-{channel_id}",
                "X-RateLimit-Scope": "user",
            }
            return web.Response(
                body=json.dumps(body).encode(), status=429, content_type="application/json", headers=headers
            )
        self._last[channel_id] = now
        return None


class ReactionRoutes:
    """The bot's reaction routes (resources/message.mdx)."""

    def __init__(self, backend: Backend, reactions: Reactions) -> None:
        self.b = backend
        self.r = reactions
        self.world = backend.world

    def routes(self, prefix: str) -> list[web.RouteDef]:
        base = f"{prefix}/channels/{{channel_id}}/messages/{{message_id}}/reactions"
        return [
            web.put(f"{base}/{{emoji}}/@me", self.add_own),
            web.delete(f"{base}/{{emoji}}/@me", self.remove_own),
            web.delete(f"{base}/{{emoji}}/{{user_id:\\d+}}", self.remove_user),
            web.get(f"{base}/{{emoji}}", self.list_users),
            web.delete(f"{base}/{{emoji}}", self.remove_emoji),
            web.delete(base, self.remove_all),
        ]

    def _need(self, channel_id: str, permission: int) -> None:
        """The bot's permissions in that channel, overwrites included (``permissions.py``)."""
        permissions.require(self.world, self.world.bot.id, self.b.channel(channel_id), permission)

    def _target(self, request: web.Request) -> tuple[str, str]:
        channel = self.b.channel(request.match_info["channel_id"])
        message = self.b.message(channel, request.match_info["message_id"])
        return channel.id, str(message["id"])

    async def add_own(self, request: web.Request) -> web.Response:
        channel_id, message_id = self._target(request)
        ref = self.r.parse(request.match_info["emoji"])
        self._need(channel_id, READ_MESSAGE_HISTORY)
        if not self.r.users(message_id, ref):
            self._need(channel_id, ADD_REACTIONS)
        limited = self.r.throttle(channel_id)
        if limited is not None:
            return limited
        await self.r.add(channel_id, message_id, ref, self.world.bot.id)
        return web.Response(status=204)

    async def remove_own(self, request: web.Request) -> web.Response:
        channel_id, message_id = self._target(request)
        ref = self.r.parse(request.match_info["emoji"])
        limited = self.r.throttle(channel_id)
        if limited is not None:
            return limited
        await self.r.remove(channel_id, message_id, ref, self.world.bot.id)
        return web.Response(status=204)

    async def remove_user(self, request: web.Request) -> web.Response:
        channel_id, message_id = self._target(request)
        ref = self.r.parse(request.match_info["emoji"])
        self._need(channel_id, MANAGE_MESSAGES)
        await self.r.remove(channel_id, message_id, ref, request.match_info["user_id"])
        return web.Response(status=204)

    async def list_users(self, request: web.Request) -> web.Response:
        _, message_id = self._target(request)
        ref = self.r.parse(request.match_info["emoji"])
        limit = max(1, min(100, int(request.query.get("limit", "25"))))
        after = int(request.query.get("after", "0"))
        users = [u for u in self.r.users(message_id, ref) if int(u) > after]
        users.sort(key=int)
        found = [payloads.user(self.world.users[u]) for u in users[:limit] if u in self.world.users]
        return web.Response(body=json.dumps(found).encode(), content_type="application/json")

    async def remove_emoji(self, request: web.Request) -> web.Response:
        channel_id, message_id = self._target(request)
        ref = self.r.parse(request.match_info["emoji"])
        self._need(channel_id, MANAGE_MESSAGES)
        await self.r.remove_emoji(channel_id, message_id, ref)
        return web.Response(status=204)

    async def remove_all(self, request: web.Request) -> web.Response:
        channel_id, message_id = self._target(request)
        self._need(channel_id, MANAGE_MESSAGES)
        await self.r.remove_all(channel_id, message_id)
        return web.Response(status=204)


def control_routes(emulator: DiscordEmulator) -> list[web.RouteDef]:
    """``POST /_emulator/reactions`` ``{user, message_id, emoji, remove?}``: a person reacts
    (emoji: Unicode, a custom emoji's name or ``name:id``) → the message's reactions;
    ``GET /_emulator/reactions?channel=`` → ``{message_id: [{emoji, count, users}]}`` (usernames)."""
    from .control import ControlRoutes, _json

    named = emulator.reactions.of_names

    async def react(request: web.Request) -> web.Response:
        body = await _json(request)
        message_id = str(body["message_id"])
        found = emulator.world.find_message(message_id)
        if found is None:
            raise errors.unknown_message()
        channel = found[0]
        await emulator.react(
            str(body["user"]), channel.id, message_id, str(body["emoji"]), remove=bool(body.get("remove"))
        )
        return web.Response(body=json.dumps(named(message_id)).encode(), content_type="application/json")

    async def listing(request: web.Request) -> web.Response:
        channel = emulator.channel(request.query["channel"])
        out = {mid: named(mid) for mid in channel.messages if emulator.reactions_of(mid)}
        return web.Response(body=json.dumps(out).encode(), content_type="application/json")

    guard = ControlRoutes._guard
    return [web.post("/_emulator/reactions", guard(react)), web.get("/_emulator/reactions", guard(listing))]
