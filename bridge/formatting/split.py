"""Splitting rendered messages at a destination's length limit.

Rules of :func:`split_message` (it runs on text already rendered for the destination):

* Every part is at most ``limit`` characters, counted as Python ``str`` length (Unicode code
  points; an emoji built from several code points counts for each). Discord documents its limit
  as 2000 characters without defining them; code points are the reading we test against (the
  Discord emulator), and a platform that counted UTF-16 units would see more for astral
  characters, so keep a margin if that ever matters. No part is empty or whitespace-only; text
  that fits is returned unchanged, and blank text gives no part at all.
* Cut points, in order of preference: a blank line, a line break, a space (or after CJK sentence
  punctuation), taking the last one of the first kind found in the second half of the window, then
  the last of any kind anywhere. Only a word longer than the window is cut inside, and never
  inside a grapheme (combining marks, ZWJ emoji sequences, variation selectors, skin tones), an
  entity such as ``&amp;``, or, when a cut elsewhere exists, a ``<...>`` tag, a ``[label](url)``
  link or a `` `code` `` span.
* The whitespace at a cut is dropped (it would be trimmed by the platform anyway), so parts never
  start with the newline or end with the spaces they were cut at; all other characters are kept
  in order.
* A cut inside a fenced code block closes the fence at the end of the part (`` ``` ``) and reopens
  it, with the same language, at the start of the next part, so every part renders as code. A
  language too long for the limit is dropped on reopening. Slack has no languages (the first
  line of a block is code): :func:`split_for_slack` passes ``fence_languages=False``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

DISCORD_LIMIT = 2000
"""Discord's ``content`` limit for messages and webhooks."""
SLACK_LIMIT = 4000
"""Where chatbridge splits for Slack: Slack's documented display recommendation (≤ 4,000 characters
per message); longer texts are accepted by the API but collapsed behind "show more" and become hard
to read, and ``SLACK_HARD_LIMIT`` truncates."""
SLACK_HARD_LIMIT = 40000
"""``chat.postMessage`` truncates ``text`` beyond this many characters."""
MIN_LIMIT = 16
"""The smallest limit that leaves room for a reopened fence and some content."""

_FENCE_RE = re.compile(r"`{3,}")
_INFO_RE = re.compile(r"([\w+#.\-]*)\n")
_ATOM_RE = re.compile(r"<[^<>\n]*>|\[[^\]\n]*\]\([^()\s]*\)|(?<!`)`[^`\n]+`(?!`)")
_ENTITY_RE = re.compile(r"&(?:amp|lt|gt);")
_LEVELS = (
    re.compile(r"\n[ \t]*\n\s*"),
    re.compile(r"\n"),
    re.compile(r"[ \t\u3000]+|(?<=[。！？，、；])"),
)


@dataclass(frozen=True)
class _Fence:
    start: int
    body: int
    close: int
    end: int
    lang: str
    info: bool

    def reopen(self, limit: int) -> str:
        if not self.info:
            return "```"
        lang = self.lang if len(self.lang) + 16 <= limit else ""
        return "```" + lang + "\n"

    def in_marker(self, c: int) -> bool:
        return self.start < c < self.body or self.close < c < self.end

    def closer(self) -> str:
        return "\n```" if self.info else "```"


def _fences(text: str, languages: bool) -> list[_Fence]:
    fences: list[_Fence] = []
    pos = 0
    while (m := _FENCE_RE.search(text, pos)) is not None:
        info = _INFO_RE.match(text, m.end()) if languages else None
        body = info.end() if info else m.end()
        close = _FENCE_RE.search(text, body)
        if close is None:
            break
        lang = info.group(1) if info else ""
        fences.append(_Fence(m.start(), body, close.start(), close.end(), lang, info is not None))
        pos = close.end()
    return fences


