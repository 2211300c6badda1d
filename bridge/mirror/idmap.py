"""The persistent id map between core messages and their mirrored copies (survives restarts).

``cb:mirror:<core id>`` (hash): destination key -> JSON list of the platform ids holding the message
on that destination (every part of a split message, in order). Each of those platform ids also
maps back to the core id (``cb:pmsg:<platform>:<workspace>:<channel>:<id>``), so a reply, edit or
delete made on that platform resolves to the core message. Both are written by the delivery
commit script together with the idempotency record and the XACK (``mirror_commit.lua``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from bridge.core.ports import ChannelRef
from bridge.store import keys
from bridge.store.connection import RedisClient
from bridge.store.scripts import Scripts
from bridge.tasks import TaskSet


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


class ScriptBatcher:
    """Runs calls of one script issued by many lanes in the same event-loop turn as one pipeline
    (one round trip, and far less client work per call than separate commands). Each caller still
    awaits its own call's result; a call is sent as soon as the loop is free, never held back."""

    def __init__(self, redis: RedisClient, script: AsyncScript) -> None:
        self.redis = redis
        self.script = script
        self._queue: list[tuple[list[str], asyncio.Future[Any]]] = []
        self._tasks: TaskSet[None] = TaskSet()

    async def run(self, args: list[str]) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((args, future))
        if len(self._queue) == 1:
            loop.call_soon(self._start_flush)
        return await asyncio.shield(future)

    async def aclose(self) -> None:
        """Send what is queued and wait for every call in flight (each one records a delivery that
        already happened, so it is finished rather than dropped when the worker stops)."""
        if self._queue:
            self._start_flush()
        await self._tasks.drain()

    def _start_flush(self) -> None:
        batch, self._queue = self._queue, []
        if not batch:
            return
        self._tasks.spawn(self._flush(batch))

    async def _flush(self, batch: list[tuple[list[str], asyncio.Future[Any]]]) -> None:
        if len(batch) == 1:  # nothing to share: a plain call (it reloads the script after NOSCRIPT)
            args, future = batch[0]
            try:
                future.set_result(await self.script(keys=[], args=args, client=self.redis))
            except Exception as err:
                future.set_exception(err)
            return
        try:
            results = await self._pipeline([args for args, _ in batch])
            missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
            if missing:  # Redis restarted or flushed its scripts: those calls did not run
                await self.redis.script_load(self.script.script)
                again = await self._pipeline([batch[i][0] for i in missing])
                for i, result in zip(missing, again, strict=True):
                    results[i] = result
        except Exception as err:
            for _, future in batch:
                future.set_exception(err)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _pipeline(self, calls: list[list[str]]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for args in calls:
                pipe.evalsha(self.script.sha, 0, *args)
            results: list[Any] = await pipe.execute(raise_on_error=False)
        return results


class IdMap:
    def __init__(
        self,
        redis: RedisClient,
        scripts: Scripts,
        *,
        group: str,
        idempotency_ttl_s: int,
        batcher: ScriptBatcher | None = None,
    ) -> None:
        self.redis = redis
        self.batcher = batcher
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
        if dest.platform == "slack":
            parent = await self._thread_root(parent)
        return await self.here(parent, dest)

    async def here(self, core_id: str, dest: ChannelRef) -> list[str]:
        """Where a core message is on one destination: its mirrored copy there, or the original when
        it was written on that very channel ([] when neither can be proven)."""
        found = await self.ids(core_id, dest)
        if found:
            return found
        origin, origin_id = await self.redis.hmget(keys.message(core_id), "origin_channel", "origin_id")
        return [str(origin_id)] if origin == dest.key() and origin_id else []

    async def _thread_root(self, core_id: str, *, depth: int = 20) -> str:
        """The first message of a reply chain: Slack threads have one level, so a reply to a reply
        goes in the root's thread (``thread_ts`` must be the root's ts)."""
        current = core_id
        for _ in range(depth):
            thread, parent = await self.redis.hmget(keys.message(current), "thread", "reply_to")
            if thread:  # in a thread (or its root): that thread
                return str(thread)
            if not parent:
                break
            current = str(parent)
        return current

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
        args = [
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
        ]
        if self.batcher is not None:
            await self.batcher.run(args)
        else:
            await self.scripts.mirror_commit(keys=[], args=args, client=self.redis)
