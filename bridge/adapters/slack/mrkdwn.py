"""Slack mrkdwn ⇄ core markdown, for the Slack adapter.

Inbound (:func:`to_core`): Slack sends ``&amp;``/``&lt;``/``&gt;`` escaped and wraps every control
sequence in ``<...>``. ``<@U1>`` becomes ``@username`` (resolved beforehand, see
:func:`mentioned_ids`), ``<#C1|name>`` ``#channel``, ``<!here>``/``<!channel>``/``<!everyone>`` the
plain words ``@here``/``@channel``/``@everyone``, ``<url|text>`` ``[text](url)``; ``*b*``, ``_i_`` and
``~s~`` become ``**b**``, ``*i*`` and ``~~s~~``; characters that would be markup in core markdown
are backslash-escaped, code stays code. Bidi override/isolate controls and C0 controls are removed.

Outbound (:func:`to_slack`): core markdown rendered for ``chat.postMessage``. ``&``, ``<`` and ``>``
are always escaped (so no ``<!channel>``, ``<@U…>`` or ``<#C…>`` typed by someone can become a
control sequence); the only real mentions emitted are those of the ``mentions`` map; ``@everyone``,
``@here`` and ``@channel`` get a U+200B after the ``@``; literal markup characters get a U+200B so
they stay literal.

:func:`split` cuts rendered text into parts of at most ``limit`` characters, never inside an entity or
a control sequence, preferring line breaks, and closing/reopening a code block cut in two.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

ZWSP = "\u200b"
_BIDI_AND_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}

# -- inbound ------------------------------------------------------------------------------------------
_SLACK_CODE = re.compile(r"```(.*?)```|`([^`\n]+)`", re.S)
_SLACK_INLINE = re.compile(
    r"<(?P<ctrl>[^<>\n]*)>"
    r"|(?<![\w*])\*(?P<b>[^\s*](?:[^*\n]*[^\s*])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<i>[^\s_](?:[^_\n]*[^\s_])?)_(?![\w_])"
    r"|(?<![\w~])~(?P<s>[^\s~](?:[^~\n]*[^\s~])?)~(?![\w~])"
)
_CORE_SPECIAL = re.compile(r"([\\*_~|`\[\]<])")
_USER_ID = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL_ID = re.compile(r"<#(C[A-Z0-9]+|G[A-Z0-9]+)(?:\|[^>]*)?>")
_MASS = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def clean(text: str) -> str:
    """Normalise line ends; drop C0 controls (but tab/newline) and bidi overrides/isolates."""
    return _BIDI_AND_CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def decode(text: str) -> str:
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def mentioned_ids(text: str) -> tuple[list[str], list[str]]:
    """User ids and channel ids referenced as ``<@U…>`` / ``<#C…>`` in Slack text, in order, unique."""
    users = list(dict.fromkeys(_USER_ID.findall(text)))
    channels = list(dict.fromkeys(_CHANNEL_ID.findall(text)))
    return users, channels


