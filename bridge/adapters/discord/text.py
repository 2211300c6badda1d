"""Discord-side text handling on top of the shared formatter (``bridge.formatting.convert``).

* in: :func:`to_core` resolves the ``<@id>`` / ``<#id>`` entities of a message first (the lookups
  need Redis, the formatter's lookups are synchronous), then converts Discord markdown to core
  markdown. Unresolvable users become the escaped literal ``\\@unknown-user``, roles the literal
  ``@role`` text (never a ping), custom emoji ``:name:``; mass mentions stay plain words.
* out: :func:`to_discord` renders core markdown for Discord and returns the user ids that may be
  pinged (only people in the mentions map); mass mentions carry a ZERO WIDTH SPACE, hand-typed
  Discord tags are backslash-escaped. :func:`split` cuts at Discord's 2000 characters.
* webhook display names and the quote line of replies (webhook posts cannot reply natively).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping

from bridge import formatting

MAX_MESSAGE = formatting.DISCORD_LIMIT
MAX_USERNAME = 80
EMPTY = "(empty message)"

_USER_TAG = re.compile(r"<@!?(\d{1,25})>")
_CHANNEL_TAG = re.compile(r"<#(\d{1,25})>")

AsyncLookup = Callable[[str], Awaitable[str | None]]
RoleLookup = Callable[[str], str | None]


async def to_core(text: str, *, user_name: AsyncLookup, channel_name: AsyncLookup, role_name: RoleLookup) -> str:
    """Discord markdown → core markdown, resolving mentions and channels through the core."""
    users = {uid: await user_name(uid) for uid in dict.fromkeys(_USER_TAG.findall(text))}
    channels = {cid: await channel_name(cid) for cid in dict.fromkeys(_CHANNEL_TAG.findall(text))}
    return formatting.discord_to_core(text, user_name=users.get, channel_name=channels.get, role_name=role_name)


def to_discord(text: str, *, mentions: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """Core markdown → (Discord markdown, ids allowed to be pinged)."""
    table = {name: uid for name, uid in (mentions or {}).items() if uid.isdigit()}
    return formatting.core_to_discord_with_mentions(text, mention=table.get, channel=lambda _name: None)


def split(text: str) -> list[str]:
    """Parts of at most 2000 characters (never empty: Discord rejects empty messages)."""
    return formatting.split_message(text, MAX_MESSAGE) or [EMPTY]


def webhook_username(name: str, *, visible: bool = False) -> str:
    """A display name Discord accepts for a webhook post (1-80 chars, no 'discord'/'clyde',
    resources/webhook.mdx). The forbidden words are split after their third letter: by a zero-width
    space (the name looks unchanged) or, with ``visible``, by a hyphen ("Dis-cord"). Whether
    Discord's check ignores the zero-width space is undocumented; the adapter tries the invisible
    form and falls back to the visible one when Discord refuses it (``DiscordDestination._post``).
    Both are deterministic: the same name always gives the same result."""
    clean = " ".join(formatting.sanitize_text(name).split()) or "unknown"
    joint = "-" if visible else formatting.ZWSP
    for word in ("discord", "clyde"):
        clean = re.sub(word, lambda m: m.group(0)[:3] + joint + m.group(0)[3:], clean, flags=re.IGNORECASE)
    return clean[:MAX_USERNAME]


def reply_header(author: str | None, snippet: str | None, jump: str | None) -> str:
    """``> ↪ replying to <author>: <snippet> ([jump](<url>))``: the first line of a mirrored reply."""
    line = f"> ↪ replying to {webhook_username(author) if author else 'a message'}"
    if snippet:
        flat = " ".join(formatting.sanitize_text(snippet).replace("`", "'").split())
        short = flat if len(flat) <= 80 else flat[:79] + "…"
        line += ": " + formatting.neutralise_mass_mentions(short)
    if jump:
        line += f" ([jump](<{jump}>))"
    return line
