"""Text the bridge writes about threads: a thread's name taken from its root, the root it posts for a
thread that has none on the other side, and the line that says where a reply belongs when it cannot
be posted in its thread. Pure functions of core markdown."""

from __future__ import annotations

from bridge.formatting.convert import core_to_plain
from bridge.formatting.sanitize import neutralise_mass_mentions, sanitize_text

THREAD_NAME_MAX = 100
"""Discord thread names are 1-100 characters (resources/channel.mdx, start thread)."""
THREAD_MARK = "🧵"


def _flat(text: str) -> str:
    return " ".join(sanitize_text(core_to_plain(text)).split())


def thread_name(root_text: str, *, fallback: str = "thread") -> str:
    """A thread's name from its root message: the first line as plain text, at most 100 characters."""
    first = next((line for line in root_text.splitlines() if line.strip()), "")
    flat = _flat(first)
    if len(flat) > THREAD_NAME_MAX:
        flat = flat[: THREAD_NAME_MAX - 1].rstrip() + "…"
    return flat or fallback


def thread_root_text(title: str, first_message: str = "") -> str:
    """The root posted for a thread that has no starter message (a Discord thread started from
    nothing, or a forum post): ``🧵 **<title>**`` and, for a forum post, its first message below."""
    head = f"{THREAD_MARK} **{neutralise_mass_mentions(_flat(title)) or 'thread'}**"
    return f"{head}\n{first_message}" if first_message else head


def orphan_header(root_text: str) -> str:
    """The first line of a thread reply posted in the channel because the thread root's copy there
    cannot be proven: ``> 🧵 in the thread “<root snippet>”``."""
    flat = _flat(root_text).replace("`", "'")
    short = flat if len(flat) <= 80 else flat[:79] + "…"
    quoted = f" “{neutralise_mass_mentions(short)}”" if short else ""
    return f"> {THREAD_MARK} in the thread{quoted}"
