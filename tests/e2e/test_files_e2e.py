"""Files, images, stickers, forwards, embeds and long messages end to end: the real discord.py and
slack-bolt adapters against both emulators, a real Redis, the worker. Every file is compared byte
for byte (sha256 of what the destination emulator holds against what was sent)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from e2e_kit import Bridge, running_bridge
from waiting import until

from bridge.core.chat import Chat
from bridge.core.ports import Invocation
from bridge.emulators.slack.limits import Injected
from bridge.store import keys

MIB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
async def bridge(chat: Chat, redis_url: str) -> AsyncIterator[Bridge]:
    async with running_bridge(chat, redis_url) as b:
        yield b


def slack_msg(b: Bridge, needle: str) -> Any:
    return next((m for m in b.slack.history("general") if needle in m.text), None)


def slack_files(b: Bridge, msg: Any) -> list[tuple[str, str]]:
    """(name, sha256) of the files a Slack message shows (image blocks) or links (its permalinks)."""
    out = []
    for block in msg.blocks or []:
        ref = block.get("slack_file")
        if ref:
            item = b.slack.files.files[ref["id"]]
            out.append((item.name, b.slack.files.sha256(item.id)))
        elif block.get("type") == "section":
            for item in b.slack.files.files.values():
                if f"/{item.id}/" in block["text"]["text"]:
                    out.append((item.name, b.slack.files.sha256(item.id)))
    return out


def discord_msg(b: Bridge, needle: str) -> dict[str, Any] | None:
    return next((m for m in b.discord.messages("general") if needle in m["content"] and m.get("webhook_id")), None)


def discord_files(b: Bridge, msg: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(a["filename"], b.discord.file_sha256(a["id"])) for a in msg["attachments"]]


async def test_discord_image_and_file_reach_slack_as_the_sender(bridge: Bridge) -> None:
    png, pdf = os.urandom(300_000), os.urandom(40_000)
    await bridge.discord.say("alice", "general", "holiday pics", files=[("beach.png", png), ("plan.pdf", pdf)])
    msg = await until(lambda: slack_msg(bridge, "holiday pics"))
    assert msg.username and "Alice" in msg.username  # the persona, as for text
    assert sorted(slack_files(bridge, msg)) == sorted([("beach.png", sha(png)), ("plan.pdf", sha(pdf))])
    assert msg.blocks[1]["type"] == "image"  # the image inline, the PDF as a link below


async def test_slack_files_reach_discord_through_the_webhook(bridge: Bridge) -> None:
    jpg, txt = os.urandom(123_456), b"notes\n" * 100
    bridge.slack.user_says(
        user="bob", channel="general", text="two files", files=[("cat.jpg", jpg), ("notes.txt", txt)]
    )
    msg = await until(lambda: discord_msg(bridge, "two files"))
    assert discord_files(bridge, msg) == [("cat.jpg", sha(jpg)), ("notes.txt", sha(txt))]
    assert msg["author"]["username"].startswith("bob")


async def test_attachment_only_both_ways(bridge: Bridge) -> None:
    png = os.urandom(5000)
    sent = await bridge.discord.say("alice", "general", "", files=[("only.png", png)])
    msg = await until(lambda: next((m for m in bridge.slack.history("general") if m.blocks), None))
    assert slack_files(bridge, msg) == [("only.png", sha(png))]
    core = await bridge.chat.messages.history("general", 5)
    assert core[-1].text == "" and core[-1].files[0]["name"] == "only.png"
    gif = os.urandom(777)
    bridge.slack.user_says(user="bob", channel="general", text="", files=[("only.gif", gif)])
    copy = await until(lambda: next((m for m in bridge.discord.messages("general") if m.get("webhook_id")), None))
    assert copy["content"] == "" and discord_files(bridge, copy) == [("only.gif", sha(gif))]
    assert sent["id"]


async def test_too_large_for_discord_crosses_as_a_line_and_the_sender_is_told(bridge: Bridge) -> None:
    big, small = os.urandom(10 * MIB + 1), os.urandom(1000)
    posted = bridge.slack.user_says(
        user="bob", channel="general", text="big one", files=[("huge.bin", big), ("small.png", small)]
    )
    msg = await until(lambda: discord_msg(bridge, "big one"))
    assert discord_files(bridge, msg) == [("small.png", sha(small))]
    permalink = next(f for f in posted.file_objects if f["name"] == "huge.bin")["permalink"]
    assert "📎 huge.bin (10.0 MiB, over Discord's 10.0 MiB limit)" in msg["content"] and permalink in msg["content"]
    told = await until(lambda: [e for e in bridge.slack.ephemeral if e.user == "U0BOB00001"])
    assert "huge.bin" in told[0].text and "Discord" in told[0].text


async def test_replies_with_files_stay_in_the_thread(bridge: Bridge) -> None:
    await bridge.discord.say("alice", "general", "root message")
    root = await until(lambda: slack_msg(bridge, "root message"))
    data = os.urandom(2000)
    bridge.slack.user_says(
        user="bob", channel="general", text="reply with file", thread_ts=root.ts, files=[("r.png", data)]
    )
    d_root = next(m for m in bridge.discord.messages("general") if m["content"] == "root message")
    # a Slack thread reply goes into the Discord thread on the root (threads issue), files and all
    thread = await until(lambda: bridge.discord.thread_of(d_root["id"]))
    answer = await until(
        lambda: next((m for m in bridge.discord.messages(thread.id) if "reply with file" in m["content"]), None)
    )
    assert discord_files(bridge, answer) == [("r.png", sha(data))]
    await bridge.discord.say("carol", "general", "discord reply", reply_to=d_root["id"], files=[("d.png", data)])
    reply = await until(lambda: slack_msg(bridge, "discord reply"))
    assert reply.thread_ts == root.ts and slack_files(bridge, reply) == [("d.png", sha(data))]


async def test_edit_and_delete_of_a_message_with_files(bridge: Bridge) -> None:
    png = os.urandom(4000)
    original = await bridge.discord.say("alice", "general", "first caption", files=[("e.png", png)])
    msg = await until(lambda: slack_msg(bridge, "first caption"))
    [(_, digest)] = slack_files(bridge, msg)
    await bridge.discord.edit("general", original["id"], "second caption")
    edited = await until(lambda: slack_msg(bridge, "second caption"))
    assert slack_files(bridge, edited) == [("e.png", digest)]  # the image stays with the new text
    await bridge.discord.delete("general", original["id"])
    await until(lambda: not slack_msg(bridge, "second caption"))
    assert all(f.deleted for f in bridge.slack.files.files.values() if f.name == "e.png")  # the copy's file too

    data = os.urandom(3000)
    s = bridge.slack.user_says(user="bob", channel="general", text="slack caption", files=[("s.png", data)])
    copy = await until(lambda: discord_msg(bridge, "slack caption"))
    bridge.slack.user_edits(channel="general", ts=s.ts, text="slack caption v2")
    await until(lambda: discord_msg(bridge, "slack caption v2"))
    assert discord_files(bridge, discord_msg(bridge, "slack caption v2") or {}) == [("s.png", sha(data))]
    bridge.slack.user_deletes(channel="general", ts=s.ts)
    await until(lambda: not discord_msg(bridge, "slack caption"))
    assert bridge.discord.file_sha256(copy["attachments"][0]["id"]) is None  # gone from the CDN


async def test_stickers_forwards_embeds_polls_voice(bridge: Bridge) -> None:
    sticker_png = os.urandom(600)
    wave = await bridge.discord.add_sticker("wave", sticker_png)
    dance = await bridge.discord.add_sticker("dance", None, format_type=3)
    await bridge.discord.say("alice", "general", "", stickers=[wave])
    await until(
        lambda: any(slack_files(bridge, m) == [("wave.png", sha(sticker_png))] for m in bridge.slack.history("general"))
    )
    await bridge.discord.say("alice", "general", "", stickers=[dance])
    await until(lambda: slack_msg(bridge, "Sticker: dance"))

    data = os.urandom(900)
    first = await bridge.discord.say("bob", "random", "worth sharing", files=[("f.png", data)])
    await bridge.discord.forward("carol", "random", first["id"], to="general")
    fwd = await until(lambda: slack_msg(bridge, "worth sharing"))
    assert "Forwarded" in fwd.text and slack_files(bridge, fwd) == [("f.png", sha(data))]

    await bridge.discord.bot_says(
        "newsbot",
        "general",
        "",
        embeds=[{"title": "Big news", "description": "Details here", "fields": [{"name": "When", "value": "today"}]}],
    )
    news = await until(lambda: slack_msg(bridge, "Big news"))
    assert "Details here" in news.text and "When" in news.text

    from bridge.emulators.discord.rich import poll

    await bridge.discord.say("alice", "general", "", poll=poll("Lunch?", ["pizza", "salad"]))
    await until(lambda: slack_msg(bridge, "Poll: Lunch? — pizza / salad"))
    await bridge.discord.voice_message("bob", "general", b"OggS" + os.urandom(100), seconds=2.0)
    voice = await until(lambda: slack_msg(bridge, "Voice message"))
    assert [name for name, _ in slack_files(bridge, voice)] == ["voice-message.ogg"]


async def test_a_40000_character_slack_message_arrives_on_discord_in_parts(bridge: Bridge) -> None:
    words = ("lorem ipsum dolor sit amet " * 2000)[:40_000]
    bridge.slack.user_says(user="bob", channel="general", text=words)

    def copies() -> list[dict[str, Any]]:
        return [m for m in bridge.discord.messages("general") if m.get("webhook_id")]

    await until(lambda: sum(p["content"].count("lorem") for p in copies()) == words.count("lorem"), timeout=30)
    parts = copies()
    assert len(parts) >= 20 and all(len(p["content"]) <= 2000 for p in parts)
    assert "".join(p["content"] for p in parts).replace(" ", "") == words.strip().replace(" ", "")  # in order


async def test_an_outage_during_the_upload_loses_and_doubles_nothing(bridge: Bridge) -> None:
    png = os.urandom(20_000)
    bridge.slack.limiter.inject("files.completeUploadExternal", Injected(error="internal_error", count=2))
    bridge.slack.limiter.inject("chat.postMessage", Injected(error="service_unavailable", count=1, status=503))
    await bridge.discord.say("alice", "general", "through the outage", files=[("o.png", png)])
    msg = await until(lambda: slack_msg(bridge, "through the outage"), timeout=20)
    assert slack_files(bridge, msg) == [("o.png", sha(png))]
    assert len([m for m in bridge.slack.history("general") if "through the outage" in m.text]) == 1
    live = [f for f in bridge.slack.files.files.values() if f.name == "o.png" and not f.deleted and f.complete]
    assert len(live) == 1  # the half-done upload was removed, not left behind twice

    data = os.urandom(50_000)
    bridge.discord.rate_limit("POST", r"/webhooks/\d+/[^/]+$", retry_after=0.2, times=2)
    bridge.slack.user_says(user="bob", channel="general", text="discord throttled", files=[("t.png", data)])
    copy = await until(lambda: discord_msg(bridge, "discord throttled"), timeout=20)
    assert discord_files(bridge, copy) == [("t.png", sha(data))]
    assert len([m for m in bridge.discord.messages("general") if "discord throttled" in m["content"]]) == 1
    pending = (
        await bridge.chat.ctx.redis.xlen(keys.DEAD_LETTERS)
        if await bridge.chat.ctx.redis.exists(keys.DEAD_LETTERS)
        else 0
    )
    assert pending == 0


async def test_a_dead_lettered_message_is_told_to_its_sender(bridge: Bridge) -> None:
    bridge.slack.limiter.inject("chat.postMessage", Injected(error="is_archived", count=1))
    sent = await bridge.discord.say("alice", "general", "into an archived channel")
    dms = await until(lambda: bridge.discord.dm_messages("alice"))
    assert "could not be delivered to #general on Slack" in dms[0]["content"] and "is_archived" in dms[0]["content"]
    assert sent["id"] in dms[0]["content"]  # the jump link to their message
    assert [r["emoji"] for r in bridge.discord.reactions_of(sent["id"])] == [
        "\N{WARNING SIGN}\N{VARIATION SELECTOR-16}"
    ]
    await bridge.discord.say("alice", "general", "the next one")
    await until(lambda: slack_msg(bridge, "the next one"))
    assert len(bridge.discord.dm_messages("alice")) == 1  # one notice, nothing else dead


async def test_refused_uploads_still_let_the_text_cross(bridge: Bridge) -> None:
    # Discord: the bridge believes the guild is boosted (tier 2, 50 MiB), Discord says 40005
    adapter = bridge.running.adapters["discord"]
    guild = adapter.client.get_guild(int(bridge.discord.guild_id))
    guild.premium_tier = 2
    big = os.urandom(11 * MIB)
    bridge.slack.user_says(user="bob", channel="general", text="boost gone", files=[("eleven.bin", big)])
    msg = await until(lambda: discord_msg(bridge, "boost gone"), timeout=20)
    assert msg["attachments"] == [] and "📎 eleven.bin (11.0 MiB, refused by Discord as too large)" in msg["content"]
    await until(lambda: [e for e in bridge.slack.ephemeral if "eleven.bin" in e.text])

    # Slack: the app lost files:write; the text crosses with a line for the file
    bridge.slack.config.scopes = tuple(s for s in bridge.slack.config.scopes if s != "files:write")
    await bridge.discord.say("alice", "general", "no scope", files=[("n.png", os.urandom(500))])
    copy = await until(lambda: slack_msg(bridge, "no scope"), timeout=20)
    assert "n.png" in copy.text and "missing_scope" in copy.text and not copy.blocks
    dms = await until(lambda: bridge.discord.dm_messages("alice"))
    assert "n.png" in dms[0]["content"] and "Slack" in dms[0]["content"]


async def test_removing_an_attachment_in_an_edit_removes_it_from_the_copy(bridge: Bridge) -> None:
    a, b = os.urandom(1500), os.urandom(2500)
    original = await bridge.discord.say("alice", "general", "two pics", files=[("a.png", a), ("b.png", b)])
    copy = await until(lambda: slack_msg(bridge, "two pics"))
    assert sorted(slack_files(bridge, copy)) == sorted([("a.png", sha(a)), ("b.png", sha(b))])
    keep = [original["attachments"][1]["id"]]
    await bridge.discord.edit("general", original["id"], "one pic left", keep_files=keep)
    edited = await until(lambda: slack_msg(bridge, "one pic left"))
    assert slack_files(bridge, edited) == [("b.png", sha(b))]
    await until(lambda: [f.deleted for f in bridge.slack.files.files.values() if f.name == "a.png"] == [True])
    [core] = [m for m in await bridge.chat.messages.history("general", 5) if m.text == "one pic left"]
    assert [f["name"] for f in core.files] == ["b.png"]
    await bridge.discord.edit("general", original["id"], "no pics", keep_files=[])
    await until(lambda: slack_msg(bridge, "no pics") and not slack_msg(bridge, "no pics").blocks)
    body = await bridge.chat.ctx.redis.hgetall(keys.message(core.id))
    assert "files" not in body and "has" not in body  # has:file no longer finds it
    reply = await bridge.chat.commands.execute(Invocation(platform="cli", is_admin=True), "search has:file")
    assert core.id not in json.dumps(reply.data)
