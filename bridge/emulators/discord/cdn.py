"""The emulator's CDN: attachments at signed, expiring URLs, and sticker images.

Discord serves attachments from ``cdn.discordapp.com/attachments/<channel>/<attachment>/<name>``
with the query ``ex`` (hex expiry time), ``is`` (hex issue time) and ``hm`` (a signature); an
unsigned, tampered or expired URL is refused (discord-api-docs reference.mdx "Signed Attachment CDN
URLs"). Here the host is the emulator itself, the signature an HMAC-SHA256 over path and times with
a per-run secret, and the refusal a 404 as Discord's CDN answers. A deleted message's attachments
are gone from the CDN too. Stickers are at ``/stickers/<id>.png|gif`` (resources/sticker.mdx,
"Sticker formats": PNG/APNG as ``.png``, GIF as ``.gif``; Lottie ``.json``), unsigned.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import secrets
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..blobs import Blob, BlobStore

URL_TTL_S = 24 * 3600
"""Discord's signed attachment URLs stay valid for about a day."""


@dataclass
class Stored:
    attachment: dict[str, Any]
    blob: Blob
    channel_id: str


class CDN:
    def __init__(self, blobs: BlobStore, base_url: str = "") -> None:
        self.blobs = blobs
        self.base_url = base_url
        self.ttl_s = URL_TTL_S
        self._secret = secrets.token_bytes(32)
        self.files: dict[str, Stored] = {}
        """attachment id -> what it is and where its bytes are."""
        self.stickers: dict[str, tuple[dict[str, Any], Blob | None]] = {}
        self.downloads = 0

    # -- attachments ---------------------------------------------------------------------------
    def _sign(self, path: str, expires: int, issued: int) -> str:
        return hmac.new(self._secret, f"{path}:{expires:x}:{issued:x}".encode(), hashlib.sha256).hexdigest()

    def signed_url(self, channel_id: str, attachment_id: str, filename: str) -> str:
        path = f"/attachments/{channel_id}/{attachment_id}/{filename}"
        issued = int(time.time())
        expires = issued + self.ttl_s
        return f"{self.base_url}{path}?ex={expires:x}&is={issued:x}&hm={self._sign(path, expires, issued)}&"

    def add(self, *, attachment_id: str, channel_id: str, filename: str, blob: Blob, **extra: Any) -> dict[str, Any]:
        """Record an uploaded file; returns Discord's attachment object (resources/message.mdx
        "Attachment Structure")."""
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        url = self.signed_url(channel_id, attachment_id, filename)
        attachment: dict[str, Any] = {
            "id": attachment_id,
            "filename": filename,
            "size": blob.size,
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
            **extra,
        }
        self.files[attachment_id] = Stored(attachment, blob, channel_id)
        return attachment

    def forget(self, attachments: list[dict[str, Any]]) -> None:
        for attachment in attachments:
            stored = self.files.pop(str(attachment.get("id")), None)
            if stored is not None:
                self.blobs.forget(stored.blob.key)

    def sha256(self, attachment_id: str) -> str | None:
        stored = self.files.get(attachment_id)
        return stored.blob.sha256 if stored is not None else None

    async def serve_attachment(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        path = f"/attachments/{info['channel_id']}/{info['attachment_id']}/{info['filename']}"
        stored = self.files.get(info["attachment_id"])
        try:
            expires, issued = int(request.query.get("ex", ""), 16), int(request.query.get("is", ""), 16)
        except ValueError:
            expires = issued = -1
        good = hmac.compare_digest(request.query.get("hm", ""), self._sign(path, expires, issued))
        if stored is None or stored.channel_id != info["channel_id"] or not good or expires < time.time():
            return web.Response(status=404, text="This content is no longer available.")
        self.downloads += 1
        return web.FileResponse(
            stored.blob.path, headers={"Content-Type": str(stored.attachment["content_type"])}, chunk_size=64 * 1024
        )

    # -- stickers ------------------------------------------------------------------------------
    def add_sticker(self, sticker_id: str, name: str, format_type: int, blob: Blob | None) -> dict[str, Any]:
        """A guild sticker; ``sticker_items`` entries carry ``id``, ``name``, ``format_type``
        (1 PNG, 2 APNG, 3 LOTTIE, 4 GIF)."""
        item = {"id": sticker_id, "name": name, "format_type": format_type}
        self.stickers[sticker_id] = (item, blob)
        return item

    async def serve_sticker(self, request: web.Request) -> web.StreamResponse:
        sticker_id, _, ext = request.match_info["file"].partition(".")
        item, blob = self.stickers.get(sticker_id, ({}, None))
        if blob is None:
            return web.Response(status=404, text="Not Found")
        wanted = "gif" if item["format_type"] == 4 else "png"
        if ext != wanted:
            return web.Response(status=415, text="Unsupported Media Type")
        self.downloads += 1
        return web.FileResponse(blob.path, headers={"Content-Type": f"image/{wanted}"})

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/attachments/{channel_id}/{attachment_id}/{filename}", self.serve_attachment),
            web.get("/stickers/{file}", self.serve_sticker),
        ]