def to_core(text: str, *, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """Slack mrkdwn → core markdown; ``users``/``channels`` map Slack ids to core names."""
    out: list[str] = []
    pos = 0
    text = clean(text)
    for m in _SLACK_CODE.finditer(text):
        out.append(_inline_to_core(text[pos : m.start()], users, channels))
        if m.group(1) is not None:
            out.append("```" + _code_to_core(m.group(1)) + "```")
        else:
            out.append("`" + _code_to_core(m.group(2)) + "`")
        pos = m.end()
    out.append(_inline_to_core(text[pos:], users, channels))
    return "".join(out)


def _code_to_core(raw: str) -> str:
    unwrapped = re.sub(r"<((?:https?|mailto):[^<>|]*)(?:\|([^<>]*))?>", lambda m: m.group(2) or m.group(1), raw)
    return decode(unwrapped).replace("```", "`\u200b``")


def _plain_to_core(raw: str) -> str:
    return _CORE_SPECIAL.sub(r"\\\1", decode(raw))


def _inline_to_core(text: str, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    out: list[str] = []
    pos = 0
    for m in _SLACK_INLINE.finditer(text):
        out.append(_plain_to_core(text[pos : m.start()]))
        if m.group("ctrl") is not None:
            out.append(_control_to_core(m.group("ctrl"), users, channels))
        elif m.group("b") is not None:
            out.append("**" + _inline_to_core(m.group("b"), users, channels) + "**")
        elif m.group("i") is not None:
            out.append("*" + _inline_to_core(m.group("i"), users, channels) + "*")
        else:
            out.append("~~" + _inline_to_core(m.group("s"), users, channels) + "~~")
        pos = m.end()
    out.append(_plain_to_core(text[pos:]))
    return "".join(out)


def _control_to_core(body: str, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    target, _, label = body.partition("|")
    label = decode(label)
    if target.startswith("@"):
        name = users.get(target[1:])
        if name:
            return "@" + name
        return _plain_to_core("@" + (label.lstrip("@") or "unknown-user"))
    if target.startswith("#"):
        name = channels.get(target[1:]) or label or "unknown-channel"
        return "#" + name if re.fullmatch(r"[\w-]+", name) else _plain_to_core("#" + name)
    if target.startswith("!"):
        word = target[1:].split("^", 1)[0]
        if word in _MASS:
            return _MASS[word]
        # user groups (<!subteam^S1|@team>), dates (<!date^…|fallback>): their text, never a mention
        return _plain_to_core(label.lstrip("@") or word)
    url = decode(target)
    if re.match(r"(https?|mailto):", url):
        if not label or label == url or (url.startswith("mailto:") and label == url[7:]):
            return url[7:] if url.startswith("mailto:") else f"<{url}>"
        return "[" + _plain_to_core(label) + "](" + url.replace(")", "%29") + ")"
    return _plain_to_core(label or url)


# -- outbound -----------------------------------------------------------------------------------------
_CORE_FENCE = re.compile(r"```(?:([\w+#.\-]*)\n)?(.*?)```", re.S)
_CORE_INLINE = re.compile(
    r"(?P<code>`+)(?P<codetext>.+?)(?P=code)"
    r"|\\(?P<esc>[!-/:-@\[-`{-~])"
    r"|\[(?P<label>(?:\\.|[^\\\[\]\n])+)\]\(<?(?P<url>(?:https?://|mailto:)[^\s<>()]+)>?\)"
    r"|<(?P<aurl>https?://[^\s<>]+)>"
    r"|(?<![\w@])@(?P<zw>\u200b*)(?P<mention>[A-Za-z0-9][\w.\-]*(?<![.\-]))"
    r"|\*\*(?P<bold>(?=\S).+?(?<=\S))\*\*"
    r"|__(?P<under>(?=\S).+?(?<=\S))__"
    r"|~~(?P<strike>(?=\S).+?(?<=\S))~~"
    r"|\|\|(?P<spoiler>.+?)\|\|"
    r"|\*(?P<it1>(?=[^\s*])[^*\n]+?(?<=[^\s*]))\*"
    r"|(?<!\w)_(?P<it2>(?=[^\s_])[^_\n]+?(?<=[^\s_]))_(?!\w)"
)
_QUOTE = re.compile(r"(>>> |> )")
_SLACK_MARKER = re.compile(r"[*_~`]")
_MASS_OUT = re.compile(r"@(?=(?:everyone|here|channel)(?![\w-]))", re.I)


def escape(text: str) -> str:
    """Slack's escaping: the three characters that could start markup or a control sequence."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain_to_slack(text: str) -> str:
    """Literal text: escaped, mass mentions neutralised, markup characters kept literal with U+200B."""
    return _SLACK_MARKER.sub(_keep_literal, _MASS_OUT.sub("@" + ZWSP, escape(text)))


def _keep_literal(m: re.Match[str]) -> str:
    """A marker between two word characters cannot open or close a style in Slack; others might."""
    text, i = m.string, m.start()
    if 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum():
        return m.group()
    return ZWSP + m.group() + ZWSP


def to_slack(text: str, *, mentions: Mapping[str, str] | None = None) -> str:
    """Core markdown → Slack mrkdwn; ``mentions`` maps core usernames to Slack user ids."""
    mentions = mentions or {}
    out: list[str] = []
    pos = 0
    text = clean(text)
    for m in _CORE_FENCE.finditer(text):
        out.append(_lines_to_slack(text[pos : m.start()], mentions))
        out.append("```" + escape(m.group(2).strip("\n")) + "```")
        pos = m.end()
    out.append(_lines_to_slack(text[pos:], mentions))
    return "".join(out)


def _lines_to_slack(text: str, mentions: Mapping[str, str]) -> str:
    lines = []
    for line in text.split("\n"):
        prefix = ""
        m = _QUOTE.match(line)
        if m:
            prefix, line = ">" + (">>" if m.group(1) == ">>> " else "") + " ", line[m.end() :]
        lines.append(prefix + _inline_to_slack(line, mentions))
    return "\n".join(lines)


def _inline_to_slack(text: str, mentions: Mapping[str, str]) -> str:
    out: list[str] = []
    pos = 0
    for m in _CORE_INLINE.finditer(text):
        out.append(_plain_to_slack(text[pos : m.start()]))
        out.append(_token_to_slack(m, mentions))
        pos = m.end()
    out.append(_plain_to_slack(text[pos:]))
    return "".join(out)


def _token_to_slack(m: re.Match[str], mentions: Mapping[str, str]) -> str:
    g = m.groupdict()
    if g["code"] is not None:
        return "`" + escape(g["codetext"].replace("`", "\u02cb")) + "`"
    if g["esc"] is not None:
        return _plain_to_slack(g["esc"])
    if g["url"] is not None:
        label = re.sub(r"\\(.)", r"\1", g["label"])
        url = escape(g["url"]).replace("|", "%7C")
        return f"<{url}|{_plain_to_slack(label).replace('|', '¦')}>"
    if g["aurl"] is not None:
        return "<" + escape(g["aurl"]).replace("|", "%7C") + ">"
    if g["mention"] is not None:
        name = g["mention"]
        uid = mentions.get(name) or mentions.get(name.lower())
        if uid and not g["zw"] and re.fullmatch(r"[UW][A-Z0-9]+", uid):
            return f"<@{uid}>"
        return _plain_to_slack("@" + g["zw"] + name)
    for group, marker in (("bold", "*"), ("strike", "~"), ("it1", "_"), ("it2", "_")):
        if g[group] is not None:
            return marker + _inline_to_slack(g[group], mentions) + marker
    if g["under"] is not None:
        return _inline_to_slack(g["under"], mentions)
    return _plain_to_slack("||") + _inline_to_slack(g["spoiler"], mentions) + _plain_to_slack("||")


# -- splitting ----------------------------------------------------------------------------------------
def _safe_cut(text: str, limit: int) -> int:
    window = text[:limit]
    cut = window.rfind("\n")
    if cut < limit // 2:
        cut = window.rfind(" ")
    if cut < limit // 2:
        cut = limit
    lt, gt = text.rfind("<", 0, cut), text.rfind(">", 0, cut)
    if lt > gt and lt > 0:
        cut = lt
    amp = text.rfind("&", max(0, cut - 5), cut)
    if amp >= 0 and ";" not in text[amp:cut] and _ENTITY.match(text, amp):
        cut = amp if amp > 0 else cut
    while 0 < cut < len(text) and (text[cut] in "\u200b\u200c\u200d\ufe0f" or 0xDC00 <= ord(text[cut]) <= 0xDFFF):
        cut -= 1
    return max(cut, 1)


def split(text: str, limit: int) -> list[str]:
    """Cut rendered mrkdwn into parts of at most ``limit`` characters (see module docstring)."""
    if limit < 16:
        raise ValueError("limit too small")
    parts: list[str] = []
    while len(text) > limit:
        cut = _safe_cut(text, limit - 3)
        head, text = text[:cut], text[cut:]
        if head.count("```") % 2:
            head += "```"
            text = "```" + text
        head = head.rstrip("\n ")
        text = text.lstrip("\n ") if not text.startswith("```") else text
        if head:
            parts.append(head)
    if text.strip() or not parts:
        parts.append(text)
    return parts
