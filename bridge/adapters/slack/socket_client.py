"""The Socket Mode client the adapter runs: slack_sdk's aiohttp client, with Slack's ``disconnect``
frames handled the way the docs ask ("Using Socket Mode", api.slack.com/apis/socket-mode).

slack_sdk answers every ``disconnect`` frame by opening a new connection at once. That is right for
``warning`` and ``refresh_requested`` (a routine refresh: envelopes not yet acked are acked over the
new connection, or redelivered by Slack with ``retry_attempt`` + 1 and recorded once by their
``event_id``), but not for:

- ``link_disabled``: Socket Mode was turned off in the app's settings. Reconnecting would be refused
  the same way, in a tight loop. Here the client stops, the adapter's ``/healthz`` part goes down
  with a one-line ERROR saying what to turn on, and the supervisor tries again only every
  ``bad_token_retry_s`` (as for a refused token: it needs an admin).
- ``too_many_websockets``: the app already holds Slack's maximum of connections (10; another
  process runs with the same app token?). An immediate reconnect gets the same answer; here the
  reconnect waits a doubling, jittered delay (``reconnect_min_s`` … ``reconnect_max_s``).

Every frame is counted (``chatbridge_slack_socket_disconnects_total{reason}``) and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient

from bridge import metrics
from bridge.adapters.linkstate import Reconnect

log = logging.getLogger(__name__)

DISCONNECTS = Counter(
    "chatbridge_slack_socket_disconnects_total",
    "Socket Mode disconnect frames received from Slack, by reason (warning, refresh_requested, "
    "too_many_websockets, link_disabled).",
    ["reason"],
    registry=metrics.REGISTRY,
)
LINK_DISABLED = (
    "Slack turned Socket Mode off for this app (disconnect reason link_disabled): turn it on again "
    "(api.slack.com/apps → your app → Socket Mode), or set slack.mode: http"
)


class BridgeSocketModeClient(SocketModeClient):
    """slack_sdk's client; ``disconnect`` frames go through :meth:`run_message_listeners` first."""

    def __init__(self, *, pacing: Reconnect, on_disabled: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pacing = pacing
        self._on_disabled = on_disabled
        self.disabled: str | None = None
        """Set (to the operator's message) once Slack said ``link_disabled``."""
        self.frames: list[tuple[float, str]] = []
        """(time, reason) of the disconnect frames received (bounded)."""

    async def enqueue_message(self, message: str) -> None:
        # receive_messages queues a frame, then reads the next one: a CLOSE right behind the frame
        # would reconnect at once (auto_reconnect) before the frame is handled below
        if '"disconnect"' in message:
            with contextlib.suppress(ValueError):
                frame = json.loads(message)
                if frame.get("type") == "disconnect" and frame.get("reason") == "link_disabled":
                    self.auto_reconnect_enabled = self.default_auto_reconnect_enabled = False
                elif frame.get("type") == "disconnect" and frame.get("reason") == "too_many_websockets":
                    self.auto_reconnect_enabled = False  # connect() turns it on again once connected
        await super().enqueue_message(message)

    async def run_message_listeners(self, message: dict[str, Any], raw_message: str) -> None:
        if message.get("type") != "disconnect":
            await super().run_message_listeners(message, raw_message)
            return
        reason = str(message.get("reason") or "unknown")
        DISCONNECTS.labels(reason=reason).inc()
        self.frames = [*self.frames[-99:], (time.time(), reason)]
        host = (message.get("debug_info") or {}).get("host")
        if reason == "link_disabled":
            self.disabled = LINK_DISABLED
            log.error("slack: %s (host %s)", LINK_DISABLED, host)
            self._on_disabled(LINK_DISABLED)
            await self.close()  # type: ignore[no-untyped-call]
            return
        if reason == "too_many_websockets":
            delay = self._pacing.next_delay(bad_credentials=False)
            log.warning(
                "slack: Slack refused a Socket Mode connection (too_many_websockets: at most 10 per app; "
                "is another process using this app token?); reconnecting in %.1f s",
                delay,
            )
            await asyncio.sleep(delay)
            if self.closed:
                return
        else:
            log.info("slack: Socket Mode disconnect (%s, host %s): opening a new connection", reason, host)
            self._pacing.reset()
        await super().run_message_listeners(message, raw_message)


class BridgeSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's handler with :class:`BridgeSocketModeClient` as its client."""

    client: BridgeSocketModeClient

    def __init__(
        self,
        app: AsyncApp,
        *,
        app_token: str,
        ping_interval: float,
        pacing: Reconnect,
        on_disabled: Callable[[str], None],
    ) -> None:  # bolt's __init__ would build its own client (and an aiohttp session) first
        self.app = app
        self.app_token = app_token
        self.client = BridgeSocketModeClient(
            pacing=pacing,
            on_disabled=on_disabled,
            app_token=app_token,
            logger=app.logger,
            web_client=app.client,
            ping_interval=ping_interval,
        )
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]
