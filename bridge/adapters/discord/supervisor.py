"""Keeping the Discord connection up without ever stopping the bridge.

discord.py reconnects the gateway by itself once logged in (``Client.connect(reconnect=True)``:
resume, re-identify, exponential backoff on network errors). What it does not do is survive a
failed *login* (DNS failure, connection refused, TLS error, 5xx on ``GET /users/@me``), a token that
Discord refuses (401 → ``LoginFailure``, also when the token is revoked while running: the gateway
closes with 4004 and ``connect`` raises), or a missing privileged intent (close 4014). Each of those
ends ``Client.start`` with an exception; :func:`supervise` catches it, reports it in the adapter's
:class:`~bridge.adapters.linkstate.LinkState` with one log line, waits (jittered backoff; a slow
fixed delay for a refused token or intent, discord-api-docs topics/gateway.mdx "Session Start
Limit": a bot that identifies too often gets its token reset) and starts a fresh client.

A fresh ``discord.Client`` per attempt: ``Client.close`` leaves a client whose ``loop`` and HTTP
connector are gone, so a closed client cannot log in again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import aiohttp
import discord

from bridge.adapters.linkstate import describe, pause

if TYPE_CHECKING:
    from .client import DiscordAdapter

log = logging.getLogger(__name__)


def failure(adapter: DiscordAdapter, err: BaseException) -> tuple[str, bool]:
    """(one-line reason, whether the credentials/settings are at fault) for an ended client."""
    config = adapter.config
    if isinstance(err, discord.LoginFailure):
        return f"{config.token_env}: Discord refused the bot token (401); fix the token", True
    if isinstance(err, discord.PrivilegedIntentsRequired):
        return (
            "discord.message_content: the Message Content intent is not enabled for this bot; enable it in "
            "the Developer Portal (Bot → Privileged Gateway Intents) or set message_content: false",
            True,
        )
    if isinstance(err, discord.ConnectionClosed) and err.code == 4004:
        return f"{config.token_env}: Discord closed the gateway with 4004 (token revoked or wrong)", True
    if isinstance(err, discord.HTTPException):
        return f"Discord answered HTTP {err.status} ({err.text[:120] or 'no body'})", False
    if isinstance(err, aiohttp.ClientError | OSError | asyncio.TimeoutError | discord.GatewayNotFound):
        return f"cannot reach Discord: {describe(err)}", False
    if isinstance(err, discord.ConnectionClosed):
        return f"gateway closed with code {err.code}", False
    return f"Discord client failed: {describe(err)}", False


async def supervise(adapter: DiscordAdapter, token: str, stop: asyncio.Event) -> None:
    """Run the client until ``stop``; every failure is reported, waited out and retried."""
    state, schedule = adapter.link, adapter.reconnect
    while not stop.is_set():
        client = adapter.client
        run = asyncio.create_task(client.start(token), name="discord-client")
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({run, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if stop.is_set():
            await _close(client)
            await asyncio.wait({run}, timeout=10)
            return
        error = run.exception() if not run.cancelled() else None
        detail, bad = failure(adapter, error) if error is not None else ("the Discord client stopped", False)
        state.down(detail)
        await _close(client)
        delay = schedule.next_delay(bad_credentials=bad)
        (log.error if bad else log.warning)("%s; next attempt in %.0f s", detail, delay)
        if await pause(stop, delay):
            return
        adapter.renew_client()


async def _close(client: discord.Client) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.close(), 10)
