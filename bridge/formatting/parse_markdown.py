"""Lexer for core markdown and for Discord markdown (core markdown is Discord-flavoured).

Rules (both dialects):

* ``\\`` before ASCII punctuation makes that character literal; elsewhere a backslash is literal.
* A run of backticks opens a code span closed by a run of the same length (a run of three or more
  opens a fenced block closed by the next run of three or more, possibly on the same line). An
  unclosed run is literal. Code is opaque.
* ``**bold**``, ``*italic*``, ``_italic_``, ``__underline__``, ``~~strike~~``, ``||spoiler||``.
  As on Discord (:func:`core_flanking`): a doubled marker pairs whatever it encloses, spaces
  included (``~~ text ~~``); a single ``_`` needs no letter or digit outside it (``_ test_`` is
  italic, ``snake_case_name`` is plain); a single ``*`` opens before a non-space and closes after
  one, inside words too (``2*3*4`` is italic 3). Runs pair like CommonMark's delimiter runs, rule of three
  included (``***`` can close a ``*`` and a ``**``); runs of more than three ``*``/``_`` are
  literal. Pairs never span a blank line or a fenced block.
* Line prefixes: ``> ``, ``>>> ``, ``# ``/``## ``/``### `` and ``-# ``. A ``> `` line with nothing
  else is a quoted empty line when the line before is quoted or a quoted line follows.
* ``[label](url)`` (http, https, mailto; the label on one line; it may hold whole code spans and
  emphasis, but a link never reaches into code: see :func:`_label_end`), ``<https://...>`` and bare
  ``http(s)://`` URLs are links; nothing inside a URL is markup. A bare URL keeps a final ``*``,
  ``_``, ``~`` or ``|`` unless that marker closes emphasis opened before it (:func:`trim_url`).
* ``@name`` (not after a word character or ``<``) mentions core user ``name``: ASCII letters,
  digits, ``.``, ``_``, ``-``, starting and ending with a letter or digit, as the core's usernames
  (compared lowercased); ``@everyone``, ``@here`` and ``@channel`` are the reserved plain words.
  ``#name`` refers to core channel ``name`` (letters, digits, ``_``, ``-``; ending with a letter
  or digit, so ``_#chan_`` is italic).

Discord dialect only: ``<@id>``/``<@!id>`` become mentions through ``user_name`` (``@unknown-user``
as literal text when unresolved); ``<@&id>`` becomes the literal text ``@role`` (never a ping);
``<#id>`` a channel reference through ``channel_name``; ``<:name:id>``/``<a:name:id>`` the shortcode
``:name:``; ``<t:unix:style>`` a readable UTC time; ``</name:id>`` the text ``/name``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bridge.formatting.sanitize import ZWSP, is_mass_mention
from bridge.formatting.tree import (
    NEWLINE,
    ChannelRef,
    Code,
    Delim,
    Fence,
    Lexer,
    LinePrefix,
    Link,
    MassMention,
    Mention,
    Node,
    Text,
    Use,
    build_tree,
)

Resolver = Callable[[str], str | None]

USERNAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._\-]*[A-Za-z0-9])?")
"""What a core username looks like (``@`` + this is a mention)."""
CHANNEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_\-]*[A-Za-z0-9])?")
_MENTION_RE = re.compile(r"@(" + ZWSP + r"*)(" + USERNAME_RE.pattern + ")")
_CHANNEL_REF_RE = re.compile(r"#(" + CHANNEL_RE.pattern + ")")
_PLAIN_RE = re.compile(r"[^\\`*_~|\[<@#\nhH]+")
_URL_RE = re.compile(r"(?:https?|HTTPS?)://[^\s<>|\\`]+")
_SENTENCE_END = ".,:;!?'\""
_LINK_TARGET_RE = re.compile(r"\(<?((?:https?://|mailto:)[^\s<>()]+(?:\([^\s<>()]*\))?)>?\)")
_ANGLE_URL_RE = re.compile(r"<(https?://[^\s<>|`]+)>")
_FENCE_INFO_RE = re.compile(r"([\w+#.\-]*)\n")
_PREFIX_RE = re.compile(r"(>>> |> )?(#{1,3} |-# )?(?=[^\S\n]*\S)|")
_EMPTY_QUOTE_RE = re.compile(r"> [^\S\n]*(?=\n|$)")
_QUOTE_FOLLOWS_RE = re.compile(r"(?:\n> [^\S\n]*(?=\n))*\n> [^\S\n]*\S")
_DISCORD_TAG_RE = re.compile(r"<(@!?|@&|#|a?:\w+:|t:|/[\w\- ]+:)(-?\d+)(?::([tTdDfFR]))?>")
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def format_unix_time(seconds: int, style: str = "f") -> str:
    """Render a Discord ``<t:...>`` timestamp in UTC, independent of locale.

    ``t`` 16:20 UTC, ``T`` 16:20:30 UTC, ``d`` 2021-04-20, ``D`` 20 April 2021, ``f``/``R`` (and
    default) 20 April 2021 16:20 UTC, ``F`` Tuesday, 20 April 2021 16:20 UTC. Relative times are
    shown absolute because the text is read later than it was written.
    """
    try:
        t = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return str(seconds)
    date = f"{t.day} {_MONTHS[t.month - 1]} {t.year}"
    styles = {
        "t": f"{t:%H:%M} UTC",
        "T": f"{t:%H:%M:%S} UTC",
        "d": f"{t:%Y-%m-%d}",
        "D": date,
        "F": f"{_DAYS[t.weekday()]}, {date} {t:%H:%M} UTC",
    }
    return styles.get(style, f"{date} {t:%H:%M} UTC")


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def core_flanking(prev: str, nxt: str, char: str, count: int = 1) -> tuple[bool, bool]:
    """(can_open, can_close) for a core markdown run of ``count`` ``char`` between ``prev`` and
    ``nxt`` ('' at the text edges), as Discord reads them.

    Discord's rules (its parser is a fork of simple-markdown, whose ``strong``, ``u``, ``del`` and
    spoiler rules match any non-empty text between the two markers and whose ``em`` rule needs a
    word boundary outside ``_``, a non-space inside ``*``): a doubled marker (``**``, ``__``,
    ``~~``, ``||``) pairs whatever is inside it, spaces included (``~~ text ~~`` is struck through);
    a single ``_`` only needs no letter or digit outside it (``_ test_`` is italic,
    ``snake_case_name`` is not); a single ``*`` (and a run of three) opens before a non-space and
    closes after one, inside words too (``2*3*4``).
    """
    if count == 2:
        return bool(nxt), bool(prev)
    if count == 1 and char == "_":
        return bool(nxt) and not _is_word(prev), bool(prev) and not _is_word(nxt)
    return flanking(prev, nxt, intraword=char != "_")


def flanking(prev: str, nxt: str, *, intraword: bool) -> tuple[bool, bool]:
    """(can_open, can_close) for a Slack marker between ``prev`` and ``nxt`` ('' at the text edges)."""
    can_open = bool(nxt) and not nxt.isspace()
    can_close = bool(prev) and not prev.isspace()
    if not intraword:
        can_open = can_open and not (prev and prev.isalnum())
        can_close = can_close and not (nxt and nxt.isalnum())
    return can_open, can_close


@dataclass(frozen=True)
class DiscordResolvers:
    user_name: Resolver
    channel_name: Resolver
    role_name: Resolver


_USES: dict[str, tuple[Use, ...]] = {
    "*": ((2, "bold", "**"), (1, "italic", "*")),
    "_": ((2, "underline", "__"), (1, "italic", "_")),
    "~": ((2, "strike", "~~"),),
    "|": ((2, "spoiler", "||"),),
}
_RUN_LENGTHS = {"*": (1, 2, 3), "_": (1, 2, 3), "~": (2,), "|": (2,)}


class CoreLexer(Lexer):
    """Turns core (or Discord, when ``discord`` is given) markdown into a syntax tree."""

    def __init__(self, text: str, discord: DiscordResolvers | None = None, *, inline: bool = False):
        super().__init__(text, line_start=not inline)
        self.discord = discord
        self.last_line_quoted = False
        self._handlers = {
            "\\": self._backslash,
            "`": self._backticks,
            "[": self._link,
            "<": self._angle,
            "@": self._mention,
            "#": self._channel,
            "h": self._url,
            "H": self._url,
            "\n": self._newline,
        }
        for ch in _USES:
            self._handlers[ch] = self._delims

    def parse(self) -> tuple[Node, ...]:
        return build_tree(self._scan(_PLAIN_RE, self._prefixes), reset_each_line=False)

    def _prev(self) -> str:
        return self.text[self.pos - 1] if self.pos else ""

    def _prev_read(self) -> str:
        """The character before the current position as read: a marker counts as none."""
        last = self.tokens[-1] if self.tokens else None
        if isinstance(last, Text):
            return last.text[-1:]
        if isinstance(last, Mention | ChannelRef):
            return last.name[-1:]
        if isinstance(last, MassMention):
            return last.word[-1:]
        return "`" if isinstance(last, Code | Fence) else ""

    def _prefixes(self) -> None:
        self.line_start = False
        quoted, self.last_line_quoted = self.last_line_quoted, False
        empty = _EMPTY_QUOTE_RE.match(self.text, self.pos)
        if empty is not None and (quoted or _QUOTE_FOLLOWS_RE.match(self.text, empty.end())):
            # an empty line inside a quote (``> a\n> \n> b``) stays quoted, as Discord shows it
            self.tokens.append(LinePrefix("quote"))
            self.pos = empty.end()
            self.last_line_quoted = True
            return
        m = _PREFIX_RE.match(self.text, self.pos)
        assert m is not None
        quote, head = m.groups()
        if quote:
            self.tokens.append(LinePrefix("quote_all" if quote == ">>> " else "quote"))
            self.last_line_quoted = quote == "> "
        if head:
            level = 0 if head == "-# " else len(head) - 1
            self.tokens.append(LinePrefix("subtext" if head == "-# " else "heading", level))
        self.pos = m.end()

    def _newline(self) -> bool:
        self.line_start = True
        return self._emit(NEWLINE, self.pos + 1)

    def _backslash(self) -> bool:
        nxt = self.text[self.pos + 1 : self.pos + 2]
        if nxt and nxt in _ASCII_PUNCT:
            return self._emit(Text(nxt), self.pos + 2)
        return False

    def _backticks(self) -> bool:
        text, start = self.text, self.pos
        end = start
        while end < len(text) and text[end] == "`":
            end += 1
        run = end - start
        if run >= 3:
            close = text.find("```", end)
            if close < 0:
                return self._emit(Text(text[start:end]), end)
            return self._emit(_fence(text[end:close]), close + 3)
        m = re.compile(r"(?<!`)" + "`" * run + r"(?!`)").search(text, end)
        if m is None or m.start() == end:
            return self._emit(Text(text[start:end]), end)
        return self._emit(Code(text[end : m.start()], run), m.end())

    def _delims(self) -> bool:
        text, start = self.text, self.pos
        ch = text[start]
        end = start
        while end < len(text) and text[end] == ch:
            end += 1
        if end - start not in _RUN_LENGTHS[ch]:
            return self._emit(Text(text[start:end]), end)
        can_open, can_close = core_flanking(self._prev(), text[end : end + 1], ch, end - start)
        if not (can_open or can_close):
            return self._emit(Text(text[start:end]), end)
        return self._emit(Delim(ch, end - start, can_open, can_close, _USES[ch]), end)

    def _link(self) -> bool:
        end = _label_end(self.text, self.pos)
        m = _LINK_TARGET_RE.match(self.text, end + 1) if end is not None else None
        if end is None or m is None:
            return False
        label = CoreLexer(self.text[self.pos + 1 : end], self.discord, inline=True).parse()
        return self._emit(Link(m.group(1), label, "masked"), m.end())

    def _angle(self) -> bool:
        m = _ANGLE_URL_RE.match(self.text, self.pos)
        if m is not None:
            return self._emit(Link(m.group(1), (Text(m.group(1)),), "angle"), m.end())
        if self.discord is None:
            return False
        m = _DISCORD_TAG_RE.match(self.text, self.pos)
        if m is None:
            return False
        return self._emit(_discord_tag(self.discord, *m.groups()), m.end())

    def _mention(self) -> bool:
        prev = self._prev_read()
        if _is_word(prev) or prev == "<":
            return False
        m = _MENTION_RE.match(self.text, self.pos)
        if m is None:
            return False
        if is_mass_mention(m.group(2)):
            return self._emit(MassMention(m.group(2).lower()), m.end())
        if m.group(1):
            return False
        return self._emit(Mention(m.group(2)), m.end())

    def _channel(self) -> bool:
        if _is_word(self._prev_read()) or self._prev_read() == "<":
            return False
        m = _CHANNEL_REF_RE.match(self.text, self.pos)
        if m is None:
            return False
        return self._emit(ChannelRef(m.group(1)), m.end())

    def _url(self) -> bool:
        last = self.tokens[-1] if self.tokens else None
        if isinstance(last, Text) and _is_word(last.text[-1:]):
            return False
        m = _URL_RE.match(self.text, self.pos)
        if m is None:
            return False
        url = trim_url(m.group(0), self.open_markers(reset_each_line=False))
        return self._emit(Link(url, (Text(url),), "bare"), self.pos + len(url))


def _label_end(text: str, start: int) -> int | None:
    """Index of the ``]`` that ends a link label opened by the ``[`` at ``start``, or None.

    The label stays on one line and holds no unescaped ``[``; it may hold whole code spans (Discord
    shows ``[`code` here](url)`` as a link around code), and a ``]`` inside one does not end it. A
    code span that would close beyond the line, or a fenced block, means no link: a link never
    reaches into code, nor code into a link's target.
    """
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] != "\n":
            i += 2
        elif ch == "`":
            run = i
            while run < n and text[run] == "`":
                run += 1
            ticks = run - i
            m = re.compile(r"(?<!`)" + "`" * ticks + r"(?!`)").search(text, run)
            if ticks >= 3 or (m is not None and "\n" in text[i : m.start()]):
                return None
            i = m.end() if m is not None and m.start() > run else run
        elif ch in "[\n":
            return None
        elif ch == "]":
            return i if i > start + 1 else None
        else:
            i += 1
    return None


def trim_url(url: str, open_markers: str = "") -> str:
    """Drop trailing punctuation that ends a sentence rather than the URL (keeps balanced ``)``).

    A trailing ``*``, ``_``, ``~`` or ``|`` belongs to the URL (``https://x.io/a_`` keeps its
    ``_``, as Discord's URL rule and Slack's link unfurling read it) unless it is in
    ``open_markers``: the marker characters whose last run before the URL could open emphasis,
    so ``*see https://x.io*`` still closes its italics.
    """
    while url:
        last = url[-1]
        if last in _SENTENCE_END or last in open_markers or (last == ")" and url.count("(") < url.count(")")):
            url = url[:-1]
        else:
            break
    return url


def _fence(inner: str) -> Fence:
    m = _FENCE_INFO_RE.match(inner)
    if m is None:
        return Fence("", inner, False)
    return Fence(m.group(1), inner[m.end() :], True)


def _discord_tag(res: DiscordResolvers, kind: str, ident: str, style: str | None) -> Node:
    if kind in ("@", "@!"):
        name = res.user_name(ident)
        if name and USERNAME_RE.fullmatch(name):
            return Mention(name)
        return Text("@" + (name or "unknown-user"))
    if kind == "@&":
        return Text("@" + (res.role_name(ident) or "unknown-role"))
    if kind == "#":
        channel = res.channel_name(ident)
        if channel and CHANNEL_RE.fullmatch(channel):
            return ChannelRef(channel)
        return Text("#" + (channel or "unknown-channel"))
    if kind == "t:":
        return Text(format_unix_time(int(ident), style or "f"))
    if kind.startswith("/"):
        return Text(kind[:-1])
    return Text(kind[kind.index(":") :])  # custom emoji <:name:id> / <a:name:id> -> :name:


def parse_core(text: str) -> tuple[Node, ...]:
    """Parse core markdown."""
    return CoreLexer(text).parse()


def parse_discord(text: str, resolvers: DiscordResolvers) -> tuple[Node, ...]:
    """Parse Discord markdown, resolving Discord tags to core names."""
    return CoreLexer(text, resolvers).parse()
