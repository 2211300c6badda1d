"""The small syntax tree every formatting direction goes through, and delimiter pairing.

A lexer (``coremd`` for core/Discord markdown, ``mrkdwn`` for Slack) turns text into a flat list of
tokens: finished nodes (text, code, links, mentions, line prefixes) and :class:`Delim` tokens for
emphasis markers. :func:`build_tree` pairs delimiters (nearest matching opener wins, unmatched
markers become literal text, empty pairs are refused) and nests them into :class:`Style` nodes.
Renderers (``render``) walk the tree. Code and fenced blocks are single opaque nodes, so nothing
inside them is ever converted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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


Use = tuple[int, StyleKind, str]
"""(number of marker characters, style, core marker) a delimiter run can be used as."""


@dataclass(frozen=True, slots=True)
class Delim:
    """A run of ``count`` identical marker characters, before pairing."""

    char: str
    count: int
    can_open: bool
    can_close: bool
    uses: tuple[Use, ...]
    """Longest first, e.g. ``((2, "bold", "**"), (1, "italic", "*"))`` for ``*`` in core markdown."""


Token = Node | Delim
NEWLINE = Text("\n")


def _reset(tok: Token, reset_each_line: bool, prev_newline: bool) -> bool:
    if isinstance(tok, Fence):
        return True
    if tok == NEWLINE:
        return reset_each_line or prev_newline
    return False


def _use(delim: Delim, left: int, right: int) -> Use | None:
    for use in delim.uses:
        if use[0] <= left and use[0] <= right:
            return use
    return None


@dataclass
class Pairing:
    """Result of :func:`pair_delimiters`, per token index."""

    opens: dict[int, list[tuple[int, StyleKind, str]]]
    """(pair id, kind, marker) opened by a run, innermost first."""
    closes: dict[int, list[int]]
    """Pair ids closed by a run, innermost first."""
    remaining: dict[int, int]
    """Marker characters of a run left over as literal text."""
    pairs: int = 0


def pair_delimiters(tokens: list[Token], *, reset_each_line: bool) -> Pairing:
    """Pair delimiter runs, CommonMark style: a closing run takes the nearest opening run of the
    same character, both give as many characters as the longest use they share (``***`` can close
    ``*`` and then ``**``), openers left inside a pair become literal.

    Pairing never crosses a fenced block, nor a line break when ``reset_each_line`` (Slack), nor a
    blank line (core markdown). Linear time: like CommonMark's ``openers_bottom``, a search that
    failed is not repeated below the same point for the same kind of closer.
    """
    pairer = _Pairer(tokens)
    prev_newline = False
    for i, tok in enumerate(tokens):
        if _reset(tok, reset_each_line, prev_newline):
            pairer.truncate(0)
        prev_newline = tok == NEWLINE
        if not isinstance(tok, Delim):
            continue
        if tok.can_close:
            pairer.close(i, tok)
        if tok.can_open and pairer.result.remaining[i]:
            pairer.stack.append(i)
    return pairer.result


def _rule_of_three(opener: Delim, closer: Delim) -> bool:
    """CommonMark: a run that can both open and close does not pair with one whose length adds
    up to a multiple of three (``**~*a***``: the middle ``*`` opens instead of closing ``**``)."""
    if not (closer.can_open or opener.can_close):
        return False
    total = opener.count + closer.count
    return total % 3 == 0 and not (opener.count % 3 == 0 and closer.count % 3 == 0)


class _Pairer:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.stack: list[int] = []
        self.bottom: dict[tuple[str, int, bool], int] = {}
        self.result = Pairing({}, {}, {i: t.count for i, t in enumerate(tokens) if isinstance(t, Delim)})

    def truncate(self, length: int) -> None:
        del self.stack[length:]
        for key, value in self.bottom.items():
            self.bottom[key] = min(value, length)

    def find(self, i: int, closer: Delim) -> tuple[int, Use] | None:
        key = (closer.char, closer.count % 3, closer.can_open)
        remaining = self.result.remaining
        for j in range(len(self.stack) - 1, self.bottom.get(key, 0) - 1, -1):
            opener = self.tokens[self.stack[j]]
            if isinstance(opener, Delim) and opener.char == closer.char and not _rule_of_three(opener, closer):
                use = _use(opener, remaining[self.stack[j]], remaining[i])
                if use is not None:
                    return j, use
        self.bottom[key] = len(self.stack)
        return None

    def close(self, i: int, closer: Delim) -> None:
        remaining = self.result.remaining
        while remaining[i]:
            found = self.find(i, closer)
            if found is None or self.stack[found[0]] == i - 1:
                return
            j, (length, kind, marker) = found
            o = self.stack[j]
            pair_id = self.result.pairs
            self.result.pairs += 1
            self.result.opens.setdefault(o, []).append((pair_id, kind, marker))
            self.result.closes.setdefault(i, []).append(pair_id)
            remaining[o] -= length
            remaining[i] -= length
            self.truncate(j + 1 if remaining[o] else j)


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
    pairing = pair_delimiters(tokens, reset_each_line=reset_each_line)
    frames: list[tuple[int, StyleKind, str, list[Node]]] = [(-1, "bold", "", [])]
    for i, tok in enumerate(tokens):
        if not isinstance(tok, Delim):
            frames[-1][3].append(tok)
            continue
        for pair_id in pairing.closes.get(i, []):
            while len(frames) > 1:
                open_id, kind, marker, children = frames.pop()
                if any(frame[1] == kind for frame in frames[1:]):
                    frames[-1][3].extend(children)  # bold inside bold is bold
                else:
                    frames[-1][3].append(Style(kind, marker, merge_text(children)))
                if open_id == pair_id:
                    break
        if pairing.remaining[i]:
            frames[-1][3].append(Text(tok.char * pairing.remaining[i]))
        for pair_id, kind, marker in reversed(pairing.opens.get(i, [])):
            frames.append((pair_id, kind, marker, []))
    while len(frames) > 1:  # cannot happen: every opener recorded in ``opens`` was closed
        _, kind, marker, children = frames.pop()
        frames[-1][3].append(Style(kind, marker, merge_text(children)))
    return merge_text(frames[0][3])


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


def mentioned_names(nodes: tuple[Node, ...]) -> list[str]:
    """Lowercased names of the :class:`Mention` nodes, in order of first appearance."""
    names: dict[str, None] = {}
    for node in nodes:
        if isinstance(node, Mention):
            names[node.name.lower()] = None
        elif isinstance(node, Style | Link):
            names.update(dict.fromkeys(mentioned_names(node.children)))
    return list(names)


class Lexer:
    """The scanning loop the core/Discord and Slack lexers share: at each position, a handler
    registered for the character may consume a construct (it returns True); otherwise a run of
    plain text is taken. At the start of a line, the subclass's line hook runs first."""

    def __init__(self, text: str, *, line_start: bool) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []
        self.line_start = line_start
        self._handlers: dict[str, Callable[[], bool]] = {}

    def _scan(self, plain: re.Pattern[str], at_line_start: Callable[[], object]) -> list[Token]:
        n = len(self.text)
        while self.pos < n:
            if self.line_start:
                at_line_start()
                if self.pos >= n:
                    break
            handler = self._handlers.get(self.text[self.pos])
            if handler is not None and handler():
                continue
            m = plain.match(self.text, self.pos)
            end = m.end() if m else self.pos + 1
            self._emit(Text(self.text[self.pos : end]), end)
        return self.tokens

    def open_markers(self, *, reset_each_line: bool) -> str:
        """Marker characters whose last delimiter run so far (since the last point where pairing
        resets, see :func:`pair_delimiters`) could open emphasis."""
        seen: dict[str, bool] = {}
        following_newline = False
        for tok in reversed(self.tokens):
            if isinstance(tok, Fence) or (tok == NEWLINE and (reset_each_line or following_newline)):
                break
            following_newline = tok == NEWLINE
            if isinstance(tok, Delim) and tok.char not in seen:
                seen[tok.char] = tok.can_open
        return "".join(ch for ch, can_open in seen.items() if can_open)

    def _emit(self, tok: Token, end: int) -> bool:
        self.tokens.append(tok)
        self.pos = end
        return True
