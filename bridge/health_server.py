"""The operator's HTTP endpoint: ``/healthz`` and ``/metrics``.

- ``GET /healthz``: every part (Redis, search module, mirror worker, each adapter) as
  :class:`bridge.health.PartHealth`; 200 while no part has been down longer than ``health.grace_s``,
  else 503 with the failing parts named in ``failing``.
- ``GET /metrics``: the Prometheus text format of :data:`bridge.metrics.REGISTRY` (content type
  ``prometheus_client.CONTENT_TYPE_LATEST``); ``?format=json`` answers the worker's and adapters'
  JSON snapshot instead (what ``/metrics`` answered before).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridge import metrics
from bridge.health import HealthReporter, PartHealth, StateClock, verdict
from bridge.store import keys

if TYPE_CHECKING:
    from bridge.runtime import Runtime

log = logging.getLogger(__name__)


class WorkerPart(HealthReporter, Protocol):
    def metrics(self) -> dict[str, Any]: ...


class HealthServer:
    def __init__(
        self,
        *,
        rt: Runtime,
        worker: WorkerPart,
        adapters: Mapping[str, HealthReporter] | None = None,
        host: str,
        port: int,
        grace_s: float = 30.0,
        poll_s: float = 1.0,
        probe_timeout_s: float = 2.0,
        stopping: asyncio.Event | None = None,
    ) -> None:
        self.rt = rt
        self.worker = worker
        self.adapters = dict(adapters or {})
        self.host = host
        self.port = port
        self.grace_s = grace_s
        self.probe_timeout_s = probe_timeout_s
        self.poll_s = poll_s
        self.stopping = stopping or asyncio.Event()
        """Set when the bridge shuts down: parts stopping then is expected, not logged as down."""
        self._watcher: asyncio.Task[None] | None = None
        self._last: dict[str, bool] = {}
        self._redis = StateClock("redis")
        self._search = StateClock("search")
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
        self._watcher = asyncio.create_task(self._watch(), name="health-watch")
        log.info("health on http://%s:%s/healthz, metrics on /metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- parts ---------------------------------------------------------------------------------
    async def parts(self) -> list[PartHealth]:
        found = [*await self._store_parts(), self.worker.health()]
        for name, adapter in sorted(self.adapters.items()):
            try:
                found.append(adapter.health())
            except Exception as err:  # a broken reporter is itself a finding, never a 500
                log.exception("health of %s failed", name)
                found.append(PartHealth(name, False, time.time(), f"health check raised {err!r}"))
        return found

    async def _store_parts(self) -> list[PartHealth]:
        redis = self.rt.redis
        module = self.rt.chat.ctx.module
        try:
            async with asyncio.timeout(self.probe_timeout_s):
                await redis.ping()
        except Exception as err:
            self._redis.set(False, f"unreachable at {_safe_url(self.rt.url)}: {err or type(err).__name__}")
            self._search.set(False, "unknown while Redis is unreachable")
            return [self._redis.snapshot(), self._search.snapshot(module=module.label)]
        self._redis.set(True, f"up at {_safe_url(self.rt.url)}")
        try:
            async with asyncio.timeout(self.probe_timeout_s):
                raw = await redis.execute_command("FT.INFO", keys.IDX_MESSAGES)
            pairs = dict(zip(raw[::2], raw[1::2], strict=False)) if isinstance(raw, list) else {}
            docs = pairs.get("num_docs", pairs.get(b"num_docs"))
            self._search.set(True, f"{keys.IDX_MESSAGES} answers")
            return [self._redis.snapshot(), self._search.snapshot(module=module.label, messages_indexed=_num(docs))]
        except Exception as err:
            self._search.set(False, f"FT.INFO {keys.IDX_MESSAGES} failed: {err} (is the search module loaded?)")
            return [self._redis.snapshot(), self._search.snapshot(module=module.label)]

    async def check(self) -> list[PartHealth]:
        """Check every part now: update the gauges, log each change of state of the store and the
        worker (WARNING when a part goes down, INFO when it is back; the adapters log their own
        connection changes, ``bridge.adapters.linkstate``) and return the parts."""
        parts = await self.parts()
        for part in parts:
            metrics.PART_HEALTHY.labels(part=part.name).set(1 if part.ok else 0)
            if part.name in self.adapters:
                metrics.ADAPTER_CONNECTED.labels(platform=part.name).set(1 if part.ok else 0)
            before = self._last.get(part.name)
            if (before is None and part.ok) or self.stopping.is_set() or part.name in self.adapters:
                pass
            elif before is not part.ok:
                if part.ok:
                    log.info("%s is healthy again: %s", part.name, part.detail)
                else:
                    log.warning("%s is down: %s", part.name, part.detail)
            self._last[part.name] = part.ok
        return parts

    async def _watch(self) -> None:
        """Check the parts every ``poll_s`` so ``since`` and the gauges are right between scrapes."""
        while not self.stopping.is_set():
            try:
                await self.check()
            except Exception:
                log.exception("health check failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.poll_s)

    # -- routes --------------------------------------------------------------------------------
    async def healthz(self, request: web.Request) -> web.Response:
        result = verdict(await self.check(), grace_s=self.grace_s)
        body = result.to_json()
        body["grace_s"] = self.grace_s
        return web.json_response(body, status=result.status)

    async def metrics(self, request: web.Request) -> web.Response:
        if request.query.get("format") == "json":
            data: dict[str, Any] = dict(self.worker.metrics())
            data["dead_letters"] = await self.rt.redis.xlen(keys.DEAD_LETTERS)
            for name, adapter in sorted(self.adapters.items()):
                snapshot = getattr(adapter, "metrics", None)
                if callable(snapshot):
                    data.setdefault("adapters", {})[name] = snapshot()
            return web.json_response(data)
        await self._refresh_gauges()
        await self.check()
        body = generate_latest(metrics.REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _refresh_gauges(self) -> None:
        """Gauges read at scrape time: the dead-letter count."""
        try:
            async with asyncio.timeout(self.probe_timeout_s):
                metrics.DEAD_LETTERS.set(await self.rt.redis.xlen(keys.DEAD_LETTERS))
        except Exception as err:
            log.debug("metrics: could not read the dead-letter count: %s", err)


def _num(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _safe_url(url: str) -> str:
    """A Redis URL without its password (``redis://:secret@host`` → ``redis://***@host``)."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    return f"{scheme}{sep}{rest}"
