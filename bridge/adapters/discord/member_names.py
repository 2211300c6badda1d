"""Who a Discord user id is, without the member cache.

The bot does not ask for the privileged GUILD_MEMBERS / GUILD_PRESENCES intents, so GUILD_CREATE
lists only the bot itself (and people in voice): events/gateway-events.mdx, Guild Create, "If your
bot does not have the GUILD_PRESENCES Gateway Intent ... members and presences returned in this
event will only contain your bot and users in voice channels"; topics/gateway.mdx, Privileged
Intents. ``guild.get_member`` is None for almost everyone. A message carries its author (and the
people it mentions) itself; for anyone else, an ``<@id>`` typed in a forward, a reaction removed
(the event has only the id), a thread's creator, this looks them up:

1. discord.py's cache (the bot, people in voice, members seen in events);
2. Redis ``keys.discord_member`` (name + avatar, expiring after ``ttl_s``; an unknown id is
   remembered for ``miss_ttl_s``);
3. REST ``GET /guilds/{guild}/members/{user}`` (resources/guild.mdx Get Guild Member: their nick
   there), else ``GET /users/{user}`` (someone who left the server keeps a name).

A lookup that fails for another reason (network, 5xx, 429) answers None and caches nothing.
"""

from __future__ import annotations

import logging

import aiohttp
import discord

from bridge.core.chat import Chat
from bridge.core.ports import PlatformUser
from bridge.store import keys

log = logging.getLogger(__name__)
TTL_S = 6 * 3600
MISS_TTL_S = 600


class MemberNames:
    def __init__(self, *, client: discord.Client, chat: Chat, ttl_s: int = TTL_S, miss_ttl_s: int = MISS_TTL_S):
        self.client = client
        self.chat = chat
        self.ttl_s = ttl_s
        self.miss_ttl_s = miss_ttl_s
        self.fetched = 0
        """REST lookups made (tests: the cache saves them)."""

    async def user(self, guild_id: str, user_id: str) -> PlatformUser | None:
        """The person behind ``user_id`` in ``guild_id``; None when Discord knows no such user."""
        if not user_id.isdigit():
            return None
        guild = self.client.get_guild(int(guild_id)) if guild_id.isdigit() else None
        cached = guild.get_member(int(user_id)) if guild is not None else None
        if cached is not None:
            return platform_user(guild_id, cached)
        redis = self.chat.ctx.redis
        key = keys.discord_member(guild_id, user_id)
        stored: dict[str, str] = await redis.hgetall(key)
        if stored.get("missing") == "1":
            return None
        if stored.get("name"):
            return PlatformUser("discord", guild_id, user_id, stored["name"], stored.get("avatar") or None)
        try:
            found = await self._fetch(guild, int(user_id))
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as err:
            log.warning("could not look up Discord user %s in %s: %s", user_id, guild_id, err)
            return None
        async with redis.pipeline(transaction=True) as pipe:
            if found is None:
                pipe.hset(key, mapping={"missing": "1"})
                pipe.expire(key, self.miss_ttl_s)
            else:
                person = platform_user(guild_id, found)
                pipe.hset(key, mapping={"name": person.display_name, "avatar": person.avatar_url or ""})
                pipe.expire(key, self.ttl_s)
            await pipe.execute()
        return platform_user(guild_id, found) if found is not None else None

    async def _fetch(self, guild: discord.Guild | None, user_id: int) -> discord.abc.User | None:
        self.fetched += 1
        if guild is not None:
            try:
                return await guild.fetch_member(user_id)
            except discord.NotFound:
                pass  # not (or no longer) a member: the user still has a name
        try:
            return await self.client.fetch_user(user_id)
        except discord.NotFound:
            return None


def platform_user(guild_id: str, user: discord.abc.User) -> PlatformUser:
    return PlatformUser("discord", guild_id, str(user.id), user.display_name or user.name, str(user.display_avatar.url))
