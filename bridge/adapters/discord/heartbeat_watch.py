"""Zombie gateway connections: a heartbeat that got no ACK before the next one was sent.

discord-api-docs events/gateway.mdx "Heartbeat Interval"
(https://discord.com/developers/docs/topics/gateway#heartbeat-interval-example-heartbeat-ack): "If a
client does not receive a heartbeat ACK between its attempts at sending heartbeats, this may be due to
a failed or 'zombied' connection. The client should immediately terminate the connection with any
close code besides 1000 or 1001, then reconnect and attempt to Resume."

discord.py checks something else: its keep-alive thread restarts a connection only after
``heartbeat_timeout`` (60 s) without receiving *anything* (``KeepAliveHandler.run``), whatever the
heartbeat interval. :class:`HeartbeatWatch` applies the documented rule on top: it reads the
keep-alive handler's times of the last heartbeat sent and the last ACK (``_last_send``, ``_last_ack``;
``perf_counter`` values, set by discord.py's thread and loop) a few times per interval, and when a
heartbeat was followed by the next one without an ACK in between it closes the socket with 4000,
exactly as discord.py's own zombie path does (``ws.close(4000)``): ``Client.connect`` then
reconnects and RESUMEs, and the session replays what the dead connection did not carry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

MIN_TICK_S, MAX_TICK_S = 0.02, 5.0


def _times(ws: Any) -> tuple[float, float, float] | None:
    """(interval, last heartbeat sent, last ACK) of a socket's keep-alive handler, if it has one."""
    keep_alive = getattr(ws, "_keep_alive", None)
    interval = getattr(keep_alive, "interval", None)
    sent, acked = getattr(keep_alive, "_last_send", None), getattr(keep_alive, "_last_ack", None)
    if not isinstance(interval, float | int) or not isinstance(sent, float) or not isinstance(acked, float):
        return None
    return float(interval), sent, acked


class HeartbeatWatch:
    def __init__(self, sockets: Callable[[], list[Any]]) -> None:
        self.sockets = sockets
        """The gateway websockets to watch now (one per shard; None while one is not connected)."""
        self.zombies = 0
        """Connections closed as zombies so far."""
        self._sent: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="discord-heartbeat-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            tick = MAX_TICK_S
            for ws in self.sockets():
                times = _times(ws) if ws is not None else None
                if times is None:
                    continue
                tick = min(tick, times[0] / 4)
                if self.is_zombie(ws, *times):
                    await self._restart(ws, times[0])
            await asyncio.sleep(max(tick, MIN_TICK_S))

    def is_zombie(self, ws: Any, interval: float, sent: float, acked: float) -> bool:
        """Whether the heartbeat sent before ``sent`` went unanswered until ``sent`` (the next one)."""
        previous = self._sent.get(id(ws))
        self._sent[id(ws)] = sent
        return previous is not None and sent > previous and acked < previous

    async def _restart(self, ws: Any, interval: float) -> None:
        self.zombies += 1
        self._sent.pop(id(ws), None)
        log.warning(
            "Discord gateway: no heartbeat ACK between two heartbeats (interval %.1f s): a zombie connection; "
            "closing it to reconnect and resume",
            interval,
        )
        try:
            await ws.close(4000)
        except Exception:  # a socket already gone: discord.py reconnects on its own
            log.debug("closing the zombie gateway socket failed", exc_info=True)
