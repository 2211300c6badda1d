"""Text for command replies, in core markdown. Data for tools goes in ``Reply.data``."""

from __future__ import annotations

from bridge.core.finder import fmt_time
from bridge.core.models import Message, Profile
from bridge.formatting.sizes import human_size

MAX_LINE_TEXT = 300


def message_line(m: Message, *, with_channel: bool = False) -> str:
    where = f" in #{m.channel}" if with_channel else ""
    when = fmt_time(m.ts)
    if m.kind == "join":
        return f"*{m.username} joined{where}* · {when}"
    if m.kind == "leave":
        return f"*{m.username} left{where}* · {when}"
    text = m.text if len(m.text) <= MAX_LINE_TEXT else m.text[: MAX_LINE_TEXT - 1] + "…"
    text = text.replace("\n", " ⏎ ")
    edited = " (edited)" if m.edited_ts else ""
    reply = " ↪" if m.reply_to else ""
    if m.in_thread:
        reply += " 🧵"
    replies = f" · 💬 {m.replies} repl{'y' if m.replies == 1 else 'ies'} (`thread {m.id}`)" if m.replies > 0 else ""
    files = "".join(f" 📎 {f['name']} ({human_size(int(f.get('size') or 0))})" for f in m.files)
    sep = " " if text and files else ""
    return f"**{m.username}**{where} · {when}{reply}: {text}{sep}{files.strip()}{edited}{replies}"


def message_list(title: str, items: list[Message], *, with_channel: bool = False, empty: str = "Nothing yet.") -> str:
    if not items:
        return f"{title}\n{empty}"
    return title + "\n" + "\n".join(message_line(m, with_channel=with_channel) for m in items)


def profile(p: Profile) -> str:
    name = " ".join(x for x in (p.firstname, p.lastname) if x) or "—"
    lines = [f"**{p.username}** — {name}"]
    place = ", ".join(x for x in (p.city, p.country) if x)
    if place:
        lines.append(f"Lives in: {place}")
    if p.hobbies:
        lines.append(f"Hobbies: {p.hobbies.replace(',', ', ')}")
    if p.location:
        lon, _, lat = p.location.partition(",")
        lines.append(f"Location: {float(lat):.4f}, {float(lon):.4f}")
    if p.auto:
        lines.append("(not registered yet: `register <username>` claims a name and keeps this history)")
    return "\n".join(lines)
