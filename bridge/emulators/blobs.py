"""Bytes the emulated platforms hold (uploaded files), on disk, never all in memory.

Both emulators keep every file they receive in a private temporary directory, written chunk by
chunk as the request streams in, with its size and SHA-256 computed on the way (what ``sandbox log
--json`` reports, so a test can compare what arrived with what was sent, byte for byte).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK = 64 * 1024


class TooLarge(Exception):
    """The stream went past the limit it was written under (nothing is kept)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class Blob:
    key: str
    path: Path
    size: int
    sha256: str


class BlobStore:
    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="chatbridge-emu-"))
        self._ids = itertools.count(1)
        self.blobs: dict[str, Blob] = {}

    async def write(self, chunks: AsyncIterator[bytes], *, limit: int | None = None) -> Blob:
        """Store a stream; :class:`TooLarge` (and nothing kept) once it exceeds ``limit`` bytes."""
        key = f"b{next(self._ids)}"
        path = self._dir / key
        digest, size = hashlib.sha256(), 0
        try:
            with path.open("wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise TooLarge(limit)
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        blob = Blob(key, path, size, digest.hexdigest())
        self.blobs[key] = blob
        return blob

    async def put(self, data: bytes) -> Blob:
        return self.put_bytes(data)

    def put_bytes(self, data: bytes) -> Blob:
        """Store bytes a test or control route already holds (a person's upload)."""
        key = f"b{next(self._ids)}"
        path = self._dir / key
        path.write_bytes(data)
        blob = Blob(key, path, len(data), hashlib.sha256(data).hexdigest())
        self.blobs[key] = blob
        return blob

    def forget(self, key: str) -> None:
        blob = self.blobs.pop(key, None)
        if blob is not None:
            blob.path.unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
        self.blobs.clear()


def decode_files(raw: Any) -> list[tuple[str, bytes]]:
    """The control routes' form of files a person uploads: ``[{"name": ..., "data_b64": ...}]``."""
    out = []
    for item in raw or []:
        if not isinstance(item, dict) or not item.get("name") or not isinstance(item.get("data_b64"), str):
            raise ValueError("each file needs a name and data_b64 (its bytes in base64)")
        out.append((str(item["name"]), base64.b64decode(item["data_b64"], validate=True)))
    return out
