"""Moving a file from the platform it was posted on to another one, never whole in memory.

Each adapter registers a :class:`FileSource` for its own platform (it holds the credentials the
URLs need: none for Discord's signed CDN URLs, the bot token for Slack's ``url_private``) and its
:class:`~bridge.adapters.sender_notices.SenderNotices`. A destination adapter asks the shared
:class:`FileHub` to fetch an :class:`Attachment` into a spooled temporary file (up to 1 MiB in
memory, then on disk) under a byte cap, then uploads from that file; and tells the original sender,
through the origin's notices, when a file could not travel.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import IO, Protocol

from prometheus_client import Counter, Histogram

from bridge import metrics
from bridge.adapters.sender_notices import SenderNotices
from bridge.core.ports import Attachment, ChannelRef, OutboundMessage, Platform

log = logging.getLogger(__name__)
SPOOL_IN_MEMORY = 1024 * 1024
DEFAULT_MAX_BYTES = 100 * 1024 * 1024

FILES_MOVED = Counter(
    "chatbridge_files_total",
    "Files mirrored to a destination by outcome: uploaded, too_large, failed (those cross as a link line).",
    ["platform", "outcome"],
    registry=metrics.REGISTRY,
)
FILE_BYTES = Histogram(
    "chatbridge_file_bytes",
    "Size of the files uploaded to a destination.",
    ["platform"],
    buckets=(1e4, 1e5, 1e6, 1e7, 2.5e7, 5e7, 1e8),
    registry=metrics.REGISTRY,
)


class FileTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


class FetchFailed(Exception):
    """The origin would not give the bytes (gone, expired, no permission)."""


class FileSource(Protocol):
    platform: Platform

    def chunks(self, file: Attachment) -> AsyncIterator[bytes]:
        """The file's bytes as they arrive; raises :class:`FetchFailed`."""
        ...


@dataclass
class Fetched:
    """A downloaded file: ``fp`` is positioned at 0, closed by :meth:`close`."""

    name: str
    size: int
    content_type: str
    fp: IO[bytes]
    source: Attachment

    def close(self) -> None:
        self.fp.close()


@dataclass
class FileHub:
    """The sources and notices of every adapter of one process (``app.py`` shares one hub)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    """The size cap for any file the bridge moves (``files.max_bytes``)."""
    sources: dict[str, FileSource] = field(default_factory=dict)
    notices: dict[str, SenderNotices] = field(default_factory=dict)
    find_user: Callable[[str, str, str], Awaitable[str | None]] | None = None
    """``(username, platform, workspace) -> platform user id`` (the core's identity lookup)."""

    def register(self, platform: str, source: FileSource, notices: SenderNotices) -> None:
        self.sources[platform] = source
        self.notices[platform] = notices

    async def fetch(self, file: Attachment, limit: int) -> Fetched:
        """Download ``file`` into a spooled temporary file, at most ``min(limit, max_bytes)`` bytes."""
        cap = min(limit, self.max_bytes)
        if file.size > cap:
            raise FileTooLarge(cap)
        source = self.sources.get(file.origin)
        if source is None:
            raise FetchFailed(f"no {file.origin} adapter here to download it")
        fp: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by Fetched
        size = 0
        try:
            async for chunk in source.chunks(file):
                size += len(chunk)
                if size > cap:
                    raise FileTooLarge(cap)
                fp.write(chunk)
        except BaseException:
            fp.close()
            raise
        fp.seek(0)
        return Fetched(file.name, size, file.content_type, fp, file)

    async def tell_sender(self, message: OutboundMessage, text: str, *, reason: str) -> None:
        """Tell the author of the original (on its platform) that part of it did not cross. Never
        raises: the message itself was delivered, and a failed notice must not make it retried."""
        try:
            await self._tell(message, text, reason)
        except Exception:
            log.warning("could not tell %s about %s of %s", message.username, reason, message.core_id, exc_info=True)

    async def _tell(self, message: OutboundMessage, text: str, reason: str) -> None:
        if not message.origin_channel or not message.origin_id:
            return  # a core post (CLI): there is nobody on a platform to tell
        try:
            origin = ChannelRef.parse(message.origin_channel)
        except ValueError:
            return
        notices = self.notices.get(origin.platform)
        if notices is None or self.find_user is None or not message.username:
            log.info("cannot tell %s about %s: no %s adapter here", message.username, reason, origin.platform)
            return
        user_id = await self.find_user(message.username, origin.platform, origin.workspace)
        if user_id:
            await notices.tell(origin.workspace, origin.channel_id, message.origin_id, user_id, text, reason=reason)


@contextlib.asynccontextmanager
async def fetched_all(
    hub: FileHub, files: list[Attachment], limit: int
) -> AsyncIterator[list[Fetched | BaseException]]:
    """Fetch each file (a failure is returned in its place, as the exception); close them all after."""
    got: list[Fetched | BaseException] = []
    try:
        for file in files:
            try:
                got.append(await hub.fetch(file, limit))
            except (FileTooLarge, FetchFailed) as err:
                got.append(err)
        yield got
    finally:
        for item in got:
            if isinstance(item, Fetched):
                item.close()
