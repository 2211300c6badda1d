"""The Slack emulator's files: the three-step external upload (as slack_sdk's files_upload_v2 and
as the bridge does it by hand), image blocks showing uploaded files, url_private behind the bot
token, scopes enforced, and people's uploads as file_share events with files[]."""

from __future__ import annotations

import hashlib
import os

import aiohttp
import pytest
from slack_kit import web_client
from slack_sdk.errors import SlackApiError

from bridge.emulators.slack import SlackEmulator


async def test_external_upload_then_blocks_show_the_file(slack: SlackEmulator) -> None:
    client = web_client(slack)
    png = os.urandom(50_000)
    upload = await client.files_upload_v2(filename="cat.png", content=png)  # slack_sdk's own 3 steps
    file_id = upload["files"][0]["id"]
    assert slack.files.files[file_id].complete and slack.files.sha256(file_id) == hashlib.sha256(png).hexdigest()
    blocks = [{"type": "image", "slack_file": {"id": file_id}, "alt_text": "cat.png"}]
    posted = await client.chat_postMessage(channel="general", text="a cat", blocks=blocks, username="Alice")
    [msg] = [m for m in slack.history("general") if m.ts == posted["ts"]]
    assert msg.blocks == blocks and msg.username == "Alice"

    with pytest.raises(SlackApiError) as info:  # an unknown file cannot be shown
        await client.chat_postMessage(
            channel="general", text="x", blocks=[{**blocks[0], "slack_file": {"id": "F0NONE"}}]
        )
    assert info.value.response["error"] == "invalid_blocks"

    info_resp = await client.files_info(file=file_id)
    url = info_resp["file"]["url_private_download"]
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers={"Authorization": f"Bearer {slack.config.bot_token}"}) as resp:
            assert resp.status == 200 and await resp.read() == png and resp.content_type == "image/png"
        async with http.get(url) as resp:  # no token: Slack's sign-in page, not the file
            assert resp.status == 200 and resp.content_type == "text/html" and resp.url.path == "/signin"
    await client.files_delete(file=file_id)
    assert slack.files.sha256(file_id) is None


async def test_upload_steps_and_their_errors(slack: SlackEmulator) -> None:
    client = web_client(slack)
    for bad in ({"filename": "a.txt", "length": 0}, {"filename": "", "length": 3}):
        with pytest.raises(SlackApiError) as info:
            await client.files_getUploadURLExternal(**bad)
        assert info.value.response["error"] == "invalid_arguments"
    step1 = await client.files_getUploadURLExternal(filename="notes.txt", length=5)
    with pytest.raises(SlackApiError) as info:  # completing before the bytes arrived
        await client.files_completeUploadExternal(files=[{"id": step1["file_id"]}])
    assert info.value.response["error"] == "file_upload_incomplete"
    async with aiohttp.ClientSession() as http:
        async with http.post(step1["upload_url"], data=b"hello") as resp:
            assert resp.status == 200 and await resp.text() == "OK - 5"
        async with http.post(step1["upload_url"], data=b"again") as resp:
            assert resp.status == 404  # an upload URL works once
    done = await client.files_completeUploadExternal(
        files=[{"id": step1["file_id"], "title": "Notes"}], channel_id="C0GENERAL1", initial_comment="shared"
    )
    assert done["files"] == [{"id": step1["file_id"], "title": "Notes"}]
    shared = slack.history("general")[-1]
    assert shared.subtype == "file_share" and shared.text == "shared" and shared.files == [step1["file_id"]]
    wrong = await client.files_getUploadURLExternal(filename="n.txt", length=10)
    async with aiohttp.ClientSession() as http, http.post(wrong["upload_url"], data=b"short") as resp:
        assert resp.status == 200
    with pytest.raises(SlackApiError) as info:
        await client.files_completeUploadExternal(files=[{"id": wrong["file_id"]}])
    assert info.value.response["error"] == "file_upload_size_mismatch"


async def test_file_scopes_are_enforced() -> None:
    from bridge.emulators.slack.config import EmulatorConfig

    config = EmulatorConfig()
    config.scopes = tuple(s for s in config.scopes if not s.startswith("files:"))
    async with SlackEmulator(config=config) as emu:
        client = web_client(emu)
        with pytest.raises(SlackApiError) as info:
            await client.files_getUploadURLExternal(filename="a.png", length=3)
        assert info.value.response["error"] == "missing_scope"
        assert info.value.response["needed"] == "files:write" and "chat:write" in info.value.response["provided"]
        msg = emu.user_says(user="bob", channel="general", text="", files=[("x.txt", b"abc")])
        url = msg.file_objects[0]["url_private"]
        auth = {"Authorization": f"Bearer {emu.config.bot_token}"}
        async with aiohttp.ClientSession() as http, http.get(url, headers=auth) as resp:
            assert resp.content_type == "text/html"  # without files:read the bot token is not enough


async def test_a_person_uploads_files_as_a_file_share_event(slack: SlackEmulator) -> None:
    data = os.urandom(1234)
    msg = slack.user_says(user="bob", channel="general", text="", files=[("photo.jpg", data), ("a.pdf", b"%PDF")])
    payload = await slack.wait_for(lambda: next((p for p in slack.emitted if p["event"].get("ts") == msg.ts), None))
    event = payload["event"]
    assert event["subtype"] == "file_share" and event["text"] == "" and event["upload"] is True
    first = event["files"][0]
    assert {
        "id",
        "name",
        "title",
        "mimetype",
        "filetype",
        "size",
        "mode",
        "url_private",
        "url_private_download",
        "permalink",
    } <= set(first)
    assert (first["name"], first["mimetype"], first["size"], first["mode"]) == (
        "photo.jpg",
        "image/jpeg",
        1234,
        "hosted",
    )
    assert event["files"][1]["mimetype"] == "application/pdf"
    async with aiohttp.ClientSession() as http:
        auth = {"Authorization": f"Bearer {slack.config.bot_token}"}
        async with http.get(first["url_private"], headers=auth) as resp:
            assert await resp.read() == data
    control = f"{slack.url}/_emulator/messages?channel=general"
    async with aiohttp.ClientSession() as http, http.get(control) as resp:
        listed = (await resp.json())["messages"][-1]
    assert listed["received_files"][0] == {
        "name": "photo.jpg",
        "size": 1234,
        "content_type": "image/jpeg",
        "sha256": hashlib.sha256(data).hexdigest(),
    }
