"""The Discord emulator's files: multipart uploads through webhooks and bot messages with Discord's
limits and errors, attachments served from a CDN at signed expiring URLs, stickers, forwards,
embeds, polls and voice messages in MESSAGE_CREATE, as discord.py parses them."""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import aiohttp
import discord
import pytest
from discord_kit import RecordingClient

from bridge.emulators.discord import DiscordEmulator
from bridge.emulators.discord.rich import poll

MIB = 1024 * 1024


def _channel(client: RecordingClient, emulator: DiscordEmulator, name: str) -> discord.TextChannel:
    channel = client.get_channel(int(emulator.channel(name).id))
    assert isinstance(channel, discord.TextChannel)
    return channel


async def _get(url: str) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.read(), resp.headers.get("Content-Type", "")


async def _hook(client: RecordingClient, emulator: DiscordEmulator) -> discord.Webhook:
    hook = await _channel(client, emulator, "general").create_webhook(name="chatbridge")
    assert hook.token is not None
    return discord.Webhook.partial(hook.id, hook.token, client=client)


async def test_webhook_upload_reaches_the_cdn_byte_for_byte(client: RecordingClient, emulator: DiscordEmulator) -> None:
    hook = await _hook(client, emulator)
    png, pdf = os.urandom(300_000), os.urandom(5000)
    sent = await hook.send(
        "two files",
        username="Bob (Slack)",
        files=[discord.File(io.BytesIO(png), "cat.png"), discord.File(io.BytesIO(pdf), "report.pdf")],
        wait=True,
    )
    first, second = sent.attachments
    assert (first.filename, first.size, first.content_type) == ("cat.png", 300_000, "image/png")
    assert second.content_type == "application/pdf"
    assert {"ex", "is", "hm"} <= set(first.url.split("?", 1)[1].replace("&", "=").split("="))
    status, body, ctype = await _get(first.url)
    assert status == 200 and body == png and ctype == "image/png"
    assert emulator.file_sha256(str(first.id)) == hashlib.sha256(png).hexdigest()
    await client.wait_for_events(lambda ev: any(k == "message" and m.attachments for k, m in ev))
    echo = next(m for k, m in client.events if k == "message" and m.attachments)
    assert [a.filename for a in echo.attachments] == ["cat.png", "report.pdf"]  # in MESSAGE_CREATE

    # a tampered or expired signature is refused, as the CDN does
    assert (await _get(first.url.replace("hm=", "hm=0")))[0] == 404
    emulator.backend.cdn.ttl_s = -10
    stale = emulator.backend.cdn.signed_url(str(sent.channel.id), str(first.id), "cat.png")
    assert (await _get(stale))[0] == 404
    # deleting the message takes its files off the CDN
    await hook.delete_message(sent.id)
    emulator.backend.cdn.ttl_s = 3600
    fresh = emulator.backend.cdn.signed_url(str(sent.channel.id), str(first.id), "cat.png")
    assert (await _get(fresh))[0] == 404 and emulator.file_sha256(str(first.id)) is None


async def test_upload_limits_and_errors(client: RecordingClient, emulator: DiscordEmulator) -> None:
    hook = await _hook(client, emulator)
    with pytest.raises(discord.HTTPException) as info:
        await hook.send("big", file=discord.File(io.BytesIO(b"x" * (10 * MIB + 1)), "big.bin"), wait=True)
    assert info.value.status == 413 and info.value.code == 40005
    assert emulator.messages("general") == [] and emulator.backend.blobs.blobs == {}  # nothing kept
    ok = await hook.send(file=discord.File(io.BytesIO(b"x" * (10 * MIB)), "limit.bin"), wait=True)
    assert ok.content == "" and ok.attachments[0].size == 10 * MIB  # attachment-only is allowed
    files = [discord.File(io.BytesIO(b"%d" % i), f"f{i}.txt") for i in range(11)]
    with pytest.raises(discord.HTTPException) as info:
        await hook.send("eleven", files=files, wait=True)
    assert info.value.code == 50035 and "files" in info.value.text
    # a bot message takes files too
    bot_sent = await _channel(client, emulator, "random").send(
        "as the bot", file=discord.File(io.BytesIO(b"hi"), "a.txt")
    )
    assert bot_sent.attachments[0].filename == "a.txt"


