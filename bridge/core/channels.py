"""Channels (the guide's ``channels`` set and ``channel:<name>`` streams), membership and room links."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.core import validation
from bridge.core.context import CoreContext
from bridge.core.ports import ChannelRef
from bridge.errors import Conflict, NotFound
from bridge.store import keys
from bridge.store.scripts import run


@dataclass(frozen=True)
class ChannelInfo:
    name: str
    entries: int
    members: int
    links: list[str]


class Channels:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx

    async def all(self) -> list[str]:
        names: set[str] = await self.ctx.redis.smembers(keys.CHANNELS)
        return sorted(names)

    async def exists(self, name: str) -> bool:
        return bool(await self.ctx.redis.sismember(keys.CHANNELS, name))

    async def require(self, name: str) -> str:
        clean = validation.channel(name)
        if not await self.exists(clean):
            raise NotFound(f"There is no channel `#{clean}`. `channels` lists them; `create {clean}` makes it.")
        return clean

    async def create(self, name: str) -> str:
        """The guide's flow: SISMEMBER channels, then SADD channels (SADD answers both atomically)."""
        clean = validation.channel(name)
        if not await self.ctx.redis.sadd(keys.CHANNELS, clean):
            raise Conflict(f"The channel `#{clean}` already exists.")
        return clean

    async def overview(self) -> list[ChannelInfo]:
        """Every channel with its message count, members and links: one pipeline."""
        names = await self.all()
        async with self.ctx.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.xlen(keys.channel(name))
                pipe.scard(keys.members(name))
                pipe.smembers(keys.room_links(name))
            raw = await pipe.execute()
        return [
            ChannelInfo(name, int(raw[i * 3]), int(raw[i * 3 + 1]), sorted(raw[i * 3 + 2]))
            for i, name in enumerate(names)
        ]

    async def set_membership(self, name: str, username: str, *, join: bool) -> bool:
        """Join or leave; True when membership changed (a join/leave event was added)."""
        clean = await self.require(name)
        kind = "join" if join else "leave"
        maxlen = self.ctx.settings.stream_maxlen
        log_key, log_maxlen = self.ctx.log_args(clean)
        now = self.ctx.now_ms()
        result = await run(self.ctx.scripts.join, clean, username, kind, now, maxlen, log_key, log_maxlen)
        return bool(result[0] == "ok")

    async def is_member(self, name: str, username: str) -> bool:
        return bool(await self.ctx.redis.sismember(keys.members(name), username))

    # --- room links ----------------------------------------------------------------------------------
    async def link(self, name: str, ref: ChannelRef) -> bool:
        """Mirror a platform channel into a core channel. A platform channel feeds one core channel."""
        clean = await self.require(name)
        current: str | None = await self.ctx.redis.get(keys.route(ref.key()))
        if current and current != clean:
            raise Conflict(f"This channel is already linked to `#{current}`; `unlink` it first.")
        async with self.ctx.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.route(ref.key()), clean)
            pipe.sadd(keys.room_links(clean), ref.key())
            pipe.sadd(keys.LINKED_CHANNELS, clean)
            added = await pipe.execute()
        return bool(added[1])

    async def unlink(self, ref: ChannelRef) -> str:
        current: str | None = await self.ctx.redis.get(keys.route(ref.key()))
        if not current:
            raise NotFound("This channel is not linked to any chatbridge channel.")
        async with self.ctx.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.route(ref.key()))
            pipe.srem(keys.room_links(current), ref.key())
            await pipe.execute()
        if not await self.ctx.redis.scard(keys.room_links(current)):
            await self.ctx.redis.srem(keys.LINKED_CHANNELS, current)
        return current

    async def route(self, ref: ChannelRef) -> str | None:
        value: str | None = await self.ctx.redis.get(keys.route(ref.key()))
        return value

    async def links(self, name: str) -> list[ChannelRef]:
        raw: set[str] = await self.ctx.redis.smembers(keys.room_links(name))
        return [ChannelRef.parse(item) for item in sorted(raw)]

    async def all_links(self, platform: str) -> list[ChannelRef]:
        """Every platform channel of ``platform`` linked to some core channel."""
        names: set[str] = await self.ctx.redis.smembers(keys.LINKED_CHANNELS)
        found = [ref for name in sorted(names) for ref in await self.links(name)]
        return [ref for ref in found if ref.platform == platform]
