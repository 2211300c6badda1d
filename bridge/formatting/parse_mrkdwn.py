"""Lexer for Slack mrkdwn as it arrives in message events.

Rules:

* ``&amp;``, ``&lt;``, ``&gt;`` are decoded once; Slack has no backslash escapes (a backslash is
  literal). A raw ``<`` always starts a control sequence.
* ``*bold*``, ``_italic_``, ``~strike~``: a single marker, opening after the start of the text, a
  space or opening punctuation and before a non-space, closing after a non-space and before the
  end, a space or closing punctuation (:func:`slack_flanking`); never across a line break. So
  ``snake_case_name``, ``2*3*4`` and the ``/shrug`` arms ``¯\\_(ツ)_/¯`` stay literal.
  Doubled markers (``**x**``) are literal.
* `` `code` `` stays on one line; ```` ```block``` ```` may span lines and sit inside a line. Code is
  opaque: entities are decoded, the ``<url>``/``<url|label>`` wrappers Slack adds around links are
  unwrapped (to the label when there is one), nothing else is touched.
* ``&gt;`` (or ``>``) at a line start quotes the line, ``&gt;&gt;&gt;`` the rest of the message; a
  ``&gt;`` line with nothing else is a quoted empty line next to other quoted lines.
* ``<@U1>``/``<@U1|label>``: a mention when ``user_name`` resolves it, else the literal text
  ``@label`` (``@unknown-user`` without a label). ``<#C1|name>`` likewise with ``channel_name`` and
  ``#name``. ``<!here>``, ``<!channel>``, ``<!everyone>``: the reserved plain words.
  ``<!subteam^S1|@team>``: the literal text ``@team``. ``<!date^ts^format|fallback>``: the fallback,
  else the UTC time. ``<url|label>``, ``<url>`` and ``<mailto:...|label>``: links.
* A plain ``@name`` typed without Slack's autocomplete is kept as a core mention: that is how a
  Slack user reaches someone who is only on Discord.
* ``:name:`` (and ``:name::skin-tone-N:``) of a standard emoji becomes the Unicode emoji
  (``bridge.formatting.emoji``); a custom emoji's ``:name:`` stays text.
* A U+200B right before a marker stops it opening, right after stops it closing, before a
  line-start ``&gt;`` stops the quote, right after a colon stops a shortcode; those U+200B are then
  dropped. That is what
  ``core_to_slack`` writes to keep literal characters literal, so text round-trips.
"""

from __future__ import annotations

import re

from bridge.formatting.emoji import match_shortcode
from bridge.formatting.parse_markdown import (
    CHANNEL_RE,
    USERNAME_RE,
    Resolver,
    format_unix_time,
    trim_url,
)
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
    Style,
    Text,
    Use,
    build_tree,
)

_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}
_ENTITY_RE = re.compile(r"&(?:amp|lt|gt);")
_GUARD_RE = re.compile(
    ZWSP + r"(?=[*_~`])|(?<=[*_~`])" + ZWSP + "|(?m:^)" + ZWSP + r"(?=>)|(?<=:)" + ZWSP + r"(?=[a-z0-9_+'\-]+:)"
)
_PLAIN_RE = re.compile(r"[^&<`*_~@:\nhH]+")
_TAG_RE = re.compile(r"<([^<>\n]*)>")
_CODE_LINK_RE = re.compile(r"<((?:https?://|mailto:)[^<>|\n]*)(?:\|([^<>\n]*))?>")
_QUOTE_RE = re.compile(r"(?:((?:&gt;|>){3}) ?|(?:&gt;|>) ?)(?=[^\S\n]*\S)")
_EMPTY_QUOTE_RE = re.compile(r"(?:&gt;|>)[^\S\n]*(?=\n|$)")
_QUOTE_FOLLOWS_RE = re.compile(r"(?:\n(?:&gt;|>)[^\S\n]*(?=\n))*\n(?:&gt;|>) ?[^\S\n]*\S")
_URL_RE = re.compile(r"(?:https?|HTTPS?)://(?:(?!&[lg]t;)[^\s<>|\\`])+")
_SCHEME_RE = re.compile(r"(?:https?|ftp|mailto|tel|slack):", re.IGNORECASE)
_MENTION_RE = re.compile(r"@(" + ZWSP + r"*)(" + USERNAME_RE.pattern + ")")
_USES: dict[str, tuple[Use, ...]] = {
    "*": ((1, "bold", "**"),),
    "_": ((1, "italic", "*"),),
    "~": ((1, "strike", "~~"),),
}


