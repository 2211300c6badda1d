"""Test helpers for the mirroring worker: a recording Destination (a real implementation of the
protocol, no Redis mock) and room setup on the real core."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, InboundEvent, OutboundMessage, Platform, PlatformUser
from bridge.errors import DeliveryError

D1 = ChannelRef("discord", "g1", "c1")
D2 = ChannelRef("discord", "g1", "c2")
S1 = ChannelRef("slack", "T1", "C1")
S2 = ChannelRef("slack", "T1", "C2")
ALL = (D1, D2, S1, S2)


@dataclass
class Call:
    op: str
    channel: str
    core_id: str
    text: str
    ids: list[str]
    message: OutboundMessage | None = None


@dataclass
class Recorder:
    """Records every call per channel. ``fail`` holds errors to raise on the next calls to a
    channel (consumed one per call); ``down`` holds a factory raising on every call while set;
    ``gate`` makes sends to a channel wait for an event (a slow platform); ``parts`` splits sends."""

    platform: Platform
    calls: list[Call] = field(default_factory=list)
    fail: dict[str, list[Exception]] = field(default_factory=dict)
    down: dict[str, Callable[[], Exception]] = field(default_factory=dict)
    gate: dict[str, asyncio.Event] = field(default_factory=dict)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    parts: int = 1
    attempts: int = 0
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def _enter(self, channel: ChannelRef) -> None:
        self.attempts += 1
        self._changed.set()
        key = channel.key()
        if key in self.down:
            raise self.down[key]()
        queued = self.fail.get(key)
        if queued:
            raise queued.pop(0)
        gate = self.gate.get(key)
        if gate is not None:
            self.entered.set()
            await gate.wait()

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._changed.set()

    async def send(self, channel: ChannelRef, message: OutboundMessage) -> list[str]:
        await self._enter(channel)
        ids = [f"{self.platform}-{next(self._ids)}" for _ in range(self.parts)]
        self._record(Call("send", channel.key(), message.core_id, message.text, ids, message))
        return ids

    async def edit(self, channel: ChannelRef, ids: list[str], message: OutboundMessage) -> list[str]:
        await self._enter(channel)
        self._record(Call("edit", channel.key(), message.core_id, message.text, list(ids), message))
        return list(ids)

    async def delete(self, channel: ChannelRef, ids: list[str]) -> None:
        await self._enter(channel)
        self._record(Call("delete", channel.key(), "", "", list(ids)))

    async def direct_message(self, user: PlatformUser, text: str) -> None:
        raise DeliveryError("not used here", permanent=True)

    # --- reading what happened ---------------------------------------------------------------------
    def sent(self, channel: ChannelRef, op: str = "send") -> list[Call]:
        return [c for c in self.calls if c.channel == channel.key() and c.op == op]

    def texts(self, channel: ChannelRef) -> list[str]:
        return [c.text for c in self.sent(channel)]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait (on recorded calls, not on a clock) until ``predicate`` holds."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


async def setup_room(chat: Chat, name: str = "general", links: tuple[ChannelRef, ...] = ALL) -> None:
    await chat.channels.create(name)
    for ref in links:
        await chat.channels.link(name, ref)


async def register(chat: Chat, *names: str) -> None:
    for name in names:
        await chat.users.register(name, {"firstname": name.title()})


async def say_from(chat: Chat, ref: ChannelRef, msg_id: str, text: str, *, user: str = "u1", reply_to: str = "") -> str:
    """A platform message arriving in a linked channel (the way adapters ingest it)."""
    author = PlatformUser(ref.platform, ref.workspace, user, f"Person {user}", f"https://avatars.test/{user}.png")
    result = await chat.ingest(
        InboundEvent(
            kind="message",
            channel=ref,
            message_id=msg_id,
            event_key=f"{ref.key()}:{msg_id}",
            author=author,
            text=text,
            reply_to=reply_to or None,
        )
    )
    assert result.status == "recorded", result
    assert result.core_id
    return result.core_id


def recorders() -> tuple[Recorder, Recorder, dict[str, Recorder]]:
    discord, slack = Recorder("discord"), Recorder("slack")
    return discord, slack, {"discord": discord, "slack": slack}


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Re-run an async check (each run is a Redis round trip) until it holds, within ``timeout``."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0)
