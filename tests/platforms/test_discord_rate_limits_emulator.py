"""The Discord emulator's rate limits as https://discord.com/developers/docs/topics/rate-limits describes
them (bridge/emulators/discord/ratelimits.py), seen by raw HTTP and by discord.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest

from bridge.adapters.discord.endpoints import apply_endpoints, restore_endpoints
from bridge.emulators.discord import DiscordEmulator
from bridge.emulators.discord.ratelimits import CLOUDFLARE_TEXT, Chaos, route_of

BUCKET_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Reset-After")


@pytest.fixture
async def emu() -> AsyncIterator[DiscordEmulator]:
    async with DiscordEmulator() as emulator:
        yield emulator


def bot(emu: DiscordEmulator) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(headers={"Authorization": f"Bot {emu.token}"})


def webhook(emu: DiscordEmulator) -> str:
    hook = emu.world.new_webhook(emu.channel("general"), "limits", emu.bot_user_id)
    return f"{emu.api_base}/webhooks/{hook.id}/{hook.token}"


def test_routes_are_counted_per_top_level_resource() -> None:
    assert route_of("/webhooks/12/tok-en") == ("/webhooks/{webhook_id}/{webhook_token}", "12:tok-en")
    assert route_of("/webhooks/12/tok/messages/34") == (
        "/webhooks/{webhook_id}/{webhook_token}/messages/{id}",
        "12:tok",
    )
    assert route_of("/channels/5/messages/6") == ("/channels/{channel_id}/messages/{id}", "5")
    assert route_of("/channels/5/messages/6/reactions/%F0%9F%91%8D/@me") == (
        "/channels/{channel_id}/messages/{id}/reactions/{emoji}/@me",
        "5",
    )
    assert route_of("/users/@me") == ("/users/@me", "")


async def test_every_answer_has_bucket_headers_and_a_webhook_bucket_refuses_the_sixth(emu: DiscordEmulator) -> None:
    async with bot(emu) as http, http.get(f"{emu.api_base}/users/@me") as me:
        assert me.status == 200 and me.headers["Via"] == "1.1 google"
        assert all(name in me.headers for name in (*BUCKET_HEADERS, "X-RateLimit-Bucket"))
        assert "X-RateLimit-Scope" not in me.headers  # "Returned only on HTTP 429 responses"
    url = webhook(emu)
    answers: list[tuple[int, dict[str, str], Any]] = []
    async with aiohttp.ClientSession() as http:  # a client that ignores the headers
        for n in range(6):
            async with http.post(url, params={"wait": "true"}, json={"content": f"m{n}"}) as resp:
                answers.append((resp.status, dict(resp.headers), await resp.json()))
    assert [status for status, _, _ in answers] == [200] * 5 + [429]
    assert [h["X-RateLimit-Remaining"] for _, h, _ in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert len({h["X-RateLimit-Bucket"] for _, h, _ in answers}) == 1
    _, headers, body = answers[5]
    assert set(body) == {"message", "retry_after", "global"} and body["global"] is False
    assert isinstance(body["retry_after"], float) and 0 < body["retry_after"] <= 2.0
    assert headers["X-RateLimit-Scope"] == "user" and headers["Via"] == "1.1 google"
    assert int(headers["Retry-After"]) >= body["retry_after"]
    assert len(emu.messages("general")) == 5


async def test_the_global_limit_is_50_per_second_and_its_429_has_no_bucket_headers(emu: DiscordEmulator) -> None:
    async with bot(emu) as http:

        async def one() -> tuple[int, dict[str, str], Any]:
            async with http.get(f"{emu.api_base}/channels/{emu.channel('general').id}") as resp:
                return resp.status, dict(resp.headers), await resp.json()

        answers = await asyncio.gather(*(one() for _ in range(60)))
    refused = [(h, b) for status, h, b in answers if status == 429]
    assert 1 <= len(refused) <= 10 and sum(1 for status, _, _ in answers if status == 200) >= 50
    headers, body = refused[0]
    assert headers["X-RateLimit-Global"] == "true" and headers["X-RateLimit-Scope"] == "global"
    assert body["global"] is True and body["message"] and isinstance(body["retry_after"], float)
    assert not [name for name in headers if name.startswith("X-RateLimit-") and name[12:] in ("Limit", "Bucket")]
    assert "Retry-After" in headers and headers["Via"] == "1.1 google"
    assert emu.limits.counts["global"] == len(refused)


@pytest.mark.parametrize("body", ["text", "html", "json"])
async def test_a_cloudflare_ban_answers_without_via_and_discord_py_raises(emu: DiscordEmulator, body: str) -> None:
    emu.limits.ban(30, body=body)
    async with bot(emu) as http, http.get(f"{emu.api_base}/users/@me") as resp:
        assert resp.status == 429 and "Via" not in resp.headers and "Retry-After" not in resp.headers
        assert not [name for name in resp.headers if name.startswith("X-RateLimit")]
        if body == "text":
            assert await resp.text() == CLOUDFLARE_TEXT
        elif body == "html":
            assert resp.content_type == "text/html" and "Error 1015" in await resp.text()
        else:
            assert (await resp.json())["code"] == 0
    previous = apply_endpoints(api_base=emu.api_base, gateway_url=emu.gateway_url)
    client = discord.Client(intents=discord.Intents.none())
    try:
        with pytest.raises(discord.HTTPException) as info:
            await client.login(emu.token)
        assert info.value.status == 429  # discord.py: no Via means Cloudflare, raised at once, never slept
    finally:
        await client.close()
        restore_endpoints(previous)
    emu.limits.banned_until = 0
    async with bot(emu) as http, http.get(f"{emu.api_base}/users/@me") as resp:
        assert resp.status == 200


async def test_too_many_invalid_requests_get_the_ip_banned(emu: DiscordEmulator) -> None:
    emu.limits.invalid_limit = 20  # Discord's is 10,000 per 10 minutes
    async with aiohttp.ClientSession(headers={"Authorization": "Bot wrong"}) as http:
        for _ in range(20):
            async with http.get(f"{emu.api_base}/users/@me") as resp:
                assert resp.status == 401
        async with bot(emu) as good, good.get(f"{emu.api_base}/users/@me") as resp:
            assert resp.status == 429 and "Via" not in resp.headers  # the whole IP, good token or not


async def test_interaction_endpoints_are_not_bound_by_the_global_limit(emu: DiscordEmulator) -> None:
    from bridge.emulators.discord.recorder import RecordedRequest

    limits = emu.limits
    bot_call = RecordedRequest("GET", "/users/@me", {}, None, {"Authorization": "Bot x"})
    callback = RecordedRequest("POST", "/interactions/1/tok/callback", {}, None, {})
    followup = RecordedRequest("POST", f"/webhooks/{emu.application_id}/tok", {}, None, {})
    assert limits._identity(bot_call, *route_of(bot_call.path)) == "token:Bot x"
    assert limits._identity(callback, *route_of(callback.path)) is None
    assert limits._identity(followup, *route_of(followup.path)) is None
    plain = RecordedRequest("POST", "/webhooks/99/tok", {}, None, {})
    assert limits._identity(plain, *route_of(plain.path)) == "ip"  # no Authorization: the IP's limit


async def test_random_429s_of_each_kind(emu: DiscordEmulator) -> None:
    url = f"{emu.api_base}/users/@me"
    seen: dict[str, tuple[int, dict[str, str], str]] = {}
    async with bot(emu) as http:
        for kind in ("route", "global", "cloudflare"):
            emu.limits.set_chaos(Chaos(probability=1.0, kinds=(kind,), retry_after=0.5, cloudflare_s=0.2))
            async with http.get(url) as resp:
                seen[kind] = (resp.status, dict(resp.headers), await resp.text())
            emu.limits.set_chaos(None)
            emu.limits.banned_until = 0
    assert {kind: status for kind, (status, _, _) in seen.items()} == {"route": 429, "global": 429, "cloudflare": 429}
    assert seen["route"][1]["X-RateLimit-Scope"] == "user" and "X-RateLimit-Bucket" in seen["route"][1]
    assert seen["global"][1]["X-RateLimit-Global"] == "true" and "X-RateLimit-Bucket" not in seen["global"][1]
    assert "Via" not in seen["cloudflare"][1]
    with pytest.raises(ValueError):
        emu.limits.set_chaos(Chaos(probability=2.0))
    with pytest.raises(ValueError):
        emu.limits.set_chaos(Chaos(probability=0.5, kinds=("nonsense",)))


async def test_control_routes(emu: DiscordEmulator) -> None:
    base = f"{emu.base_url}/_emulator/rate_limits"
    async with aiohttp.ClientSession() as http:
        for path, body in [("chaos", {"probability": 3}), ("chaos", {}), ("cloudflare", {"seconds": "x"}),
                           ("cloudflare", {"seconds": 1, "body": "xml"}), ("settings", {"speed": 0})]:  # fmt: skip
            async with http.post(f"{base}/{path}", json=body) as resp:
                assert resp.status == 400, (path, body)
        assert emu.limits.chaos is None and not emu.limits.banned_until and emu.limits.speed == 1
        async with http.post(f"{base}/chaos", json={"probability": 0.25, "kinds": ["global"], "seed": 7}) as resp:
            assert resp.status == 200 and emu.limits.chaos is not None and emu.limits.chaos.kinds == ("global",)
        async with http.delete(f"{base}/chaos") as resp:
            assert resp.status == 200 and emu.limits.chaos is None
        async with http.post(f"{base}/settings", json={"enforce": False, "speed": 4}) as resp:
            assert (await resp.json())["speed"] == 4 and emu.limits.enforce is False
        async with http.post(f"{base}/cloudflare", json={"seconds": 60}) as resp:
            assert resp.status == 200
        async with http.get(f"{base}/stats") as resp:
            assert (await resp.json())["banned"] is True