class _Splitter:
    def __init__(self, rest: str, limit: int, languages: bool):
        self.rest = rest
        self.limit = limit
        self.fences = _fences(rest, languages)
        self.atoms: list[tuple[int, int]] = []
        for m in _ATOM_RE.finditer(rest):
            if m.start() > limit:
                break
            self.atoms.append((m.start(), m.end()))

    def fence_at(self, c: int) -> _Fence | None:
        for fence in self.fences:
            if fence.start < c <= fence.close:
                return fence
        return None

    def in_atom(self, c: int) -> bool:
        return any(start < c < end for start, end in self.atoms)

    def attempt(self, start: int, end: int, atoms: bool) -> tuple[str, str] | None:
        """The (part, rest) for a cut at separator ``rest[start:end]``, or None if not allowed."""
        rest = self.rest
        head = rest[:start]
        if not head.strip() or (atoms and self.in_atom(start)):
            return None
        fence = self.fence_at(start)
        if fence is None:
            return head.rstrip(), rest[end:]
        if start <= fence.body or not rest[start : fence.close].strip():
            return None
        tail = rest[start + 1 :] if rest[start] == "\n" else rest[start:]
        return self._fenced(head, tail, fence)

    def _fenced(self, head: str, tail: str, fence: _Fence) -> tuple[str, str] | None:
        part, new_rest = head + fence.closer(), fence.reopen(self.limit) + tail
        if len(part) > self.limit or len(new_rest) >= len(self.rest):
            return None
        return part, new_rest

    def take(self) -> tuple[str, str]:
        window = self.rest[: self.limit + 1]
        for minimum, atoms in ((self.limit // 2, True), (1, True), (1, False)):
            for level in _LEVELS:
                for m in reversed(list(level.finditer(window))):
                    if m.start() < minimum:
                        break
                    if m.start() <= self.limit and (found := self.attempt(m.start(), m.end(), atoms)):
                        return found
        return (
            self.hard_cut(clean=True)
            or self.hard_cut(clean=False)
            or (self.rest[: self.limit], self.rest[self.limit :])
        )

    def hard_cut(self, clean: bool) -> tuple[str, str] | None:
        rest = self.rest
        for c in range(self.limit, 0, -1):
            if clean and not self._clean_cut(c):
                continue
            fence = self.fence_at(c)
            if fence is None:
                return rest[:c], rest[c:]
            if c > fence.body and (found := self._fenced(rest[:c], rest[c:], fence)):
                return found
        return None

    def _clean_cut(self, c: int) -> bool:
        rest = self.rest
        if _joins(rest[c - 1], rest[c]):
            return False
        entity_start = rest.rfind("&", max(0, c - 4), c)
        if entity_start >= 0 and _ENTITY_RE.match(rest, entity_start) and c < rest.index(";", entity_start) + 1:
            return False
        if any(fence.in_marker(c) for fence in self.fences):
            return False
        return not any(start < c < end and start > 0 for start, end in self.atoms)


def _joins(before: str, after: str) -> bool:
    """True when cutting between the two characters would break a grapheme."""
    if "\u200d" in (before, after) or unicodedata.combining(after):
        return True
    code = ord(after)
    return 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F


def split_message(text: str, limit: int, *, fence_languages: bool = True) -> list[str]:
    """Split rendered ``text`` into parts of at most ``limit`` characters (see the module rules).

    ``fence_languages``: whether the first line of a fenced block can be a language (Discord);
    Slack has none and shows that line as code, so pass False for Slack text.
    """
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be at least {MIN_LIMIT}, got {limit}")
    parts: list[str] = []
    rest = text
    while rest.strip():
        if len(rest) <= limit:
            parts.append(rest)
            break
        part, rest = _Splitter(rest, limit, fence_languages).take()
        if part.strip():
            parts.append(part)
        rest = rest.lstrip("\n") if not rest.startswith("```") else rest
    return parts


def split_for_discord(text: str) -> list[str]:
    """Parts of Discord markdown of at most :data:`DISCORD_LIMIT` characters."""
    return split_message(text, DISCORD_LIMIT)


def split_for_slack(text: str) -> list[str]:
    """Parts of Slack mrkdwn of at most :data:`SLACK_LIMIT` characters."""
    return split_message(text, SLACK_LIMIT, fence_languages=False)
