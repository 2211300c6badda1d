"""Keeping the Slack connection up without ever stopping the bridge.

``SlackAdapter.start`` checks the bot token (``auth.test``), opens a Socket Mode URL
(``apps.connections.open``, app token) and connects, or starts the HTTP listener. When Slack cannot
be reached (DNS, refused, TLS, 5xx) or refuses a token (``invalid_auth``, ``token_revoked``, …),
:func:`supervise` reports it in the adapter's :class:`~bridge.adapters.linkstate.LinkState` with one
log line and tries again: jittered backoff for network trouble, a slow fixed delay for a refused
token (every call would fail the same way until an admin fixes it). Once connected, slack_sdk's
Socket Mode client reconnects by itself (it pings every ``ping_interval`` and opens a new URL when the
socket is closed or stale); the supervisor then only watches the socket to keep the state true,
and starts over (slowly, as for a refused token) if Slack turned Socket Mode off (``link_disabled``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bridge.adapters.linkstate import describe, pause
from bridge.errors import ConfigError

if TYPE_CHECKING:
    from .adapter import SlackAdapter

log = logging.getLogger(__name__)
WATCH_S = 1.0


async def supervise(adapter: SlackAdapter, stop: asyncio.Event) -> None:
    state, schedule = adapter.link, adapter.reconnect
    while not stop.is_set():
        try:
            await adapter.start()
        except ConfigError as err:  # a token Slack refused: fixing it needs an admin
            detail, bad = str(err), True
        except Exception as err:
            detail, bad = f"cannot reach Slack: {describe(err)}", False
        else:
            schedule.reset()
            disabled = await _watch(adapter, stop)
            if disabled is None:
                return
            detail, bad = disabled, True  # Socket Mode turned off: an admin must turn it on; retry slowly
        state.down(detail)
        await adapter.disconnect()
        delay = schedule.next_delay(bad_credentials=bad)
        (log.error if bad else log.warning)("%s; next attempt in %.0f s", detail, delay)
        if await pause(stop, delay):
            return


async def _watch(adapter: SlackAdapter, stop: asyncio.Event) -> str | None:
    """Keep :attr:`SlackAdapter.link` true (and its changes logged) while slack_sdk reconnects; the
    reason when Slack turned Socket Mode off (``link_disabled``: see ``socket_client``), else None
    once stopping."""
    while not await pause(stop, WATCH_S):
        adapter.health()
        if adapter.socket_disabled:
            return adapter.socket_disabled
    return None
