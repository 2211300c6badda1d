"""Files to Slack, keeping the sender's persona.

The choice (see README "Files and images"): each file is uploaded with Slack's external upload flow
(``files.getUploadURLExternal`` → POST the bytes to ``upload_url`` → ``files.completeUploadExternal``
*without a channel*, so the file stays private to the app), then one ``chat.postMessage`` with
``username`` / ``icon_url`` (as for text) whose blocks show the images through ``image`` blocks
with ``slack_file: {"id"}`` (docs.slack.dev reference/block-kit/blocks/image-block and
composition-objects/slack-file-object) and link the other files by their permalink. Sharing with
``completeUploadExternal(channel_id=...)`` instead would post as the app, not the person.

The mirrored message's ids are the ``ts`` of its parts followed by the uploaded file ids (``F…``):
an edit sends the same blocks again, a delete removes the parts and ``files.delete`` s the files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import aiohttp

from bridge.adapters.file_transfer import Fetched
from bridge.errors import DeliveryError
from bridge.formatting.sizes import file_line

SECTION_MAX = 3000
"""A ``section`` block's text holds at most 3,000 characters (block-kit/blocks/section-block)."""


@dataclass(frozen=True)
class Uploaded:
    id: str
    name: str
    size: int
    is_image: bool
    permalink: str


def is_file_id(value: str) -> bool:
    return value.startswith("F") and "." not in value


def blocks_for(text: str, files: list[Uploaded]) -> list[dict[str, Any]]:
    """Part 0's blocks: its text (mrkdwn), then each image, then links to the other files."""
    blocks: list[dict[str, Any]] = []
    if text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    for item in files:
        if item.is_image:
            alt = item.name[:2000]
            blocks.append(
                {
                    "type": "image",
                    "slack_file": {"id": item.id},
                    "alt_text": alt,
                    "title": {"type": "plain_text", "text": alt[:2000]},
                }
            )
    links = [file_line(i.name, i.size, i.permalink) for i in files if not i.is_image]
    if links:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(links)[:SECTION_MAX]}})
    return blocks


async def post_bytes(session: aiohttp.ClientSession, url: str, item: Fetched) -> None:
    """Step 2: the bytes to the upload URL, streamed from the spooled file."""
    item.fp.seek(0)
    async with session.post(url, data=item.fp if isinstance(item.fp, io.IOBase) else item.fp.read()) as resp:
        if resp.status != 200:
            raise DeliveryError(f"slack upload of {item.name}: HTTP {resp.status}")
