"""Renderer from the shared syntax tree to Slack mrkdwn.

Rules:

* ``&``, ``<``, ``>`` in text, code and link labels are always sent as ``&amp;``, ``&lt;``, ``&gt;``,
  so no relayed text can form a control sequence: ``<!channel>`` or ``<@U1>`` typed on Discord
  arrives as visible text. URLs get ``&amp;`` and percent-encoded ``<``, ``>``, ``|``.
* ``**bold**`` -> ``*bold*``, italic -> ``_x_``, ``~~strike~~`` -> ``~x~``, underline -> plain (Slack
  has no underline), ``||spoiler||`` stays ``||spoiler||`` (Slack has no spoilers; the bars stay
  visible), a ``# `` heading line -> a bold line, ``-#`` subtext -> a plain line. Emphasis spanning
  lines is closed and reopened on each line (Slack markers never span a line break), with spaces
  at its edges moved outside. Emphasis inside a word gets U+200B around its markers (best effort:
  Slack only formats at word boundaries).
* A literal ``*``, ``_`` or ``~`` that Slack could read as a marker gets U+200B on its outer side;
  a line-start literal ``>`` gets U+200B before it. ``slack_to_core`` drops exactly these, so plain
  text round-trips. Slack has no escape for backticks: two literal backticks on one line show as
  code there.
* Code spans and blocks: content is opaque (only the three entities are escaped); the language of a
  fenced block is dropped (Slack cannot show it).
* ``[label](url)`` -> ``<url|label>`` with the label flattened to plain text; bare URLs -> ``<url>``.
* ``@name`` -> ``<@U…>`` when ``mention(name)`` returns an id, else plain ``@name`` (never parsed as a
  mention as long as the message is posted without ``link_names``); ``#name`` -> ``<#C…>`` likewise.
  Mass mentions get U+200B after ``@``.
* Standard emoji -> the shortcode Slack uses (``👋🏼`` -> ``:wave::skin-tone-3:``, see
  ``bridge.formatting.emoji``); a literal ``:name:`` of a standard emoji gets U+200B after its
  first colon; a custom ``:name:`` passes, so Slack shows the workspace's emoji of that name.
* ``> `` -> ``&gt; ``; ``>>> `` quotes every remaining line with ``&gt; ``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bridge.formatting.emoji import emoji_spans, is_shortcode_at
from bridge.formatting.parse_mrkdwn import slack_flanking
from bridge.formatting.render_markdown import Renderer
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
    merge_text,
    plain_text,
)

_SLACK_ID_RE = re.compile(r"[A-Z0-9]+")
_MARKERS = {"bold": "*", "italic": "_", "strike": "~", "underline": "", "spoiler": "||"}
_QUOTE = "&gt; "


def escape_entities(text: str) -> str:
    """Escape the three characters Slack reserves."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_url(url: str) -> str:
    """Make a URL safe inside ``<...>``."""
    return url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


