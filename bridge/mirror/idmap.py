"""The persistent id map between core messages and their mirrored copies (survives restarts).

``cb:mirror:<core id>`` (hash): destination key -> JSON list of the platform ids holding the message
on that destination (every part of a split message, in order). Each of those platform ids also
maps back to the core id (``cb:pmsg:<platform>:<workspace>:<channel>:<id>``), so a reply, edit or
delete made on that platform resolves to the core message. Both are written by the delivery
commit script together with the idempotency record and the XACK (``mirror_commit.lua``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bridge.core.ports import ChannelRef
from bridge.store import keys
from bridge.store.connection import RedisClient
from bridge.store.scripts import Scripts


def decode_ids(raw: str | None) -> list[str]:
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


@dataclass(frozen=True)
class Commit:
    """What one delivery leaves behind; applied atomically with the ack by :meth:`IdMap.commit`."""

    outbox_id: str
    idempotency_key: str = ""
    core_id: str = ""
    ids: list[str] | None = None
    """New platform ids on the destination; ``None`` leaves the map alone; ``[]`` removes it."""
    previous: tuple[str, ...] = ()
    """Platform ids the map held before (edit / delete): their reverse keys that are gone are deleted."""


class IdMap:
    def __init__(self, redis: RedisClient, scripts: Scripts, *, group: str, idempotency_ttl_s: int) -> None:
        self.redis = redis
        self.scripts = scripts
        self.group = group
        self.ttl = idempotency_ttl_s

    async def ids(self, core_id: str, dest: ChannelRef) -> list[str]:
        """Platform ids of a core message on one destination ([] if it was never mirrored there)."""
        raw: str | None = await self.redis.hget(keys.mirror_map(core_id), dest.key())
        return decode_ids(raw)

    async def reply_ids(self, parent: str, dest: ChannelRef) -> list[str]:
        """Where a reply should point on one destination: the parent's mirrored copy there, or the
        parent itself when it was written on that very channel (``origin_channel``/``origin_id``)."""
        found = await self.ids(parent, dest)
        if found:
            return found
        origin, origin_id = await self.redis.hmget(keys.message(parent), "origin_channel", "origin_id")
        return [str(origin_id)] if origin == dest.key() and origin_id else []

    async def all_ids(self, core_id: str) -> dict[str, list[str]]:
        raw: dict[str, str] = await self.redis.hgetall(keys.mirror_map(core_id))
        return {dest: decode_ids(value) for dest, value in raw.items()}

    async def core_id(self, dest: ChannelRef, platform_id: str) -> str | None:
        value: str | None = await self.redis.get(
            keys.platform_message(dest.platform, dest.workspace, dest.channel_id, platform_id)
        )
        return value

    async def delivered(self, idempotency_key: str) -> bool:
        return bool(await self.redis.exists(idempotency_key))

    async def commit(self, dest: ChannelRef, change: Commit) -> None:
        """Id map + reverse keys + idempotency record + XACK of the outbox entry, in one script."""
        ref_key = dest.key()

        def pkey(pid: str) -> str:
            return keys.platform_message(dest.platform, dest.workspace, dest.channel_id, pid)

        if change.ids is None:
            map_key, ids_json, to_set, to_del = "", "", [], []
        else:
            map_key = keys.mirror_map(change.core_id)
            ids_json = json.dumps(change.ids) if change.ids else ""
            to_set = [pkey(pid) for pid in change.ids]
            to_del = [pkey(pid) for pid in change.previous if pid not in change.ids]
        await self.scripts.mirror_commit(
            keys=[],
            args=[
                keys.outbox(ref_key),
                self.group,
                change.outbox_id,
                change.idempotency_key,
                str(self.ttl),
                map_key,
                ref_key,
                ids_json,
                change.core_id,
                str(len(to_set)),
                *to_set,
                *to_del,
            ],
            client=self.redis,
        )
