"""What a Discord message holds besides its text, as the core records it: attachments, stickers,
forwards, other bots' embeds, polls and voice messages.

Nothing a person posts is dropped for having no text (discord-api-docs resources/message.mdx):

- **attachments** (``attachments[]``: ``filename``, ``size``, ``content_type``, signed CDN ``url``)
  become :class:`Attachment` s; the destination downloads them (the URLs expire, so never only link);
- **stickers** (``sticker_items[]``, resources/sticker.mdx): PNG/APNG/GIF stickers cross as their
  image (served from the media CDN as ``/stickers/<id>.<ext>``); Lottie stickers (JSON animations no
  other platform shows) as a line with their name;
- **forwards** (``message_reference.type`` 1, the forwarded message in ``message_snapshots[0]``,
  empty ``content``): the snapshot's text, files and stickers cross under a "Forwarded" line;
- **embeds** of type ``rich`` (what bots post): title, description and fields as text; link
  previews (``link``/``image``/``video``/``article`` embeds Discord adds itself) are not content;
- **polls** (resources/poll.mdx): the question and the answers on one line;
- **voice messages** (flag ``IS_VOICE_MESSAGE`` 1 << 13): the audio file plus a line saying what it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import discord

from bridge.core.ports import Attachment

from .endpoints import jump_url

MEDIA_URL = "https://media.discordapp.net"


@dataclass
class Extras:
    """The non-text parts of a message: lines to add after its text, and its files."""

    lines: list[str] = field(default_factory=list)
    files: list[Attachment] = field(default_factory=list)
    forwarded: str | None = None
    """The forwarded message's own text (raw Discord markdown), converted by the caller."""


def media_base(api_base: str | None) -> str:
    """Where stickers are served: Discord's media CDN, or the emulator's root next to its API."""
    if not api_base:
        return MEDIA_URL
    scheme, _, rest = api_base.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _files(items: Sequence[discord.Attachment], permalink: str) -> list[Attachment]:
    return [
        Attachment(
            name=a.filename,
            size=int(a.size),
            content_type=a.content_type or "application/octet-stream",
            url=a.url,
            origin="discord",
            permalink=permalink,
        )
        for a in items
    ]


def _stickers(items: Sequence[discord.StickerItem], media: str, permalink: str, out: Extras) -> None:
    for sticker in items:
        if sticker.format is discord.StickerFormatType.lottie:
            out.lines.append(f"🏷️ Sticker: {sticker.name}")
            continue
        ext = "gif" if sticker.format is discord.StickerFormatType.gif else "png"
        content_type = "image/gif" if ext == "gif" else "image/png"
        url = f"{media}/stickers/{sticker.id}.{ext}"
        out.files.append(Attachment(f"{sticker.name}.{ext}", 0, content_type, url, "discord", permalink))


def _embed_lines(embed: discord.Embed) -> list[str]:
    lines: list[str] = []
    if embed.author and embed.author.name:
        lines.append(f"_{embed.author.name}_")
    if embed.title:
        lines.append(f"**[{embed.title}]({embed.url})**" if embed.url else f"**{embed.title}**")
    if embed.description:
        lines.append(embed.description)
    for f in embed.fields:
        lines.append(f"**{f.name}**: {f.value}")
    if embed.footer and embed.footer.text:
        lines.append(f"_{embed.footer.text}_")
    return [line for line in lines if line.strip()]


def extras(message: discord.Message, *, media: str = MEDIA_URL) -> Extras:
    """Everything of ``message`` besides ``content``."""
    out = Extras()
    guild_id = str(message.guild.id) if message.guild is not None else "@me"
    permalink = jump_url(guild_id, str(message.channel.id), str(message.id))
    ref = message.reference
    if ref is not None and ref.type is discord.MessageReferenceType.forward and message.message_snapshots:
        snap = message.message_snapshots[0]
        out.forwarded = snap.content
        out.files += _files(snap.attachments, permalink)
        _stickers(snap.stickers, media, permalink, out)
        for embed in snap.embeds:
            if embed.type == "rich":
                out.lines += _embed_lines(embed)
    out.files += _files(message.attachments, permalink)
    _stickers(message.stickers, media, permalink, out)
    for embed in message.embeds:
        if embed.type == "rich":
            out.lines += _embed_lines(embed)
    if message.poll is not None:
        answers = " / ".join(a.text or "…" for a in message.poll.answers)
        out.lines.append(f"📊 Poll: {message.poll.question} — {answers}")
    if message.flags.voice:
        seconds = next((a.duration for a in message.attachments if a.duration), None)
        out.lines.append(f"🎤 Voice message ({seconds:.0f} s)" if seconds else "🎤 Voice message")
    return out


def describe_empty(message: discord.Message) -> str:
    """The one line for a message with nothing else to show (components only, an activity...)."""
    if message.components:
        return "(a message with buttons or menus only, which cannot be shown here)"
    return f"(a Discord message of type {message.type.name} with no text)"
