"""The Slack emulator: an aiohttp server on 127.0.0.1 speaking enough Slack for slack-bolt.

Routes: ``/api/<method>`` (Web API), ``/link/`` (Socket Mode WebSocket), ``/_respond/<id>``
(``response_url`` of slash commands) and ``/_emulator/...`` (control routes, see ``control.py``).

Usage::

    async with SlackEmulator() as slack:
        client = AsyncWebClient(token=slack.config.bot_token, base_url=slack.api_url)
        msg = slack.user_says(user="alice", channel="general", text="hi")
        req = await slack.wait_for_request("chat.postMessage")
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import web

from bridge.emulators.network import NetworkFault, control_route
from bridge.emulators.slack import control, external_upload, membership, reaction_routes, socket_faults, webapi
from bridge.emulators.slack.config import EmulatorConfig
from bridge.emulators.slack.events_http import HttpDeliverer
from bridge.emulators.slack.limits import Limiter
from bridge.emulators.slack.limits import control_routes as rate_limit_routes
from bridge.emulators.slack.message_ops import MessageOps
from bridge.emulators.slack.socket_mode import SocketModeHub
from bridge.emulators.slack.state import RecordedRequest

log = logging.getLogger(__name__)
T = TypeVar("T")
RECORDED = web.RequestKey("recorded", RecordedRequest)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SlackEmulator(MessageOps):
    def __init__(self, *, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.workspace = self.config.workspace
        super().__init__()
        self.requests: list[RecordedRequest] = []
        self.throttled: list[tuple[str, int]] = []
        """(method, status) of every call answered with an injected failure or a 429."""
        self.limiter = Limiter(self.config.rate_limits, speed=self.config.rate_limit_speed)
        self.socket = SocketModeHub(
            app_id=self.workspace.app_id,
            ack_timeout=self.config.socket_ack_timeout,
            max_retries=self.config.socket_max_retries,
            on_change=self.notify,
            timers=self.config.socket_timers,
            spawn=self.spawn,
        )
        self.http = HttpDeliverer(
            secret=lambda: self.config.signing_secret,
            timeout=self.config.http_timeout,
            retry_delays=self.config.http_retry_delays,
            on_change=self.notify,
        )
        self.files = external_upload.FileStore()
        self.network = NetworkFault(host=self.config.host)
        """Unreachable on demand: ``await emu.network.refuse()``, ``emu.network.fail(503)``, ``revoke()``."""
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------------
    def web_app(self) -> web.Application:
        app = web.Application(
            middlewares=[self.network.middleware(), self._record_middleware], client_max_size=256 * 1024 * 1024
        )
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link/", self.socket.handle)
        app.router.add_get("/link", self.socket.handle)
        app.router.add_post("/_respond/{run_id}", self._respond)
        control.add_routes(app, self)
        external_upload.add_routes(app, self)
        reaction_routes.add_control_routes(app, self, guard=control._guard, body=control._body)
        membership.add_control_routes(app, self, guard=control._guard, body=control._body)
        socket_faults.add_control_routes(app, self, guard=control._guard, body=control._body)
        app.add_routes([control_route(self.network, on_revoke=self.socket.close)])
        app.add_routes(rate_limit_routes(self.limiter))
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.web_app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.network.attach(self._runner, self.port)
        log.info("slack emulator listening on %s", self.url)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.socket.close()
        await self.http.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.files.close()

    async def __aenter__(self) -> SlackEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL, with the trailing slash slack_sdk needs."""
        return f"{self.url}/api/"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}"

    # -- change notification and waiting -------------------------------------------------------
    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], T | None], *, within: float = 5.0, what: str = "condition") -> T:
        """Wait until ``predicate()`` returns something truthy, and return it."""
        try:
            async with asyncio.timeout(within):
                while True:
                    changed = self._changed
                    value = predicate()
                    if value:
                        return value
                    await changed.wait()
        except TimeoutError:
            raise TimeoutError(f"slack emulator: timed out after {within}s waiting for {what}") from None

    def requests_for(self, api_method: str, *, after: int = 0) -> list[RecordedRequest]:
        return [r for r in self.requests if r.api_method == api_method and r.seq > after]

    async def wait_for_request(
        self,
        api_method: str | None = None,
        *,
        where: Callable[[RecordedRequest], bool] | None = None,
        after: int = 0,
        within: float = 5.0,
    ) -> RecordedRequest:
        """The first recorded request (``seq > after``) for ``api_method`` matching ``where``."""

        def find() -> RecordedRequest | None:
            for r in self.requests:
                if r.seq <= after or (api_method is not None and r.api_method != api_method):
                    continue
                if where is None or where(r):
                    return r
            return None

        return await self.wait_for(find, within=within, what=f"a {api_method or 'matching'} request")

    def user_reacts(self, *, user: str, channel: str, ts: str, name: str, remove: bool = False) -> bool:
        """A person adds (or removes) reaction ``name`` (see ``reaction_routes``); False if nothing changed."""
        return reaction_routes.user_reacts(self, user=user, channel=channel, ts=ts, name=name, remove=remove)

    @property
    def last_seq(self) -> int:
        return self.requests[-1].seq if self.requests else 0

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("slack emulator task failed", exc_info=task.exception())

    def note_throttled(self, method: str, status: int) -> None:
        self.throttled.append((method, status))

    # -- HTTP handlers -------------------------------------------------------------------------
    @web.middleware
    async def _record_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(("/link", "/_emulator", "/upload/", "/files-pri/", "/signin")):
            return await handler(request)  # file bytes stream through; they are not request records
        raw = await request.read()
        form: dict[str, str] = {}
        body: Any = None
        if request.content_type == "application/x-www-form-urlencoded":
            form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        elif raw and request.content_type == "application/json":
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        api_method = request.match_info.get("method") if request.path.startswith("/api/") else None
        rec = RecordedRequest(
            seq=self.last_seq + 1,
            http_method=request.method,
            path=request.path,
            api_method=api_method,
            query=dict(request.query),
            form=form,
            json=body,
            headers=dict(request.headers),
            at=time.time(),
        )
        self.requests.append(rec)
        request[RECORDED] = rec
        try:
            return await handler(request)
        finally:
            self.notify()

    async def _api(self, request: web.Request) -> web.StreamResponse:
        response = webapi.call(self, request[RECORDED])
        if isinstance(response.body, bytes) and response.content_type == "application/json":
            request[RECORDED].answer = json.loads(response.body)
        return response

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        run = self.commands.get(request.match_info["run_id"])
        rec = request[RECORDED]
        if run is None:
            return web.Response(status=404, text="no_such_response_url")
        body = rec.json if isinstance(rec.json, dict) else dict(rec.form)
        if len(run.responses) >= 5:
            return web.Response(status=404, text="used_url")
        self.record_response(run, body)
        return web.Response(text="ok")
