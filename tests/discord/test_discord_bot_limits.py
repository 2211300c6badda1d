"""The bot's own routes under Discord's 429s while the worker delivers (bridge/adapters/discord/bot_limits.py):
discord.py would sleep any bot-route 429 up to ``max_ratelimit_timeout`` (30 s at least) inside the
call, 5 times over; during a delivery a wait longer than ``webhook_max_wait_s`` is raised at once as
``DeliveryError(retry_after)`` instead, so the worker holds and retries the lane. Everything else the
bot asks keeps discord.py's own handling."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from waiting import until

from bridge.adapters.discord import DiscordAdapter
from bridge.core.ports import ChannelRef, OutboundMessage, PlatformUser
from bridge.emulators.discord import DiscordEmulator
from bridge.errors import DeliveryError

DM_POST = r"/channels/\d+/messages"
REACTION_PUT = r"/channels/\d+/messages/\d+/reactions/.+/@me"
WEBHOOK_CREATE = r"/channels/\d+/webhooks"
WITHIN_S = 5.0
"""Far less than the 20 s discord.py would sleep (a test without the change fails at this bound)."""


def ref(emu: DiscordEmulator, channel: str = "general") -> ChannelRef:
    return ChannelRef("discord", emu.guild_id, emu.channel(channel).id)


def alice(emu: DiscordEmulator) -> PlatformUser:
    return PlatformUser("discord", emu.guild_id, emu.user("alice").id, "Alice")


def refused(emu: DiscordEmulator, method: str, path: str, since: int = 0) -> list[int]:
    return [r.status for r in emu.requests[since:] if r.method == method and re.fullmatch(path, r.path)]


async def _raised_at_once(call: asyncio.Future[object] | object) -> DeliveryError:
    started = time.monotonic()
    with pytest.raises(DeliveryError) as info:
        async with asyncio.timeout(WITHIN_S):
            await call  # type: ignore[misc]
    assert time.monotonic() - started < WITHIN_S
    return info.value


async def test_a_dm_under_a_long_429_is_raised_not_slept(adapter: DiscordAdapter, emulator: DiscordEmulator) -> None:
    await adapter.destination.direct_message(alice(emulator), "warm up")  # the DM channel is open
    emulator.rate_limit("POST", DM_POST, retry_after=20.0, times=1)
    since = len(emulator.requests)
    error = await _raised_at_once(adapter.destination.direct_message(alice(emulator), "held"))
    assert error.retry_after == pytest.approx(20.0) and not error.permanent
    assert refused(emulator, "POST", DM_POST, since) == [429]  # asked once, never retried inside
    assert adapter.bot_limits.gate.counts["route"] == 1 and adapter.bot_limits.installed
    await adapter.destination.direct_message(alice(emulator), "after the wait")  # the worker's retry
    assert emulator.dm_messages("alice")[-1]["content"] == "after the wait"


async def test_a_reaction_under_a_long_429_is_raised_not_slept(
    adapter: DiscordAdapter, emulator: DiscordEmulator
) -> None:
    [copy] = await adapter.destination.send(ref(emulator), OutboundMessage("1-0", "cricket", "hi", "Wasim"))
    emulator.rate_limit("PUT", REACTION_PUT, retry_after=20.0, times=5)
    error = await _raised_at_once(adapter.destination.react(ref(emulator), copy, "👍", add=True))
    assert error.retry_after == pytest.approx(20.0)
    assert refused(emulator, "PUT", REACTION_PUT) == [429]


async def test_creating_the_channels_webhook_under_a_long_429_is_raised_not_slept(
    adapter: DiscordAdapter, emulator: DiscordEmulator
) -> None:
    emulator.rate_limit("POST", WEBHOOK_CREATE, retry_after=20.0, times=5)  # the first post makes the webhook
    error = await _raised_at_once(
        adapter.destination.send(ref(emulator), OutboundMessage("1-0", "cricket", "hi", "Wasim"))
    )
    assert error.retry_after == pytest.approx(20.0)
    assert refused(emulator, "POST", WEBHOOK_CREATE) == [429]


async def test_a_short_429_is_still_waited_out_inside_the_delivery(
    adapter: DiscordAdapter, emulator: DiscordEmulator
) -> None:
    await adapter.destination.direct_message(alice(emulator), "warm up")
    emulator.rate_limit("POST", DM_POST, retry_after=0.2, times=1)
    await adapter.destination.direct_message(alice(emulator), "after a short wait")
    assert refused(emulator, "POST", DM_POST)[-2:] == [429, 200]


async def test_outside_deliveries_discord_py_sleeps_and_a_global_limit_it_meets_holds_deliveries(
    adapter: DiscordAdapter, emulator: DiscordEmulator
) -> None:
    """A history read (the catch-up's) meets a global 429: discord.py sleeps it and retries, as before;
    a DM delivered meanwhile is not queued behind discord.py's global lock but raised at once."""
    await adapter.destination.direct_message(alice(emulator), "warm up")
    emulator.rate_limit("GET", DM_POST, retry_after=3.0, times=1, is_global=True)
    read = asyncio.create_task(adapter.client.http.logs_from(int(emulator.channel("general").id), 10))
    await until(lambda: refused(emulator, "GET", DM_POST) == [429], what="the read refused")
    error = await _raised_at_once(adapter.destination.direct_message(alice(emulator), "held by the global limit"))
    assert 2.0 < (error.retry_after or 0) <= 3.0
    assert isinstance(await asyncio.wait_for(read, 10), list)  # slept and retried inside, as before
    assert refused(emulator, "GET", DM_POST) == [429, 200]
