"""Health and metrics over HTTP: ``/healthz`` (Redis reachable, worker alive) and ``/metrics``
(JSON, or Prometheus text with ``?format=prometheus``): deliveries, retries, 429s, dead letters,
per-destination backlog and mirror-log lag, as the worker reports them."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from aiohttp import web

from bridge.runtime import Runtime
from bridge.store import keys

log = logging.getLogger("bridge.health")


class HasMetrics(Protocol):
    def metrics(self) -> dict[str, Any]: ...


class HealthServer:
    def __init__(self, *, rt: Runtime, worker: HasMetrics, host: str, port: int) -> None:
        self.rt = rt
        self.worker = worker
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info("health on http://%s:%s/healthz", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthz(self, request: web.Request) -> web.Response:
        try:
            await self.rt.redis.ping()
        except Exception as err:
            return web.json_response({"ok": False, "redis": str(err)}, status=503)
        return web.json_response({"ok": True, "redis": "up", "search": self.rt.chat.ctx.module.label})

    async def metrics(self, request: web.Request) -> web.Response:
        data: dict[str, Any] = dict(self.worker.metrics())
        data["dead_letters"] = await self.rt.redis.xlen(keys.DEAD_LETTERS)
        if request.query.get("format") == "prometheus":
            lines = []
            for name, value in _flatten("chatbridge", data):
                lines.append(f"{name} {value}")
            return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")
        return web.json_response(data)


def _flatten(prefix: str, value: Any) -> list[tuple[str, float]]:
    if isinstance(value, bool):
        return [(prefix, float(value))]
    if isinstance(value, int | float):
        return [(prefix, float(value))]
    if isinstance(value, dict):
        out: list[tuple[str, float]] = []
        for key, inner in value.items():
            clean = "".join(ch if ch.isalnum() else "_" for ch in str(key))
            out += _flatten(f"{prefix}_{clean}", inner)
        return out
    return []
