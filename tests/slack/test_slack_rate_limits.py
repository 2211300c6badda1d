"""Slack's rate limits, on by default in the emulator (api.slack.com/apis/rate-limits; the tiers of the
method pages), through slack_sdk; and the adapter's pacing (bridge/adapters/slack/pacing.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_kit import web_client
from slack_sdk.errors import SlackApiError

from bridge.adapters.slack.directory import Directory
from bridge.adapters.slack.outbound import SlackDestination
from bridge.adapters.slack.pacing import Bucket, Pacer
from bridge.core.ports import ChannelRef, OutboundMessage
from bridge.emulators.slack import EmulatorConfig, RateLimit, SlackEmulator
from bridge.emulators.slack.config import SLACK_LIMITS
from bridge.errors import DeliveryError

CRICKET = ChannelRef("slack", "T0EMULATOR", "C0CRICKET1")


@pytest.fixture
async def real() -> AsyncIterator[SlackEmulator]:
    """An emulator with its default (real) limits."""
    async with SlackEmulator(config=EmulatorConfig()) as emu:
        yield emu


async def test_posts_are_limited_per_channel_with_a_short_burst(real: SlackEmulator) -> None:
    client = web_client(real)
    for n in range(3):  # "short bursts >1 allowed"
        await client.chat_postMessage(channel="C0GENERAL1", text=f"burst {n}")
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C0GENERAL1", text="one too many")
    assert info.value.response.status_code == 429
    assert info.value.response.data == {"ok": False, "error": "ratelimited"}
    assert info.value.response.headers["Retry-After"] == "1"  # whole seconds
    await client.chat_postMessage(channel="C0RANDOM01", text="another channel has its own")
    assert real.throttled == [("chat.postMessage", 429)]


async def test_tiered_methods_are_limited_workspace_wide(real: SlackEmulator) -> None:
    client = web_client(real)
    answers = await asyncio.gather(
        *(client.users_info(user="U0BOB00001") for _ in range(100)), return_exceptions=True
    )  # Tier 4: 100+ per minute
    assert not [a for a in answers if isinstance(a, Exception)]
    with pytest.raises(SlackApiError) as info:
        await client.users_info(user="U0CAROL001")
    assert info.value.response.status_code == 429 and int(info.value.response.headers["Retry-After"]) >= 1
    assert SLACK_LIMITS["chat.update"] == SLACK_LIMITS["reactions.add"] == SLACK_LIMITS["conversations.history"]
    assert SLACK_LIMITS["chat.update"] == RateLimit(limit=50, window=60.0, per_channel=False)  # Tier 3


async def test_the_workspace_limit_of_posts_counts_every_channel(real: SlackEmulator) -> None:
    real.limiter.set_limit("chat.postMessage", (RateLimit(5, 5.0), RateLimit(2, 60.0, per_channel=False)))
    client = web_client(real)
    await client.chat_postMessage(channel="C0GENERAL1", text="one")
    await client.chat_postMessage(channel="C0RANDOM01", text="two")
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel="C0CRICKET1", text="three: over the workspace's")


async def test_limits_can_be_turned_off_or_sped_up_and_chaos_injects_429s(real: SlackEmulator) -> None:
    base = f"{real.url}/_emulator/rate_limits"
    async with aiohttp.ClientSession() as http:
        for path, body in [("chaos", {}), ("chaos", {"probability": 2}), ("settings", {"speed": -1})]:
            async with http.post(f"{base}/{path}", json=body) as resp:
                assert resp.status == 400, (path, body)
        async with http.post(f"{base}/chaos", json={"probability": 1, "methods": ["auth.test"], "seed": 3}) as r:
            assert r.status == 200
        client = web_client(real)
        with pytest.raises(SlackApiError) as info:
            await client.auth_test()
        assert info.value.response.status_code == 429
        await client.chat_postMessage(channel="C0GENERAL1", text="other methods are not touched")
        async with http.delete(f"{base}/chaos") as r:
            assert r.status == 200
        await client.auth_test()
        async with http.post(f"{base}/settings", json={"enabled": False}) as r:
            assert (await r.json())["methods"] == []
        for n in range(10):
            await client.chat_postMessage(channel="C0GENERAL1", text=f"unlimited {n}")
    assert real.throttled == [("auth.test", 429)]


def test_a_bucket_gives_a_burst_then_the_steady_rate() -> None:
    bucket = Bucket(rate=1.0, burst=2)
    assert [bucket.reserve(0.0) for _ in range(4)] == [0.0, 0.0, 1.0, 2.0]
    assert bucket.reserve(10.0) == 0.0 and bucket.reserve(10.0) == 0.0  # quiet: the burst is back
    bucket.block(20.0)
    assert bucket.reserve(10.0) == 10.0


def test_the_pacer_charges_a_post_to_its_channel_and_the_workspace() -> None:
    now = [0.0]
    pacer = Pacer(post_per_s=1.0, post_burst=1, clock=lambda: now[0])
    assert pacer.delay("chat_postMessage", "C1") == 0.0
    assert pacer.delay("chat_postMessage", "C1") == pytest.approx(1.0)
    assert pacer.delay("chat_postMessage", "C2") == 0.0  # another channel
    assert pacer.delay("chat_update", "C1") == 0.0 and pacer.delay("auth_test") == 0.0
    pacer.blocked("chat_update", "C1", 30)
    assert pacer.delay("chat_update", "C2", take=False) == pytest.approx(30)  # a workspace-wide method


class Unpaced(Pacer):
    """Sends at once, whatever the rate and any Retry-After (what the bridge did before pacing)."""

    async def wait(self, method: str, channel: str | None = None) -> None:
        return None

    def blocked(self, method: str, channel: str | None, retry_after: float) -> None:
        return None


def _msg(n: int) -> OutboundMessage:
    return OutboundMessage(f"{n}-0", "cricket", f"backlog {n}", "Wasim")


async def test_a_paced_backlog_drains_without_429s_and_an_unpaced_one_is_refused(real: SlackEmulator) -> None:
    # 30 posts into one channel: at Slack's 1/s that takes 30 s, so both clocks run 20x faster here
    real.limiter.speed = 20
    paced = SlackDestination(client=web_client(real), pacer=Pacer(speed=20))
    started = time.monotonic()
    for n in range(30):
        await paced.send(CRICKET, _msg(n))
    took = time.monotonic() - started
    assert real.throttled == []
    assert took >= (30 - 3) / 20  # no faster than the allowed rate (after the burst)
    assert [m.text for m in real.history("cricket")] == [f"backlog {n}" for n in range(30)]
    real.limiter.speed = 1  # at Slack's own rate, a sender that ignores it meets 429s at once
    unpaced = SlackDestination(client=web_client(real), pacer=Unpaced())
    refused = 0
    for n in range(30, 60):
        try:
            await unpaced.send(CRICKET, _msg(n))
        except DeliveryError as err:
            assert err.retry_after is not None
            refused += 1
    assert refused > 10 and len(real.throttled) == refused


async def test_a_profile_lookup_never_waits_long_for_its_slot(real: SlackEmulator) -> None:
    """users.info runs before an event's ack (3 s): past 0.5 s of rate-limit wait it is not called."""
    pacer = Pacer()
    directory = Directory(client=web_client(real), ttl=300, pacer=pacer)
    assert (await directory.person("U0BOB00001")).name == "bob"
    pacer.blocked("users_info", None, 30)  # a 429's Retry-After, or Tier 4 used up
    started = time.monotonic()
    assert (await directory.person("U0CAROL001")).name == "U0CAROL001"  # the id, at once
    assert (
        await directory.person(
            "U0BOB00001",
        )
    ).name == "bob"  # cached: no call needed
    assert time.monotonic() - started < 0.3
    assert len(real.requests_for("users.info")) == 1