_OPEN_AFTER = frozenset("([{'\"‘“*_~:")
_CLOSE_BEFORE = frozenset(".,;:!?)]}'\"’”-=*_~")


def slack_flanking(prev: str, nxt: str) -> tuple[bool, bool]:
    """(can_open, can_close) for a Slack ``*``, ``_`` or ``~`` between ``prev`` and ``nxt`` ('' at
    the text edges), as Slack reads them.

    A marker opens before a non-space, after the start, a space or opening punctuation; it closes
    after a non-space, before the end, a space or closing punctuation. Any other neighbour keeps
    it literal, which is why Slack's own ``/shrug`` text ``¯\\_(ツ)_/¯`` shows its arms: a ``_``
    after ``\\`` cannot open, nor one before ``/`` close. The sets follow the boundaries of
    pocka/slack-message-parser (``explicit``: only whitespace before an opener; closers followed
    by whitespace or ``.,])}!?-=``), widened to opening and closing brackets and quotes and to the
    other markers (``*_nested_*``).
    """
    can_open = bool(nxt) and not nxt.isspace() and (not prev or prev.isspace() or prev in _OPEN_AFTER)
    can_close = bool(prev) and not prev.isspace() and (not nxt or nxt.isspace() or nxt in _CLOSE_BEFORE)
    return can_open, can_close


def decode_entities(text: str) -> str:
    """Decode Slack's three HTML entities (once: ``&amp;lt;`` becomes ``&lt;``)."""
    return _ENTITY_RE.sub(lambda m: _ENTITIES[m.group(0)], text)


def _code_text(raw: str) -> str:
    raw = _CODE_LINK_RE.sub(lambda m: m.group(2) if m.group(2) is not None else m.group(1), raw)
    return decode_entities(raw)


