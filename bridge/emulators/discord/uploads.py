"""Multipart message bodies: ``payload_json`` plus ``files[n]`` parts (discord-api-docs reference.mdx
"Uploading Files"), on webhook execution and channel messages.

Limits as Discord applies them: each file at most the guild's upload limit, 10 MiB by default
(reference.mdx: "The file upload size limit applies to each file in a request. The default limit is
10 MiB"; change-log 2024-12-16: also for webhooks), raised by the server's boost tier (tier 2: 50 MiB,
tier 3: 100 MiB, Discord's Server Boosting FAQ); a larger file is HTTP 413 with JSON code 40005
"Request entity too large" (topics/opcodes-and-status-codes.mdx); at most 10 attachments per
message (resources/message.mdx, Create Message: "files[n] ... up to 10"), else 50035 on ``files``.
Files stream to disk as they arrive; a refused request keeps nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import BodyPartReader, web

from ..blobs import CHUNK, Blob, TooLarge
from . import api_errors as errors
from .service import Backend

MIB = 1024 * 1024
UPLOAD_LIMITS = {0: 10 * MIB, 1: 10 * MIB, 2: 50 * MIB, 3: 100 * MIB}
MAX_ATTACHMENTS = 10


def upload_limit(premium_tier: int) -> int:
    return UPLOAD_LIMITS.get(premium_tier, 10 * MIB)


def too_large() -> errors.APIError:
    return errors.APIError(413, 40005, "Request entity too large")


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while True:
        chunk = await part.read_chunk(CHUNK)
        if not chunk:
            return
        yield chunk


async def _payload(part: BodyPartReader) -> dict[str, Any]:
    try:
        value = json.loads(await part.text())
    except ValueError:
        raise errors.APIError(400, 50109, "The request body contains invalid JSON.") from None
    if not isinstance(value, dict):
        raise errors.invalid_form_body("_root", "DICT_TYPE_CONVERT", "Only dictionaries may be used")
    return value


async def _file(part: BodyPartReader, backend: Backend, count: int) -> Blob:
    if count >= MAX_ATTACHMENTS:
        raise errors.invalid_form_body(
            "files", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_ATTACHMENTS} or fewer in length."
        )
    if not part.filename:
        raise errors.invalid_form_body(part.name or "files", "BASE_TYPE_REQUIRED", "This field is required")
    try:
        return await backend.blobs.write(_chunks(part), limit=upload_limit(backend.world.config.premium_tier))
    except TooLarge:
        raise too_large() from None


async def _read_parts(request: web.Request, backend: Backend) -> tuple[dict[str, Any], list[tuple[str, str, Blob]]]:
    reader = await request.multipart()
    payload: dict[str, Any] = {}
    uploads: list[tuple[str, str, Blob]] = []
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise errors.APIError(400, 50035, "Invalid Form Body")
            name = part.name or ""
            if name == "payload_json":
                payload |= await _payload(part)
            elif name.startswith("files[") and name.endswith("]"):
                uploads.append((name[6:-1], part.filename or "", await _file(part, backend, len(uploads))))
            elif name:
                payload[name] = await part.text()  # plain form fields (content, username, ...)
    except BaseException:
        for _, _, blob in uploads:
            backend.blobs.forget(blob.key)
        raise
    return payload, uploads


async def take_files(
    request: web.Request, backend: Backend, channel_id: str
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """For a multipart request: the ``payload_json`` body (with plain form fields) and the
    attachment objects of every stored ``files[n]``, in request order. JSON requests: (None, [])."""
    if not request.content_type.startswith("multipart/"):
        return None, []
    payload, uploads = await _read_parts(request, backend)
    described = {str(a.get("id")): a for a in payload.get("attachments") or [] if isinstance(a, dict)}
    out: list[dict[str, Any]] = []
    for index, filename, blob in uploads:
        meta = described.get(index, {})
        extra = {"description": meta["description"]} if meta.get("description") else {}
        name = str(meta.get("filename") or filename)
        out.append(
            backend.cdn.add(
                attachment_id=backend.world.ids.next(), channel_id=channel_id, filename=name, blob=blob, **extra
            )
        )
    return payload, out
