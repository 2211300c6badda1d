"""The small syntax tree every formatting direction goes through, and delimiter pairing.

A lexer (``coremd`` for core/Discord markdown, ``mrkdwn`` for Slack) turns text into a flat list of
tokens: finished nodes (text, code, links, mentions, line prefixes) and :class:`Delim` tokens for
emphasis markers. :func:`build_tree` pairs delimiters (nearest matching opener wins, unmatched
markers become literal text, empty pairs are refused) and nests them into :class:`Style` nodes.
Renderers (``render``) walk the tree. Code and fenced blocks are single opaque nodes, so nothing
inside them is ever converted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StyleKind = Literal["bold", "italic", "strike", "underline", "spoiler"]
PrefixKind = Literal["quote", "quote_all", "heading", "subtext"]
LinkForm = Literal["masked", "angle", "bare"]


@dataclass(frozen=True, slots=True)
class Text:
    """Literal text, as people read it (no escapes, no entities)."""

    text: str


@dataclass(frozen=True, slots=True)
class Code:
    """Inline code; ``text`` is opaque."""

    text: str
    ticks: int = 1


@dataclass(frozen=True, slots=True)
class Fence:
    """A fenced code block. ``info`` says whether an info line (``lang`` or empty) followed the fence."""

    lang: str
    body: str
    info: bool


@dataclass(frozen=True, slots=True)
class Style:
    """Emphasis; ``marker`` is the core markdown marker that produced it (``**``, ``*``, ``_``, ...)."""

    kind: StyleKind
    marker: str
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Link:
    """``[children](url)`` (masked), ``<url>`` (angle, no embed on Discord) or a bare URL."""

    url: str
    children: tuple[Node, ...]
    form: LinkForm


@dataclass(frozen=True, slots=True)
class Mention:
    """A mention of a core user by core username."""

    name: str


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A reference to a core channel by name."""

    name: str


@dataclass(frozen=True, slots=True)
class MassMention:
    """``@everyone``/``@here``/``@channel``: a plain reserved word, never a ping."""

    word: str


@dataclass(frozen=True, slots=True)
class LinePrefix:
    """A line-start construct: ``> ``, ``>>> ``, ``# `` (``level`` 1-3) or ``-# ``."""

    kind: PrefixKind
    level: int = 0


Node = Text | Code | Fence | Style | Link | Mention | ChannelRef | MassMention | LinePrefix


@dataclass(frozen=True, slots=True)
class Delim:
    """An emphasis marker before pairing."""

    marker: str
    kind: StyleKind
    can_open: bool
    can_close: bool
    source: str = ""
    """The characters as written, when they differ from ``marker`` (Slack's single markers)."""


Token = Node | Delim
NEWLINE = Text("\n")


def _reset(tok: Token, reset_each_line: bool, prev_newline: bool) -> bool:
    if isinstance(tok, Fence):
        return True
    if tok == NEWLINE:
        return reset_each_line or prev_newline
    return False


def pair_delimiters(tokens: list[Token], *, reset_each_line: bool) -> dict[int, int]:
    """Return opener index -> closer index for the delimiters that pair up.

    Pairing never crosses a fenced block, nor a line break when ``reset_each_line`` (Slack), nor a
    blank line (core markdown).
    """
    pairs: dict[int, int] = {}
    stack: list[int] = []
    prev_newline = False
    for i, tok in enumerate(tokens):
        if _reset(tok, reset_each_line, prev_newline):
            stack.clear()
        prev_newline = tok == NEWLINE
        if not isinstance(tok, Delim):
            continue
        if tok.can_close:
            j = _find_opener(tokens, stack, tok.marker, i)
            if j is not None:
                pairs[stack[j]] = i
                del stack[j:]
                continue
        if tok.can_open:
            stack.append(i)
    return pairs


def _find_opener(tokens: list[Token], stack: list[int], marker: str, closer: int) -> int | None:
    for j in range(len(stack) - 1, -1, -1):
        opener = tokens[stack[j]]
        if isinstance(opener, Delim) and opener.marker == marker:
            return None if stack[j] == closer - 1 else j
    return None


def merge_text(nodes: list[Node]) -> tuple[Node, ...]:
    """Join adjacent :class:`Text` nodes."""
    out: list[Node] = []
    for node in nodes:
        if isinstance(node, Text) and out and isinstance(out[-1], Text):
            out[-1] = Text(out[-1].text + node.text)
        elif not (isinstance(node, Text) and not node.text):
            out.append(node)
    return tuple(out)


def build_tree(tokens: list[Token], *, reset_each_line: bool) -> tuple[Node, ...]:
    """Pair the delimiters in ``tokens`` and nest them; unpaired markers become :class:`Text`."""
    pairs = pair_delimiters(tokens, reset_each_line=reset_each_line)
    closers = set(pairs.values())
    frames: list[tuple[Delim | None, list[Node]]] = [(None, [])]
    for i, tok in enumerate(tokens):
        if not isinstance(tok, Delim):
            frames[-1][1].append(tok)
        elif i in pairs:
            frames.append((tok, []))
        elif i in closers:
            opener, children = frames.pop()
            assert opener is not None
            frames[-1][1].append(Style(opener.kind, opener.marker, merge_text(children)))
        else:
            frames[-1][1].append(Text(tok.source or tok.marker))
    return merge_text(frames[0][1])


def plain_text(nodes: tuple[Node, ...]) -> str:
    """What a reader sees, without any markup (used for link labels on Slack)."""
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, Text | Code):
            parts.append(node.text)
        elif isinstance(node, Style | Link):
            parts.append(plain_text(node.children))
        elif isinstance(node, Mention | MassMention):
            parts.append("@" + (node.name if isinstance(node, Mention) else node.word))
        elif isinstance(node, ChannelRef):
            parts.append("#" + node.name)
        elif isinstance(node, Fence):
            parts.append(node.body)
    return "".join(parts)
