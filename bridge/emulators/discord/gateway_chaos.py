"""Gateway faults at random, for soaks: every ``every_s`` seconds on average (uniform in
[0.5, 1.5] × ``every_s``), one of ``faults`` (``gateway.FAULTS``; the docs behind each are in
``gateway``) is inflicted on the live connections. A tick with no live connection injects nothing
(the client is reconnecting from the previous fault) and is counted as ``skipped``.

Control routes (JSON):

- ``POST   /_emulator/gateway/faults``  ``{fault}`` → ``{fault, sessions}``: one fault now
- ``POST   /_emulator/gateway/chaos``   ``{every_s, faults?, seed?}`` → the chaos state: start (or
  restart) random faults; ``faults`` defaults to all of them
- ``DELETE /_emulator/gateway/chaos``   → the chaos state: stop
- ``GET    /_emulator/gateway``         sessions, connected sockets, identifies, resumes, faults per
  kind (manual and random), unanswered heartbeats, chaos state
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .gateway import FAULTS, Gateway

if TYPE_CHECKING:
    from .server import DiscordEmulator


class GatewayChaos:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.every_s = 0.0
        self.faults: tuple[str, ...] = ()
        self.injected = 0
        self.skipped = 0
        self._task: asyncio.Task[None] | None = None

    def start(self, every_s: float, faults: Sequence[str] = FAULTS, seed: int | None = None) -> None:
        if not every_s > 0:
            raise ValueError(f"every_s must be a positive number of seconds, not {every_s!r}")
        unknown = [f for f in faults if f not in FAULTS]
        if unknown or not faults:
            raise ValueError(f"faults must be some of {', '.join(FAULTS)} (got {list(faults)!r})")
        self.stop()
        self.every_s, self.faults = float(every_s), tuple(faults)
        self._task = asyncio.create_task(self._run(random.Random(seed)), name="discord-gateway-chaos")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, rng: random.Random) -> None:
        while True:
            await asyncio.sleep(self.every_s * rng.uniform(0.5, 1.5))
            if self.gateway.connected() == 0:
                self.skipped += 1
                continue
            await self.gateway.fault(rng.choice(self.faults))
            self.injected += 1

    def state(self) -> dict[str, Any]:
        running = self._task is not None and not self._task.done()
        return {
            "running": running,
            "every_s": self.every_s if running else None,
            "faults": list(self.faults) if running else [],
            "injected": self.injected,
            "skipped": self.skipped,
        }


def _body_object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


def control_routes(emulator: DiscordEmulator) -> list[web.RouteDef]:
    gateway, chaos = emulator.gateway, emulator.gateway_chaos

    def answer(obj: dict[str, Any], status: int = 200) -> web.Response:
        return web.json_response(obj, status=status)

    async def guarded(request: web.Request, handle: Any) -> web.Response:
        try:
            body = _body_object(await request.json()) if request.body_exists else {}
            result: dict[str, Any] = await handle(body)
        except ValueError as err:  # bad JSON, an unknown fault, a bad period: the emulator keeps running
            return answer({"message": str(err), "code": 0}, 400)
        return answer(result)

    async def one_fault(body: dict[str, Any]) -> dict[str, Any]:
        fault = str(body.get("fault", ""))
        return {"fault": fault, "sessions": await gateway.fault(fault)}

    async def start(body: dict[str, Any]) -> dict[str, Any]:
        faults = body.get("faults", list(FAULTS))
        if not isinstance(faults, list):
            raise ValueError("faults must be a list of fault names")
        seed = body.get("seed")
        try:
            every_s = float(body["every_s"])
        except (KeyError, TypeError, ValueError):
            raise ValueError("every_s (seconds between faults, on average) is required") from None
        chaos.start(every_s, [str(f) for f in faults], int(seed) if seed is not None else None)
        return chaos.state()

    async def stop(body: dict[str, Any]) -> dict[str, Any]:
        chaos.stop()
        return chaos.state()

    async def state(request: web.Request) -> web.Response:
        return answer(
            {
                "sessions": len(gateway.sessions),
                "connected": gateway.connected(),
                "identifies": gateway.identifies,
                "resumes": gateway.resumes,
                "faults": dict(gateway.faults),
                "unanswered_heartbeats": gateway.unanswered_heartbeats,
                "chaos": chaos.state(),
            }
        )

    def route(handle: Any) -> Any:
        async def run(request: web.Request) -> web.Response:
            return await guarded(request, handle)

        return run

    p = "/_emulator/gateway"
    return [
        web.post(f"{p}/faults", route(one_fault)),
        web.post(f"{p}/chaos", route(start)),
        web.delete(f"{p}/chaos", route(stop)),
        web.get(p, state),
    ]
