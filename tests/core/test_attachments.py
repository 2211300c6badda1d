"""Attachments in the core: recorded on the message (never the bytes), shown by `history`,
found by `has:file` / `has:image`, kept through edits, refused nowhere half-written."""

from __future__ import annotations

import json

import pytest

from bridge.core.chat import Chat
from bridge.core.ports import Attachment, ChannelRef, InboundEvent, Invocation, PlatformUser
from bridge.store import keys

REF = ChannelRef("slack", "T1", "C1")
BOB = PlatformUser("slack", "T1", "U1", "Bob")
PNG = Attachment("cat.png", 2048, "image/png", "https://files.example/cat.png", "slack", "https://perma/cat")
PDF = Attachment("report.pdf", 3 * 1024 * 1024, "application/pdf", "https://files.example/r.pdf", "slack")


async def _room(chat: Chat) -> None:
    await chat.channels.create("tech")
    await chat.channels.link("tech", REF)


def _event(mid: str, text: str, *files: Attachment) -> InboundEvent:
    return InboundEvent("message", REF, mid, f"slack:T1:{mid}", BOB, text, attachments=files)


async def test_files_are_recorded_shown_and_searchable(chat: Chat) -> None:
    await _room(chat)
    with_image = await chat.ingest(_event("1.1", "look at this", PNG))
    only_pdf = await chat.ingest(_event("1.2", "", PDF))  # attachment-only: no text needed
    await chat.ingest(_event("1.3", "no files here"))
    assert with_image.status == only_pdf.status == "recorded"
    body = await chat.ctx.redis.hgetall(keys.message(str(only_pdf.core_id)))
    assert body["message"] == ""  # the guide's field keeps its meaning: the text
    assert json.loads(body["files"]) == [PDF.as_json()]
    assert body["has"] == "file"
    assert (await chat.ctx.redis.hget(keys.message(str(with_image.core_id)), "has")) == "file,image"

    await chat.commands.execute(Invocation(platform="cli"), "register reader")
    reader = Invocation(platform="cli", username="reader")
    history = await chat.commands.execute(reader, "history tech")
    assert "look at this 📎 cat.png (2.0 KiB)" in history.text
    assert "📎 report.pdf (3.0 MiB)" in history.text
    assert history.data[1]["files"][0]["name"] == "report.pdf"

    files = await chat.commands.execute(reader, "search has:file in:tech")
    assert {m["id"] for m in files.data["hits"]} == {with_image.core_id, only_pdf.core_id}, files.data
    images = await chat.commands.execute(reader, "search has:image")
    assert [m["id"] for m in images.data["hits"]] == [with_image.core_id]
    words = await chat.commands.execute(reader, "search look has:image")
    assert [m["id"] for m in words.data["hits"]] == [with_image.core_id]
    bad = await chat.commands.execute(reader, "search has:video")
    assert not bad.ok and "`has:` takes `file` or `image`" in bad.text


async def test_an_edit_keeps_the_files_and_may_empty_the_text(chat: Chat) -> None:
    await _room(chat)
    posted = await chat.ingest(_event("2.1", "caption", PNG))
    edit = InboundEvent("edit", REF, "2.1", "slack:T1:e2", BOB, "")
    assert (await chat.ingest(edit)).status == "recorded"
    body = await chat.ctx.redis.hgetall(keys.message(str(posted.core_id)))
    assert body["message"] == "" and json.loads(body["files"])[0]["name"] == "cat.png"


@pytest.mark.parametrize("text", ["", "   \n"])
async def test_no_text_and_no_files_is_refused_with_nothing_written(chat: Chat, text: str) -> None:
    await _room(chat)
    result = await chat.ingest(_event("3.1", text))
    assert result.status == "ignored" and result.refused and result.reason == "The message is empty."
    assert await chat.ctx.redis.keys(keys.message("*")) == []
    plain = await chat.ingest(_event("3.2", "words"))
    emptied = await chat.ingest(InboundEvent("edit", REF, "3.2", "slack:T1:e3", BOB, ""))
    assert emptied.refused  # only files may stand without words
    assert (await chat.ctx.redis.hget(keys.message(str(plain.core_id)), "message")) == "words"


async def test_an_edit_that_lists_the_files_replaces_them(chat: Chat) -> None:
    await _room(chat)
    posted = await chat.ingest(_event("4.1", "both", PNG, PDF))
    key = keys.message(str(posted.core_id))
    only_pdf = InboundEvent("edit", REF, "4.1", "slack:T1:e4", BOB, "pdf only", attachments=(PDF,), replace_files=True)
    assert (await chat.ingest(only_pdf)).status == "recorded"
    assert json.loads(await chat.ctx.redis.hget(key, "files") or "[]") == [PDF.as_json()]
    assert await chat.ctx.redis.hget(key, "has") == "file"
    none_left = InboundEvent("edit", REF, "4.1", "slack:T1:e5", BOB, "", replace_files=True)
    assert (await chat.ingest(none_left)).refused  # no words and no files: refused, files kept
    assert await chat.ctx.redis.hget(key, "has") == "file"
    words = InboundEvent("edit", REF, "4.1", "slack:T1:e6", BOB, "words only", replace_files=True)
    assert (await chat.ingest(words)).status == "recorded"
    assert not await chat.ctx.redis.hexists(key, "files") and not await chat.ctx.redis.hexists(key, "has")
