"""Slack files in: the ``files[]`` of a ``file_share`` message as core :class:`Attachment` s.

A Slack file object (Events API ``message`` with ``subtype: file_share``; the shape of the file
objects in python-slack-sdk's and bolt-python's test fixtures) carries ``id``, ``name``, ``title``,
``mimetype``, ``size``, ``mode``, ``url_private``, ``url_private_download`` and ``permalink``.
``url_private*`` need the bot token (``Authorization: Bearer``, scope ``files:read``), so the
destination downloads with it; the core keeps only the URL.

Files that cannot be downloaded still cross as a line naming them: ``mode`` ``external`` (Google
Drive, Dropbox: a link to elsewhere), ``tombstone`` (deleted), ``hidden_by_limit`` (a free
workspace's history limit), or no ``url_private`` at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from bridge.adapters.file_transfer import FetchFailed
from bridge.core.ports import Attachment, Platform
from bridge.formatting.sizes import human_size

HOSTED_MODES = frozenset({"hosted", "snippet", "post", "space", "docs", ""})


def slack_files(raw: Any) -> tuple[list[Attachment], list[str]]:
    """(attachments to transfer, lines for files that cannot be transferred)."""
    files: list[Attachment] = []
    lines: list[str] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        name = str(item.get("name") or item.get("title") or item.get("id") or "file")
        mode = str(item.get("mode") or "")
        url = str(item.get("url_private_download") or item.get("url_private") or "")
        permalink = str(item.get("permalink") or "")
        size = int(item.get("size") or 0)
        if mode in HOSTED_MODES and url:
            content_type = str(item.get("mimetype") or "application/octet-stream")
            files.append(Attachment(name, size, content_type, url, "slack", permalink))
            continue
        if mode == "tombstone":
            lines.append(f"📎 {name} (deleted on Slack)")
        elif mode == "hidden_by_limit":
            lines.append(f"📎 {name} (hidden by the Slack workspace's history limit)")
        else:
            where = permalink or url
            sized = f" ({human_size(size)})" if size else ""
            lines.append(f"📎 {name}{sized}" + (f" — <{where}>" if where else ""))
    return files, lines


class SlackFiles:
    """The Slack :class:`~bridge.adapters.file_transfer.FileSource`: ``url_private_download`` with
    ``Authorization: Bearer <bot token>`` (scope ``files:read``). Without a usable token Slack answers
    its sign-in page (HTML) instead of the file; that, a 403/404, or a deleted file is final."""

    platform: Platform = "slack"

    def __init__(self, token: str | None) -> None:
        self._token = token or ""
        self._session: aiohttp.ClientSession | None = None

    async def chunks(self, file: Attachment) -> AsyncIterator[bytes]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=60))
        headers = {"Authorization": f"Bearer {self._token}"}
        async with self._session.get(file.url, headers=headers) as resp:
            if resp.status in (401, 403, 404, 410):
                raise FetchFailed(f"Slack answered {resp.status} (the file was deleted or is not shared with the app)")
            resp.raise_for_status()
            if resp.content_type == "text/html" and not file.content_type.startswith("text/html"):
                raise FetchFailed("Slack answered its sign-in page: the app needs the files:read scope")
            async for chunk in resp.content.iter_chunked(64 * 1024):
                yield chunk

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