class SlackRenderer(Renderer):
    """Tree -> Slack mrkdwn. ``mention``/``channel`` map core names to Slack ids (or None)."""

    quote_pieces = frozenset({_QUOTE})

    def __init__(self, mention: Callable[[str], str | None], channel: Callable[[str], str | None]):
        super().__init__()
        self.resolve_user = mention
        self.resolve_channel = channel
        self.quote_rest = False

    def escape(self, text: str, prev: str, nxt: str, line_start: bool) -> str:
        # standard emoji become the shortcodes Slack uses; neighbours are read on that text
        spans = {start: (end, code) for start, end, code in emoji_spans(text)}
        pieces: list[str] = []
        verbatim: list[bool] = []
        i = 0
        while i < len(text):
            if i in spans:
                end, code = spans[i]
                pieces.extend(code)
                verbatim.extend([True] * len(code))
                i = end
            else:
                pieces.append(text[i])
                verbatim.append(False)
                i += 1
        slack = "".join(pieces)
        out: list[str] = []
        for i, ch in enumerate(slack):
            p = slack[i - 1] if i else prev
            n = slack[i + 1] if i + 1 < len(slack) else nxt
            if verbatim[i]:
                out.append(ch)
            elif ch in "*_~":
                can_open, can_close = slack_flanking(p, n)
                out.append(ZWSP * can_open + ch + ZWSP * can_close)
            elif ch == ">" and (line_start if i == 0 else p == "\n"):
                out.append(ZWSP + "&gt;")
            elif ch == "\n" and self.quote_rest:
                out.append("\n" + _QUOTE)
            elif ch == ":" and is_shortcode_at(slack, i):
                out.append(":" + ZWSP)  # a literal ``:smile:`` stays text
            else:
                out.append(escape_entities(ch))
        return neutralise_mass_mentions("".join(out))

    def render(self, nodes: tuple[Node, ...]) -> str:
        return super().render(_headings_as_bold(nodes))

    def style_marker(self, node: Style) -> str:
        return _MARKERS[node.kind]

    def first_char(self, node: Node) -> str:
        if isinstance(node, Link | Mention | ChannelRef):
            return "<"
        if isinstance(node, Text) and any(start == 0 for start, _, _ in emoji_spans(node.text[:16])):
            return ":"
        if isinstance(node, LinePrefix):
            return "&"
        return super().first_char(node)

    def style(self, node: Style) -> None:
        marker, nxt = self.style_marker(node), self.nxt
        body = self.sub(node.children, marker, marker)
        if marker in ("*", "_", "~") and "\n" not in body and body.strip():
            # Slack markers need a non-space inside: edge spaces go outside (``~~ a ~~`` -> `` ~a~ ``)
            core = body.strip()
            lead, trail = body[: len(body) - len(body.lstrip())], body[len(body.rstrip()) :]
            glued = (not lead and self.last_char().isalnum()) or (not trail and nxt.isalnum())
            guard = ZWSP if glued else ""
            self.out.append(lead + guard + marker + core + marker + guard + trail)
        elif marker:
            self.out.append("\n".join(_wrap_line(line, marker) for line in body.split("\n")))
        else:
            self.out.append(marker + body + marker)

    def code(self, node: Code) -> None:
        ticks = "```" if "`" in node.text or "\n" in node.text else "`"
        self.out.append(ticks + escape_entities(node.text) + ticks)

    def fence(self, node: Fence) -> None:
        self.out.append("```" + escape_entities(node.body) + "```")

    def link(self, node: Link) -> None:
        label = neutralise_mass_mentions(escape_entities(plain_text(node.children)))
        if node.form == "masked" and label and label != escape_entities(node.url):
            self.out.append(f"<{slack_url(node.url)}|{label}>")
        else:
            self.out.append(f"<{slack_url(node.url)}>")

    def mention(self, node: Mention) -> None:
        user_id = self.resolve_user(node.name.lower())
        ok = user_id is not None and _SLACK_ID_RE.fullmatch(user_id)
        self.out.append(f"<@{user_id}>" if ok else "@" + node.name)

    def channel(self, node: ChannelRef) -> None:
        channel_id = self.resolve_channel(node.name.lower())
        ok = channel_id is not None and _SLACK_ID_RE.fullmatch(channel_id)
        self.out.append(f"<#{channel_id}>" if ok else "#" + node.name)

    def mass(self, node: MassMention) -> None:
        self.out.append("@" + ZWSP + node.word)

    def prefix(self, node: LinePrefix) -> None:
        if node.kind in ("quote", "quote_all"):
            self.out.append(_QUOTE)
            self.quote_rest = self.quote_rest or node.kind == "quote_all"


def _wrap_line(line: str, marker: str) -> str:
    quote = _QUOTE if line.startswith(_QUOTE) else ""
    core = line[len(quote) :]
    stripped = core.strip()
    if not stripped:
        return line
    lead = core[: len(core) - len(core.lstrip())]
    trail = core[len(core.rstrip()) :]
    return quote + lead + marker + stripped + marker + trail


def _unbold(nodes: list[Node]) -> list[Node]:
    out: list[Node] = []
    for node in nodes:
        out.extend(node.children if isinstance(node, Style) and node.kind == "bold" else (node,))
    return out


def _headings_as_bold(nodes: tuple[Node, ...]) -> tuple[Node, ...]:
    """Slack has no headings: the rest of a ``# `` line becomes bold (bold inside it is dropped)."""
    out: list[Node] = []
    heading: list[Node] | None = None
    for node in nodes:
        if isinstance(node, LinePrefix) and node.kind == "heading":
            heading = []
            continue
        if heading is not None and isinstance(node, Text) and "\n" in node.text:
            line, rest = node.text.split("\n", 1)
            out.append(Style("bold", "**", merge_text(_unbold([*heading, Text(line)]))))
            out.append(Text("\n" + rest))
            heading = None
        elif heading is not None:
            heading.append(node)
        else:
            out.append(node)
    if heading:
        out.append(Style("bold", "**", merge_text(_unbold(heading))))
    return merge_text(out)