async def test_boosted_guild_allows_larger_files(run_client: Any) -> None:
    from bridge.emulators.discord.state import EmulatorConfig

    async with DiscordEmulator(EmulatorConfig(premium_tier=2)) as emu:
        import discord as d
        import yarl

        old_base, old_gw = d.http.Route.BASE, d.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        d.http.Route.BASE, d.gateway.DiscordWebSocket.DEFAULT_GATEWAY = emu.api_base, yarl.URL(emu.gateway_url)
        try:
            bot = RecordingClient()
            await run_client(bot, bot.ready_event)
            guild = bot.get_guild(int(emu.guild_id))
            assert guild is not None and guild.filesize_limit == 50 * MIB
            hook = await _hook(bot, emu)
            sent = await hook.send(file=discord.File(io.BytesIO(b"y" * (11 * MIB)), "eleven.bin"), wait=True)
            assert sent.attachments[0].size == 11 * MIB
            await bot.close()
        finally:
            d.http.Route.BASE, d.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gw


async def test_people_post_files_stickers_forwards_embeds_polls_and_voice(
    client: RecordingClient, emulator: DiscordEmulator
) -> None:
    png = os.urandom(2048)
    image = await emulator.say("alice", "general", "", files=[("photo.png", png)])
    sticker = await emulator.add_sticker("wave", b"\x89PNG sticker")
    lottie = await emulator.add_sticker("dance", None, format_type=3)
    stickered = await emulator.say("bob", "general", "", stickers=[sticker, lottie])
    forwarded = await emulator.forward("carol", "general", image["id"], to="random")
    embed = await emulator.bot_says("newsbot", "general", "", embeds=[{"title": "Headline", "description": "Body"}])
    polled = await emulator.say("alice", "general", "", poll=poll("Lunch?", ["pizza", "salad"]))
    voice = await emulator.voice_message("bob", "general", b"OggS...", seconds=3.5)
    ids = {m["id"] for m in (image, stickered, forwarded, embed, polled, voice)}
    await client.wait_for_events(lambda ev: ids <= {str(m.id) for k, m in ev if k == "message"})
    got = {str(m.id): m for k, m in client.events if k == "message"}
    assert (await _get(got[image["id"]].attachments[0].url))[1] == png
    items = got[stickered["id"]].stickers
    assert [(s.name, s.format) for s in items] == [
        ("wave", discord.StickerFormatType.png),
        ("dance", discord.StickerFormatType.lottie),
    ]
    assert (await _get(f"{emulator.base_url}/stickers/{sticker}.png"))[1] == b"\x89PNG sticker"
    fwd = got[forwarded["id"]]
    assert (
        fwd.content == "" and fwd.reference is not None and fwd.reference.type is discord.MessageReferenceType.forward
    )
    assert fwd.message_snapshots[0].attachments[0].filename == "photo.png"
    assert got[embed["id"]].author.bot and got[embed["id"]].embeds[0].title == "Headline"
    assert got[polled["id"]].poll is not None and got[polled["id"]].poll.question == "Lunch?"
    assert got[voice["id"]].flags.voice and got[voice["id"]].attachments[0].duration == 3.5


async def test_control_route_uploads_files(client: RecordingClient, emulator: DiscordEmulator) -> None:
    import base64

    data = os.urandom(777)
    body = {
        "user": "alice",
        "channel": "general",
        "files": [{"name": "x.bin", "data_b64": base64.b64encode(data).decode()}],
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{emulator.base_url}/_emulator/messages", json=body) as resp:
            message = await resp.json()
        async with http.get(f"{emulator.base_url}/_emulator/files") as resp:
            files = await resp.json()
        async with http.post(
            f"{emulator.base_url}/_emulator/messages", json={**body, "files": [{"name": "y"}]}
        ) as resp:
            assert resp.status == 400  # a file without data_b64 is refused whole
    [attachment] = message["attachments"]
    assert files[attachment["id"]] == {
        "name": "x.bin",
        "size": 777,
        "content_type": "application/octet-stream",
        "sha256": hashlib.sha256(data).hexdigest(),
    }
