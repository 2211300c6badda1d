"""Files and Discord: downloading Discord attachments (the source) and planning uploads to Discord
webhooks (the destination side).

Download: Discord's attachment URLs are signed and expire (discord-api-docs reference.mdx "Signed
Attachment CDN URLs"), so the bridge downloads the bytes and re-uploads them, never only links; the
CDN needs no token. An expired or deleted file (403/404) is final; a 5xx or a network error is not
(the mirroring worker retries the delivery).

Upload: multipart ``files[n]`` on the webhook, as the sender (the same username/avatar as text).
Each file at most the guild's limit (``Guild.filesize_limit``: 10 MiB, boost tier 2: 50 MiB, tier 3:
100 MiB) and the bridge's ``files.max_bytes``; at most 10 per message (resources/message.mdx). A file
over a limit, past the tenth, or that the origin will not give, crosses as a line naming it, its
size and a permalink to the original, and its sender is told.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

import aiohttp
import discord

from bridge.adapters.file_transfer import Fetched, FetchFailed, FileHub, FileTooLarge, fetched_all
from bridge.core.ports import Attachment, Platform
from bridge.formatting.sizes import file_line, human_size

MAX_ATTACHMENTS = 10
DEFAULT_LIMIT = 10 * 1024 * 1024
CHUNK = 64 * 1024


class DiscordFiles:
    """The Discord :class:`~bridge.adapters.file_transfer.FileSource`."""

    platform: Platform = "discord"

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def chunks(self, file: Attachment) -> AsyncIterator[bytes]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=60))
        async with self._session.get(file.url) as resp:
            if resp.status in (401, 403, 404, 410):
                raise FetchFailed(f"Discord's CDN answered {resp.status} (the file was deleted or its link expired)")
            resp.raise_for_status()
            async for chunk in resp.content.iter_chunked(CHUNK):
                yield chunk

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


@dataclass
class Plan:
    """What a message's files become on Discord: uploads (on its first part) and lines."""

    uploads: list[Fetched] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    untold: list[str] = field(default_factory=list)
    """What to tell the sender, one line per file that did not travel."""

    def give_up_uploads(self, why: str) -> None:
        """Discord refused the upload after all (40005): every file becomes a line."""
        for item in self.uploads:
            self.lines.append(file_line(item.name, item.size, item.source.permalink or item.source.url, why))
            self.untold.append(f"{item.name} ({human_size(item.size)}): {why}")
        self.uploads = []

    def files(self) -> list[discord.File]:
        out = []
        for item in self.uploads:
            item.fp.seek(0)
            out.append(discord.File(cast(io.BufferedIOBase, item.fp), filename=item.name))
        return out


def upload_limit(client: discord.Client, guild_id: str) -> int:
    guild = client.get_guild(int(guild_id)) if guild_id.isdigit() else None
    return guild.filesize_limit if guild is not None else DEFAULT_LIMIT


@contextlib.asynccontextmanager
async def planned(hub: FileHub, files: tuple[Attachment, ...], limit: int) -> AsyncIterator[Plan]:
    plan = Plan()
    first, rest = list(files[:MAX_ATTACHMENTS]), list(files[MAX_ATTACHMENTS:])
    async with fetched_all(hub, first, limit) as got:
        for file, item in zip(first, got, strict=True):
            if isinstance(item, Fetched):
                plan.uploads.append(item)
                continue
            why = (
                f"over Discord's {human_size(item.limit)} limit"
                if isinstance(item, FileTooLarge)
                else f"could not be downloaded: {item}"
            )
            plan.lines.append(file_line(file.name, file.size, file.permalink or file.url, why))
            plan.untold.append(f"{file.name} ({human_size(file.size)}): {why}")
        for file in rest:
            why = f"Discord takes {MAX_ATTACHMENTS} files per message"
            plan.lines.append(file_line(file.name, file.size, file.permalink or file.url, why))
            plan.untold.append(f"{file.name}: {why}")
        yield plan


def lines_for_edit(files: tuple[Attachment, ...], limit: int, cap: int) -> list[str]:
    """The lines an edit keeps for files the send could not upload (by the same size rules: an edit
    never re-uploads, Discord keeps the attachments of the first part)."""
    out = []
    for index, file in enumerate(files):
        if index >= MAX_ATTACHMENTS:
            out.append(file_line(file.name, file.size, file.permalink or file.url, "not uploaded"))
        elif file.size > min(limit, cap):
            out.append(file_line(file.name, file.size, file.permalink or file.url, "too large for Discord"))
    return out
