"""Renderers from the shared syntax tree to core markdown, Discord markdown and Slack mrkdwn.

Each renderer walks the tree left to right; a text node is escaped knowing the characters right
before and after it (the previous output and the first character of the next node), so only the
characters that would otherwise be read as markup get escaped.

Core markdown escaping (what :class:`CoreRenderer` guarantees, so that parsing its output gives the
same tree back): backslash before a ``*`` or ``_`` that could open or close emphasis, before every
backtick, before ``~``/``|`` next to another one, before ``]`` followed by ``(`` (and brackets in link
labels), before ``<`` that starts ``<http``, before ``@`` that would start a mention (an unresolved
platform mention is therefore stored as ``\\@name``: it reads ``@name`` but never pings a core user
who happens to have that name), before a backslash followed by ASCII punctuation, and before a
line-start ``>``, ``#`` or ``-#`` that would become a quote, heading or subtext. ``#name`` is never
escaped (a channel reference only links when the channel exists). Where no escape exists, an
invisible U+200B separates what would otherwise merge: a mention glued to a word (``a\u200b@bob``,
``@bob\u200bby``), two code spans, ``__`` next to a letter, an italic ``*`` next to another ``*``.
A bare URL that its neighbours would extend is written ``<url>``; italic is written ``*`` unless
``_`` was used and fits, or a neighbouring ``*`` makes ``*`` ambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bridge.formatting.parse_markdown import core_flanking
from bridge.formatting.sanitize import ZWSP, neutralise_mass_mentions
from bridge.formatting.tree import (
    ChannelRef,
    Code,
    Fence,
    LinePrefix,
    Link,
    MassMention,
    Mention,
    Node,
    Style,
    Text,
    plain_text,
)

_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_BARE_END = re.compile(r"[.,:;!?'\")]*(?:[\s<>]|$)")
_MASS_WORD = re.compile(r"@(?:everyone|here|channel)(?![A-Za-z0-9._\-])", re.IGNORECASE)
_BACKTICKS = re.compile(r"`+")
_CHANNEL_CONTINUES = re.compile(r"[_\-]*[A-Za-z0-9]")
_NAME_CONTINUES = re.compile(r"[._\-]*[A-Za-z0-9]")
_FENCE_INFO_RE = re.compile(r"[\w+#.\-]*\n")
_HEADING_RE = re.compile(r"#{1,3} |-# |>>> |> ")
_CORE_MARKERS = {"bold": "**", "strike": "~~", "underline": "__", "spoiler": "||"}


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _star(p: str, n: str) -> bool:
    return any(core_flanking(p, n, "*"))


def _underscore(p: str, n: str) -> bool:
    return "_" in (p, n) or any(core_flanking(p, n, "_"))


_GLUED: dict[str, Callable[[str], bool]] = {"__": str.isalnum, "_": _word, "*": lambda ch: ch == "*"}
"""Neighbours that would swallow a style marker written next to them (U+200B keeps them apart)."""

_CORE_RULES: dict[str, Callable[[str, str], bool]] = {
    "\\": lambda p, n: n != "" and (n in _ASCII_PUNCT or n in "hH"),  # h: a URL may be written <url>
    "*": _star,
    "_": _underscore,
    "~": lambda p, n: "~" in (p, n),
    "|": lambda p, n: "|" in (p, n),
    "`": lambda p, n: True,
    "]": lambda p, n: n == "(",
    "@": lambda p, n: not p.isalnum() and p != "<" and ((n.isascii() and n.isalnum()) or n == ZWSP),
}


class Renderer:
    """Base class: tree walking, neighbour tracking and line-start detection."""

    quote_pieces: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.out: list[str] = []
        self.outer: list[list[str]] = []
        self.in_label = False
        self.nxt = ""
        self.next_text = ""
        self._dispatch: dict[type, Callable[[Node], None]] = {
            Text: lambda n: None,
            Code: self.code,  # type: ignore[dict-item]
            Fence: self.fence,  # type: ignore[dict-item]
            Style: self.style,  # type: ignore[dict-item]
            Link: self.link,  # type: ignore[dict-item]
            Mention: self.mention,  # type: ignore[dict-item]
            ChannelRef: self.channel,  # type: ignore[dict-item]
            MassMention: self.mass,  # type: ignore[dict-item]
            LinePrefix: self.prefix,  # type: ignore[dict-item]
        }

    def render(self, nodes: tuple[Node, ...]) -> str:
        self.seq(nodes, "")
        return "".join(self.out)

    def seq(self, nodes: tuple[Node, ...], after: str) -> None:
        for i, node in enumerate(nodes):
            nxt = self._next_char(nodes, i, after)
            if isinstance(node, Text):
                self.out.append(self.escape(node.text, self.last_char(), nxt, self.at_line_start()))
            else:
                self.nxt = nxt
                self.next_text = self._next_text(nodes, i, after)
                self._dispatch[type(node)](node)

    def _next_char(self, nodes: tuple[Node, ...], i: int, after: str) -> str:
        if i + 1 >= len(nodes):
            return after[:1]
        node, following = nodes[i], nodes[i + 1]
        if isinstance(node, Text) and isinstance(following, Link) and following.form == "bare":
            bare = self.bare_ok(node.text[-1:], self._next_text(nodes, i + 1, after))
            return following.url[:1] if bare else "<"
        return self.first_char(following)

    def _next_text(self, nodes: tuple[Node, ...], i: int, after: str) -> str:
        """What follows node ``i``: the next text node and one more character, or one character."""
        if i + 1 < len(nodes) and isinstance(nodes[i + 1], Text):
            following = nodes[i + 1]
            assert isinstance(following, Text)
            beyond = self.first_char(nodes[i + 2]) if i + 2 < len(nodes) else after[:1]
            return following.text + (beyond or " ")
        if i + 1 < len(nodes):  # not text: assume a name-like character may follow the marker
            return self._next_char(nodes, i, after) + "a"
        return after[:1]

    def bare_ok(self, prev: str, next_text: str) -> bool:
        """Whether a bare URL between ``prev`` and ``next_text`` is written bare (else ``<url>``)."""
        return True

    def last_char(self) -> str:
        for piece in reversed(self.out):
            if piece:
                return piece[-1]
        return ""

    def at_line_start(self) -> bool:
        for piece in reversed(self.out):
            if piece:
                return piece.endswith("\n") or piece in self.quote_pieces
        return True

    def first_char(self, node: Node) -> str:
        if isinstance(node, Text):
            return node.text[:1]
        if isinstance(node, Style):
            return self.style_marker(node)[:1] or (self.first_char(node.children[0]) if node.children else "")
        if isinstance(node, Link):
            return {"masked": "[", "angle": "<"}.get(node.form, node.url[:1])
        firsts: dict[type, str] = {Code: "`", Fence: "`", Mention: "@", MassMention: "@", ChannelRef: "#"}
        return firsts.get(type(node), ">")

    def sub(self, nodes: tuple[Node, ...], before: str, after: str) -> str:
        """Render ``nodes`` on their own, as if preceded by ``before`` and followed by ``after``."""
        saved, self.out = self.out, [before]
        self.outer.append(saved)
        try:
            self.seq(nodes, after)
            return "".join(self.out[1:])
        finally:
            self.out = saved
            self.outer.pop()

    def paragraph(self) -> str:
        """The output so far since the last blank line, including that of enclosing nodes."""
        written = "".join("".join(piece) for piece in [*self.outer, self.out])
        return written[written.rfind("\n\n") + 1 :]

    # -- per node type, overridden by dialects -----------------------------------------------------
    def escape(self, text: str, prev: str, nxt: str, line_start: bool) -> str:
        raise NotImplementedError

    def style_marker(self, node: Style) -> str:
        raise NotImplementedError

    def code(self, node: Code) -> None:
        raise NotImplementedError

    def fence(self, node: Fence) -> None:
        raise NotImplementedError

    def style(self, node: Style) -> None:
        marker = self.style_marker(node)
        self.out.append(marker + self.sub(node.children, marker, marker) + marker)

    def link(self, node: Link) -> None:
        raise NotImplementedError

    def mention(self, node: Mention) -> None:
        raise NotImplementedError

    def channel(self, node: ChannelRef) -> None:
        raise NotImplementedError

    def mass(self, node: MassMention) -> None:
        raise NotImplementedError

    def prefix(self, node: LinePrefix) -> None:
        raise NotImplementedError


class CoreRenderer(Renderer):
    """Tree -> core markdown (parsing the output with ``parse_core`` gives the same tree)."""

    quote_pieces = frozenset({"> ", ">>> "})
    mention_escape = True

    def escape(self, text: str, prev: str, nxt: str, line_start: bool) -> str:
        out: list[str] = []
        for i, ch in enumerate(text):
            p = text[i - 1] if i else prev
            n = text[i + 1] if i + 1 < len(text) else nxt
            start = line_start if i == 0 else text[i - 1] == "\n"
            if self.needs_escape(ch, p, n, text, i) or (start and _HEADING_RE.match(text[i:] + nxt)):
                out.append("\\")
            out.append(ch)
        return "".join(out)

    def needs_escape(self, ch: str, p: str, n: str, text: str, i: int) -> bool:
        if ch == "@" and (not self.mention_escape or _MASS_WORD.match(text, i)):
            return False
        if self.in_label and ch in "[]":
            return True
        rule = _CORE_RULES.get(ch)
        if rule is not None:
            return rule(p, n)
        if ch != "<":
            return False
        return text.startswith(("http://", "https://"), i + 1) or (i + 1 == len(text) and n in "hH" and n != "")

    def style(self, node: Style) -> None:
        # U+200B where the neighbours would otherwise swallow the marker: ``__`` or ``_`` next to a
        # letter, ``*`` next to another ``*`` when ``_`` cannot be used either
        marker, prev, nxt = self.style_marker(node), self.last_char(), self.nxt
        glued: Callable[[str], bool] | None = _GLUED.get(marker)
        before = ZWSP if glued is not None and glued(prev) else ""
        after = ZWSP if glued is not None and glued(nxt) else ""
        self.out.append(before + marker + self.sub(node.children, marker, marker) + marker + after)

    def style_marker(self, node: Style) -> str:
        if node.kind != "italic":
            return _CORE_MARKERS[node.kind]
        # never the character right before or after (``*a**b*`` is one italic, ``***a***`` is bold
        # inside italic); ``_`` never inside a word; the written marker when it fits; ``_`` when
        # the italic text starts or ends with a space (``*`` needs a non-space inside, ``_`` not:
        # U+200B then keeps it apart from its neighbours)
        prev, nxt = self.last_char(), self.nxt
        text = plain_text(node.children)
        if text[:1].isspace() or text[-1:].isspace():
            return "_"
        under_ok = not prev.isalnum() and not nxt.isalnum() and "_" not in (prev, nxt)
        star_ok = "*" not in (prev, nxt)
        if node.marker == "_" and under_ok:
            return "_"
        return "*" if star_ok or not under_ok else "_"

    def code(self, node: Code) -> None:
        runs = {len(run) for run in _BACKTICKS.findall(node.text)}
        ticks = 1 if 1 not in runs else 2 if 2 not in runs else node.ticks
        self.out.append(self._apart() + "`" * ticks + node.text + "`" * ticks)

    def _apart(self) -> str:
        """U+200B between two pieces of code, which would otherwise merge their backticks."""
        return ZWSP if self.last_char() == "`" else ""

    def fence(self, node: Fence) -> None:
        info = node.lang + "\n" if node.info else ""
        if (
            not node.info
            and not node.body.startswith("\n")
            and (_FENCE_INFO_RE.match(node.body) or node.body[:1] in ("", "`"))
        ):
            info = "\n"  # a Slack block whose first line would read as a language on Discord
        end = "\n" if node.body.endswith("`") else ""
        self.out.append(self._apart() + "```" + info + node.body + end + "```")

    def link(self, node: Link) -> None:
        if node.form == "masked":
            self.in_label = True
            try:
                label = self.sub(node.children, "[", "]")
            finally:
                self.in_label = False
            url = node.url.replace("(", "%28").replace(")", "%29")
            self.out.append(f"[{label}]({url})")
        elif node.form == "angle" or not self.bare_ok(self.last_char(), self.next_text) or self._closes(node.url):
            self.out.append(f"<{node.url}>")
        else:
            self.out.append(node.url)

    def _closes(self, url: str) -> bool:
        """Whether the marker character a bare URL ends with could be read as closing emphasis
        opened earlier in the paragraph (then the URL is written ``<url>``, see ``trim_url``)."""
        last = url[-1:]
        return last in ("*", "_", "~", "|") and last in self.paragraph()

    def bare_ok(self, prev: str, next_text: str) -> bool:
        """A bare URL is only read back as the same URL between spaces or sentence punctuation."""
        return not _word(prev) and bool(_BARE_END.match(next_text))

    def mention(self, node: Mention) -> None:
        self.out.append(self._glued("@" + node.name))

    def channel(self, node: ChannelRef) -> None:
        self.out.append(self._glued("#" + node.name, _CHANNEL_CONTINUES))

    def mass(self, node: MassMention) -> None:
        self.out.append(self._glued("@" + node.word))

    def _glued(self, word: str, continues: re.Pattern[str] | None = None) -> str:
        """``word`` with U+200B where a neighbour would otherwise change how it is read.

        A mention right after a word character would not be read as a mention, and one right
        before a name character would absorb it (``@alice`` + ``bc``); the invisible separator keeps
        the mention and the text as they were.
        """
        before = ZWSP if _word(self.last_char()) or self.last_char() == "<" else ""
        after = ZWSP if (continues or _NAME_CONTINUES).match(self.next_text) else ""
        return before + word + after

    def prefix(self, node: LinePrefix) -> None:
        pieces = {"quote": "> ", "quote_all": ">>> ", "subtext": "-# "}
        self.out.append(pieces.get(node.kind) or "#" * node.level + " ")


def render_core(nodes: tuple[Node, ...]) -> str:
    """Render a tree as core markdown."""
    return CoreRenderer().render(nodes)


class DiscordRenderer(CoreRenderer):
    """Core markdown -> Discord markdown: native mentions for linked users, nothing else pings.

    ``@name`` becomes ``<@id>`` when ``mention(name)`` returns a numeric id (collected in ``ids``
    for ``allowed_mentions``), else stays plain text, which Discord never pings. ``#name`` becomes
    ``<#id>`` when ``channel(name)`` returns a numeric id. Mass mentions get U+200B after ``@``. A
    literal ``<`` that could start a Discord tag (``<@``, ``<#``, ``<:``, ``</``, ``<a:``, ``<t:``,
    ``<id:``) is escaped as ``\\<``, so text typed on Slack shows as typed and pings nobody.
    """

    mention_escape = False

    def __init__(self, mention: Callable[[str], str | None], channel: Callable[[str], str | None]):
        super().__init__()
        self.resolve_user = mention
        self.resolve_channel = channel
        self.ids: list[str] = []

    def escape(self, text: str, prev: str, nxt: str, line_start: bool) -> str:
        return neutralise_mass_mentions(super().escape(text, prev, nxt, line_start))

    def needs_escape(self, ch: str, p: str, n: str, text: str, i: int) -> bool:
        if ch == "<" and (n in ("@", "#", ":", "/") or text.startswith(("a:", "t:", "id:"), i + 1)):
            return True
        return super().needs_escape(ch, p, n, text, i)

    def mention(self, node: Mention) -> None:
        user_id = self.resolve_user(node.name.lower())
        if user_id and user_id.isdigit():
            if user_id not in self.ids:
                self.ids.append(user_id)
            self.out.append(f"<@{user_id}>")
        else:
            self.out.append("@" + node.name)

    def channel(self, node: ChannelRef) -> None:
        channel_id = self.resolve_channel(node.name.lower())
        self.out.append(f"<#{channel_id}>" if channel_id and channel_id.isdigit() else "#" + node.name)

    def mass(self, node: MassMention) -> None:
        self.out.append("@" + ZWSP + node.word)
