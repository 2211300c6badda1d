"""File sizes as people read them next to a file name (pure)."""

from __future__ import annotations


def human_size(size: int) -> str:
    """``1536`` -> ``1.5 KiB``; bytes below 1 KiB as a whole number."""
    value = float(max(size, 0))
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def file_line(name: str, size: int, link: str = "", note: str = "") -> str:
    """The core-markdown line standing for a file that did not travel with its message:
    ``📎 report.pdf (2.0 MiB, too large for Discord) — <link>``."""
    detail = ", ".join(x for x in (human_size(size) if size else "", note) if x)
    head = f"📎 {name}" + (f" ({detail})" if detail else "")
    return f"{head} — <{link}>" if link else head
