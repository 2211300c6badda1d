"""Files on the emulated Slack: the external upload flow, private downloads, and people's uploads.

Uploading is three steps since ``files.upload`` was retired (docs.slack.dev "Uploading files"):

1. ``files.getUploadURLExternal`` (``filename``, ``length``; scope ``files:write``) answers an
   ``upload_url`` and a ``file_id``;
2. the bytes are POSTed to ``upload_url`` (raw body or a multipart form; no token needed: the URL is
   the credential), answered ``200 OK - <length>``;
3. ``files.completeUploadExternal`` (``files`` = JSON ``[{"id", "title"?}]``, optional
   ``channel_id`` / ``initial_comment`` / ``thread_ts``) finishes them: without a channel they stay
   private to the app (shareable later, e.g. an ``image`` block's ``slack_file: {"id"}``,
   reference/block-kit/composition-objects/slack-file-object); with one, a ``file_share`` message.

``url_private`` / ``url_private_download`` need ``Authorization: Bearer <bot token>`` with scope
``files:read``; without it Slack redirects to its sign-in page (an HTML answer, the classic trap of
saving a login page as the file), which the emulator does too. File objects have the fields of the
file objects in python-slack-sdk's and bolt-python's test fixtures (``id``, ``created``,
``timestamp``, ``name``, ``title``, ``mimetype``, ``filetype``, ``pretty_type``, ``user``, ``mode``,
``size``, ``url_private``, ``url_private_download``, ``permalink``, ``is_external``...).
"""

from __future__ import annotations

import json
import mimetypes
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from bridge.emulators.blobs import CHUNK, Blob, BlobStore

if TYPE_CHECKING:
    from bridge.emulators.slack.server import SlackEmulator

MAX_FILE_BYTES = 1024 * 1024 * 1024
"""Slack's per-file limit (1 GB, Slack help "Upload files to Slack")."""