class SlackLexer(Lexer):
    """Turns Slack mrkdwn into the shared syntax tree, resolving ids through the resolvers."""

    def __init__(self, text: str, *, user_name: Resolver, channel_name: Resolver):
        super().__init__(text, line_start=True)
        self.last_line_quoted = False
        self.user_name = user_name
        self.channel_name = channel_name
        self._handlers = {
            "&": self._entity,
            "<": self._tag,
            "`": self._backticks,
            "@": self._mention,
            "h": self._url,
            "H": self._url,
            "\n": self._newline,
            ":": self._emoji,
        }
        for ch in _USES:
            self._handlers[ch] = self._delim

    def parse(self) -> tuple[Node, ...]:
        return _drop_guards(build_tree(self._scan(_PLAIN_RE, self._quote), reset_each_line=True))

    def _prev(self) -> str:
        """The character before the current position as read (a marker or tag counts as none)."""
        last = self.tokens[-1] if self.tokens else None
        if isinstance(last, Text):
            return last.text[-1:]
        if isinstance(last, Mention | ChannelRef):
            return last.name[-1:]
        return last.word[-1:] if isinstance(last, MassMention) else ""

    def _quote(self) -> None:
        self.line_start = False
        quoted, self.last_line_quoted = self.last_line_quoted, False
        empty = _EMPTY_QUOTE_RE.match(self.text, self.pos)
        if empty is not None and (quoted or _QUOTE_FOLLOWS_RE.match(self.text, empty.end())):
            # an empty line inside a quote (``&gt; a\n&gt;\n&gt; b``) stays quoted
            self._emit(LinePrefix("quote"), empty.end())
            self.last_line_quoted = True
            return
        m = _QUOTE_RE.match(self.text, self.pos)
        if m is not None:
            self._emit(LinePrefix("quote_all" if m.group(1) else "quote"), m.end())
            self.last_line_quoted = not m.group(1)

    def _newline(self) -> bool:
        self.line_start = True
        return self._emit(NEWLINE, self.pos + 1)

    def _entity(self) -> bool:
        m = _ENTITY_RE.match(self.text, self.pos)
        return m is not None and self._emit(Text(_ENTITIES[m.group(0)]), m.end())

    def _delim(self) -> bool:
        text, start = self.text, self.pos
        ch = text[start]
        end = start
        while end < len(text) and text[end] == ch:
            end += 1
        if end - start > 1:
            return self._emit(Text(text[start:end]), end)
        # U+200B before a marker (written by core_to_slack) stops it opening, after it stops it closing
        guard_open = self._prev() == ZWSP
        guard_close = text.startswith(ZWSP, end)
        before = start
        while before and text[before - 1] == ZWSP:
            before -= 1
        after = end
        while text.startswith(ZWSP, after):
            after += 1
        prev = decode_entities(text[max(0, before - 5) : before])[-1:]
        if self.tokens and isinstance(self.tokens[-1], LinePrefix):
            prev = ""
        nxt = decode_entities(text[after : after + 5])[:1]
        can_open, can_close = slack_flanking(prev, nxt)
        can_open, can_close = can_open and not guard_open, can_close and not guard_close
        if not (can_open or can_close):
            return self._emit(Text(ch), end)
        return self._emit(Delim(ch, 1, can_open, can_close, _USES[ch]), end)

    def _emoji(self) -> bool:
        found = match_shortcode(self.text, self.pos)
        return found is not None and self._emit(Text(found[0]), found[1])

    def _backticks(self) -> bool:
        text, start = self.text, self.pos
        if text.startswith("```", start):
            close = text.find("```", start + 3)
            if close < 0:
                return self._emit(Text("```"), start + 3)
            return self._emit(Fence("", _code_text(text[start + 3 : close]), False), close + 3)
        close = text.find("`", start + 1)
        newline = text.find("\n", start + 1)
        if close <= start + 1 or (0 <= newline < close):
            return self._emit(Text("`"), start + 1)
        return self._emit(Code(_code_text(text[start + 1 : close])), close + 1)

    def _mention(self) -> bool:
        prev = self._prev()
        if prev.isalnum() or prev in ("_", "<"):
            return False
        m = _MENTION_RE.match(self.text, self.pos)
        if m is None:
            return False
        if is_mass_mention(m.group(2)):
            return self._emit(MassMention(m.group(2).lower()), m.end())
        return not m.group(1) and self._emit(Mention(m.group(2)), m.end())

    def _url(self) -> bool:
        last = self.tokens[-1] if self.tokens else None
        prev = last.text[-1:] if isinstance(last, Text) else ""
        if prev.isalnum() or prev == "_":
            return False
        m = _URL_RE.match(self.text, self.pos)
        if m is None:
            return False
        url = trim_url(m.group(0), self.open_markers(reset_each_line=True))
        return self._emit(Link(decode_entities(url), (Text(decode_entities(url)),), "bare"), self.pos + len(url))

    def _tag(self) -> bool:
        m = _TAG_RE.match(self.text, self.pos)
        if m is None:
            return False
        target, _, label = m.group(1).partition("|")
        return self._emit(self._tag_node(target, decode_entities(label)), m.end())

    def _tag_node(self, target: str, label: str) -> Node:
        sigil, ident = target[:1], target[1:]
        if sigil == "@":
            name = self.user_name(ident)
            if name and USERNAME_RE.fullmatch(name):
                return Mention(name)
            return Text("@" + (name or label.lstrip("@") or "unknown-user"))
        if sigil == "#":
            channel = self.channel_name(ident)
            if channel and CHANNEL_RE.fullmatch(channel):
                return ChannelRef(channel)
            return Text("#" + (channel or label.lstrip("#") or "unknown-channel"))
        if sigil == "!":
            return _special(ident, label)
        url = decode_entities(target)
        if not _SCHEME_RE.match(url):
            return Text(label or url)
        if not label or label == url or "mailto:" + label == url:
            return Link(url, (Text(label or url),), "bare" if not label or label == url else "masked")
        return Link(url, (Text(label),), "masked")


def _drop_guards(nodes: tuple[Node, ...]) -> tuple[Node, ...]:
    out: list[Node] = []
    for node in nodes:
        if isinstance(node, Text):
            node = Text(_GUARD_RE.sub("", node.text))
        elif isinstance(node, Style):
            node = Style(node.kind, node.marker, _drop_guards(node.children))
        out.append(node)
    return tuple(out)


def _special(ident: str, label: str) -> Node:
    word, _, rest = ident.partition("^")
    if is_mass_mention(word):
        return MassMention(word.lower())
    if word == "subteam":
        return Text("@" + (label.lstrip("@") or "unknown-group"))
    if word == "date":
        if label:
            return Text(label)
        stamp = rest.partition("^")[0]
        return Text(format_unix_time(int(stamp)) if stamp.lstrip("-").isdigit() else stamp)
    return Text(label or word)


def parse_slack(text: str, *, user_name: Resolver, channel_name: Resolver) -> tuple[Node, ...]:
    """Parse Slack mrkdwn."""
    return SlackLexer(text, user_name=user_name, channel_name=channel_name).parse()