class FileError(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class SlackFile:
    id: str
    name: str
    title: str
    user: str
    length: int
    blob: Blob | None = None
    complete: bool = False
    deleted: bool = False
    channels: list[str] = field(default_factory=list)
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def mimetype(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"

    def to_api(self, emu: SlackEmulator) -> dict[str, Any]:
        ws = emu.workspace
        base = f"{emu.url}/files-pri/{ws.team_id}-{self.id}"
        ext = self.name.rsplit(".", 1)[-1].lower() if "." in self.name else "binary"
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.title,
            "mimetype": self.mimetype,
            "filetype": ext,
            "pretty_type": ext.upper(),
            "user": self.user,
            "user_team": ws.team_id,
            "editable": False,
            "size": self.blob.size if self.blob is not None else 0,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": bool(self.channels),
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{base}/{self.name}",
            "url_private_download": f"{base}/download/{self.name}",
            "permalink": f"https://{ws.team_domain}.slack.invalid/files/{self.user}/{self.id}/{self.name}",
            "channels": list(self.channels),
            "groups": [],
            "ims": [],
            "comments_count": 0,
            "has_rich_preview": False,
            "file_access": "visible",
        }


class FileStore:
    """The workspace's files (bytes on disk, see ``bridge/emulators/blobs.py``)."""

    def __init__(self) -> None:
        self.blobs = BlobStore()
        self.files: dict[str, SlackFile] = {}
        self._pending: dict[str, str] = {}
        """upload token -> file id (step 2 of the external upload)."""
        self.downloads = 0

    def get(self, file_id: str) -> SlackFile:
        found = self.files.get(file_id)
        if found is None or found.deleted:
            raise FileError("file_not_found")
        return found

    def new(self, *, file_id: str, name: str, user: str, length: int, title: str = "") -> tuple[SlackFile, str]:
        token = secrets.token_urlsafe(24)
        item = SlackFile(id=file_id, name=name, title=title or name, user=user, length=length)
        self.files[file_id] = item
        self._pending[token] = file_id
        return item, token

    async def receive(self, token: str, chunks: AsyncIterator[bytes]) -> SlackFile:
        file_id = self._pending.pop(token, None)
        if file_id is None:
            raise FileError("invalid_upload_url")
        item = self.files[file_id]
        item.blob = await self.blobs.write(chunks, limit=MAX_FILE_BYTES)
        return item

    def sha256(self, file_id: str) -> str | None:
        item = self.files.get(file_id)
        return item.blob.sha256 if item is not None and item.blob is not None and not item.deleted else None

    def close(self) -> None:
        self.blobs.close()


# -- Web API methods (called from webapi.call after its token, scope and rate checks) ---------------
def get_upload_url(emu: SlackEmulator, args: dict[str, Any]) -> dict[str, Any]:
    name = str(args.get("filename") or "")
    try:
        length = int(str(args.get("length") or ""))
    except ValueError:
        raise FileError("invalid_arguments") from None
    if not name or length <= 0:
        raise FileError("invalid_arguments")
    if length > MAX_FILE_BYTES:
        raise FileError("file_too_large")
    item, token = emu.files.new(
        file_id=emu.ids.next("F"), name=name, user=emu.workspace.bot_user_id, length=length,
        title=str(args.get("alt_txt") or ""),
    )  # fmt: skip
    return {"upload_url": f"{emu.url}/upload/v1/{token}", "file_id": item.id}


def complete_upload(emu: SlackEmulator, args: dict[str, Any]) -> dict[str, Any]:
    raw = args.get("files")
    try:
        wanted = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise FileError("invalid_arguments") from None
    if not isinstance(wanted, list) or not wanted or not all(isinstance(w, dict) and w.get("id") for w in wanted):
        raise FileError("invalid_arguments")
    items = []
    for w in wanted:
        item = emu.files.get(str(w["id"]))
        if item.blob is None:
            raise FileError("file_upload_incomplete")  # step 2 never happened
        if item.blob.size != item.length:
            raise FileError("file_upload_size_mismatch")
        if w.get("title"):
            item.title = str(w["title"])
        items.append(item)
    channel_id = str(args.get("channel_id") or args.get("channels") or "")
    if channel_id:
        channel = emu.workspace.channel(channel_id)
        if channel is None:
            raise FileError("channel_not_found")
        if emu.workspace.bot_user_id not in channel.members:
            raise FileError("not_in_channel")
    for item in items:
        item.complete = True
    if channel_id:
        emu.share_files(channel_id, items, text=str(args.get("initial_comment") or ""),
                        thread_ts=str(args.get("thread_ts") or "") or None)  # fmt: skip
    return {"files": [{"id": i.id, "title": i.title} for i in items]}


def files_info(emu: SlackEmulator, args: dict[str, Any]) -> dict[str, Any]:
    return {"file": emu.files.get(str(args.get("file") or "")).to_api(emu)}


def files_delete(emu: SlackEmulator, args: dict[str, Any]) -> dict[str, Any]:
    item = emu.files.get(str(args.get("file") or ""))
    if item.user != emu.workspace.bot_user_id:
        raise FileError("cant_delete_file")
    item.deleted = True
    if item.blob is not None:
        emu.files.blobs.forget(item.blob.key)
    emu.notify()
    return {}


METHODS = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
    "files.info": files_info,
    "files.delete": files_delete,
}


# -- HTTP routes: the upload URL and private downloads -----------------------------------------
async def _body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                return
            if isinstance(part, BodyPartReader) and part.filename is not None:
                while chunk := await part.read_chunk(CHUNK):
                    yield chunk
                return
    while chunk := await request.content.read(CHUNK):
        yield chunk


def add_routes(app: web.Application, emu: SlackEmulator) -> None:
    async def upload(request: web.Request) -> web.StreamResponse:
        try:
            item = await emu.files.receive(request.match_info["token"], _body_chunks(request))
        except FileError:
            return web.Response(status=404, text="invalid_upload_url")
        emu.notify()
        assert item.blob is not None
        return web.Response(text=f"OK - {item.blob.size}")

    async def download(request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if token != emu.config.bot_token or "files:read" not in emu.config.scopes:
            raise web.HTTPFound(f"{emu.url}/signin?redir={request.path}")
        team, _, file_id = request.match_info["ref"].partition("-")
        item = emu.files.files.get(file_id)
        if team != emu.workspace.team_id or item is None or item.deleted or item.blob is None:
            return web.Response(status=404, text="file_not_found")
        emu.files.downloads += 1
        return web.FileResponse(item.blob.path, headers={"Content-Type": item.mimetype}, chunk_size=CHUNK)

    async def signin(_: web.Request) -> web.StreamResponse:
        return web.Response(text="<html><body>Sign in to Slack</body></html>", content_type="text/html")

    app.router.add_post("/upload/v1/{token}", upload)
    app.router.add_get("/files-pri/{ref}/download/{name}", download)
    app.router.add_get("/files-pri/{ref}/{name}", download)
    app.router.add_get("/signin", signin)
