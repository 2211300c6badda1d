"""Emoji names between Slack shortcodes, Unicode (Discord, the core) and custom emoji.

Pure: no I/O. Built on the ``emoji`` package (its CLDR names and GitHub-style aliases, version
pinned in requirements.lock) plus the names Slack uses where they differ (``SLACK_NAMES``: Slack
names standard emoji after iamcal/emoji-data's ``short_name``, so 👍 is ``+1`` where the package's
first alias is ``thumbsup``). The same mapping serves reactions and message text.

Forms:

* **core**: a standard emoji is its fully-qualified Unicode sequence (``👋🏼``); a custom emoji of
  either platform is ``:name:``. Reactions are counted under this key.
* **Slack**: a name without colons; a skin tone is written ``wave::skin-tone-3`` in reaction
  names and ``:wave::skin-tone-3:`` in text (two tones: ``skin-tone-2-6``). A name that is no
  standard emoji is a workspace's custom emoji (``emoji.list``).
* **Discord**: a standard emoji is the Unicode character (reaction ``emoji.name``, id null); a
  custom one is ``<:name:id>`` / ``<a:name:id>`` in text and ``name:id`` in reaction routes.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from dataclasses import dataclass
from functools import cache

import emoji as emoji_lib

_FE0F = "\ufe0f"
_ZWJ = "\u200d"
TONES = ("\U0001f3fb", "\U0001f3fc", "\U0001f3fd", "\U0001f3fe", "\U0001f3ff")
"""Fitzpatrick modifiers; Slack calls them ``skin-tone-2`` … ``skin-tone-6``."""
_FULLY_QUALIFIED = emoji_lib.STATUS["fully_qualified"]

SLACK_NAMES: dict[str, str] = {
    "👍": "+1",
    "👎": "-1",
    "🤔": "thinking_face",
    "😆": "laughing",
    "🤦": "face_palm",
    "🤩": "star-struck",
    "🙄": "face_with_rolling_eyes",
    "💩": "hankey",
    "📝": "memo",
    "🤞": "crossed_fingers",
    "🤪": "zany_face",
    "🤯": "exploding_head",
    "🤬": "face_with_symbols_on_mouth",
    "🤭": "face_with_hand_over_mouth",
    "🤫": "shushing_face",
    "🤨": "face_with_raised_eyebrow",
    "🧐": "face_with_monocle",
    "🤣": "rolling_on_the_floor_laughing",
    "🤘": "the_horns",
    "🖖": "spock-hand",
    "🖕": "middle_finger",
    "🤗": "hugging_face",
    "🤖": "robot_face",
    "🙂": "slightly_smiling_face",
    "🐞": "ladybug",
    "🪲": "beetle",
}
"""Standard emoji whose Slack name is not the ``emoji`` package's first alias (Slack's names)."""
_SLACK_CHARS = {name: char for char, name in SLACK_NAMES.items()}

_SHORTCODE_RE = re.compile(r":([a-z0-9_+'\-]+):(?::(skin-tone-[2-6](?:-[2-6])?):)?")
"""A Slack shortcode in text, with an optional skin tone."""
_NAME_RE = re.compile(r"([a-z0-9_+'\-]+)(?:::(skin-tone-[2-6](?:-[2-6])?))?")
"""A Slack reaction name, with an optional skin tone."""
_DISCORD_CUSTOM_RE = re.compile(r"<?(a)?:?([A-Za-z0-9_~]{1,32}):(\d{1,20})>?")


@dataclass(frozen=True, slots=True)
class DiscordCustom:
    """A Discord custom emoji."""

    name: str
    id: str
    animated: bool = False

    @property
    def route(self) -> str:
        """The form reaction routes take (``name:id``)."""
        return f"{self.name}:{self.id}"

    @property
    def image_url(self) -> str:
        """Discord's CDN image of the emoji (docs: reference.mdx, Image Formatting)."""
        return f"https://cdn.discordapp.com/emojis/{self.id}.{'gif' if self.animated else 'png'}"


def parse_discord_custom(text: str) -> DiscordCustom | None:
    """``<:name:id>``, ``<a:name:id>``, ``name:id`` or ``a:name:id`` -> the custom emoji, else None."""
    m = _DISCORD_CUSTOM_RE.fullmatch(text)
    if m is None or (text.startswith("<") != text.endswith(">")):
        return None
    return DiscordCustom(m.group(2), m.group(3), bool(m.group(1)))


def normalize(char: str) -> str | None:
    """The fully-qualified form of a standard emoji (``❤`` -> ``❤️``), or None if it is none."""
    for candidate in (char, char.replace(_FE0F, ""), char + _FE0F):
        data = emoji_lib.EMOJI_DATA.get(candidate)
        if data is not None and data["status"] == _FULLY_QUALIFIED:
            return candidate
    return _qualified().get(char.replace(_FE0F, ""))


@cache
def _qualified() -> dict[str, str]:
    """Fully-qualified emoji by their form without U+FE0F."""
    return {
        char.replace(_FE0F, ""): char
        for char, data in emoji_lib.EMOJI_DATA.items()
        if data["status"] == _FULLY_QUALIFIED
    }


@cache
def _toned() -> dict[tuple[str, tuple[int, ...]], str]:
    """(emoji without skin tones, tone numbers 2-6) -> the toned emoji, for every toned emoji."""
    out: dict[tuple[str, tuple[int, ...]], str] = {}
    for char, data in emoji_lib.EMOJI_DATA.items():
        if data["status"] != _FULLY_QUALIFIED or not any(t in char for t in TONES):
            continue
        tones = tuple(TONES.index(ch) + 2 for ch in char if ch in TONES)
        base = normalize("".join(ch for ch in char if ch not in TONES))
        if base is not None:
            out.setdefault((base, tones), char)
    return out


def _split_tones(char: str) -> tuple[str, tuple[int, ...]]:
    tones = tuple(TONES.index(ch) + 2 for ch in char if ch in TONES)
    base = "".join(ch for ch in char if ch not in TONES)
    return (normalize(base) or base), tones


_FLAG_A = 0x1F1E6
_SHORT_FLAGS = frozenset({"cn", "de", "es", "fr", "gb", "it", "jp", "kr", "ru", "us"})
"""Country flags Slack names by the bare code (``:us:``); the others are ``flag-xx``."""


def _flag_name(base: str) -> str | None:
    if len(base) != 2 or not all(_FLAG_A <= ord(ch) <= _FLAG_A + 25 for ch in base):
        return None
    code = "".join(chr(ord(ch) - _FLAG_A + ord("a")) for ch in base)
    return code if code in _SHORT_FLAGS else f"flag-{code}"


def _flag_char(name: str) -> str | None:
    code = name.removeprefix("flag-")
    if len(code) != 2 or not code.isascii() or not code.isalpha() or (code == name and code not in _SHORT_FLAGS):
        return None
    return normalize("".join(chr(_FLAG_A + ord(ch) - ord("a")) for ch in code))


def _base_name(base: str) -> tuple[str, bool] | None:
    """Slack's name for an emoji without skin tones, and whether it is sure (Slack's own names and
    the GitHub-style aliases are; a CLDR name is Slack's only for some emoji)."""
    if base in SLACK_NAMES:
        return SLACK_NAMES[base], True
    flag = _flag_name(base)
    if flag is not None:
        return flag, True
    data = emoji_lib.EMOJI_DATA.get(base)
    if data is None:
        return None
    aliases: list[str] = data.get("alias", [])
    if aliases:
        return aliases[0].strip(":"), True
    name = str(data["en"]).strip(":")
    if _ZWJ in base and ("\u2640" in base or "\u2642" in base):
        return name.replace("_", "-"), True  # Slack's gendered sequences: man-shrugging, woman-raising-hand
    return name, False


def unicode_to_slack(char: str, *, sure: bool = False) -> str | None:
    """A standard emoji -> its Slack reaction name (``👋🏼`` -> ``wave::skin-tone-3``), else None.
    ``sure``: None also when the name is only the emoji's CLDR name, which Slack may spell otherwise
    (text keeps such emoji as Unicode, which Slack shows as well)."""
    full = normalize(char)
    if full is None:
        return None
    base, tones = _split_tones(full)
    found = _base_name(base)
    if found is None:  # a toned sequence with no untoned form (🧑🏿‍❤️‍🧑🏻): its own CLDR name
        return None if sure else str(emoji_lib.EMOJI_DATA[full]["en"]).strip(":")
    name, certain = found
    if sure and not certain:
        return None
    if not tones:
        return name
    distinct = list(dict.fromkeys(tones))
    return f"{name}::skin-tone-" + "-".join(str(t) for t in distinct)


@cache
def _base_char(name: str) -> str | None:
    if name in _SLACK_CHARS:
        return _SLACK_CHARS[name]
    flag = _flag_char(name)
    if flag is not None:
        return flag
    for shortcode, language in ((f":{name}:", "alias"), (f":{name.replace('-', '_')}:", "en")):
        char = emoji_lib.emojize(shortcode, language=language)
        if char != shortcode:
            return normalize(char)
    return None


def slack_to_unicode(name: str) -> str | None:
    """A Slack reaction name (``wave::skin-tone-3``, ``+1``) -> the Unicode emoji, else None (a
    custom emoji, or no emoji). A tone that the emoji cannot take is dropped."""
    m = _NAME_RE.fullmatch(name)
    if m is None:
        return None
    base = _base_char(m.group(1))
    if base is None or m.group(2) is None:
        return base
    tones = tuple(int(t) for t in m.group(2).removeprefix("skin-tone-").split("-"))
    toned = _toned()
    return toned.get((base, tones)) or toned.get((base, tones * 2)) or base


def is_standard_slack_name(name: str) -> bool:
    """Whether a Slack emoji name is a standard emoji (else it is a custom one)."""
    return slack_to_unicode(name) is not None


def match_shortcode(text: str, pos: int) -> tuple[str, int] | None:
    """A standard-emoji shortcode at ``text[pos]`` (``:+1:``, ``:wave::skin-tone-3:``) ->
    (Unicode, end), else None. Custom and unknown names are not matched."""
    m = _SHORTCODE_RE.match(text, pos)
    if m is None:
        return None
    name = m.group(1) + (f"::{m.group(2)}" if m.group(2) else "")
    char = slack_to_unicode(name)
    if char is not None:
        return char, m.end()
    char = slack_to_unicode(m.group(1))  # a tone on an emoji that takes none: only the name
    end = m.start() + len(m.group(1)) + 2
    return (char, end) if char is not None else None


def emoji_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, Slack shortcode with colons) for every standard emoji in ``text`` (not the parts
    of a zero-width-joined run that is no emoji itself)."""
    out: list[tuple[int, int, str]] = []
    for found in emoji_lib.emoji_list(text):
        start, end = found["match_start"], found["match_end"]
        if text[start - 1 : start] == _ZWJ or text[end : end + 1] == _ZWJ:
            continue  # part of a ZWJ sequence no shortcode names (👨‍👩): kept whole, as Unicode
        name = unicode_to_slack(found["emoji"], sure=True)
        if name is not None:
            out.append((start, end, f":{name}:"))
    return out


def is_shortcode_at(text: str, pos: int) -> bool:
    """Whether Slack would read a standard emoji shortcode at ``text[pos]``."""
    return match_shortcode(text, pos) is not None


# -- reactions -----------------------------------------------------------------------------------
def from_slack_reaction(name: str) -> str:
    """A Slack reaction name -> the core key (Unicode, or ``:name:`` for a custom emoji)."""
    return slack_to_unicode(name) or f":{name}:"


def from_discord_reaction(name: str | None, emoji_id: str | None) -> str | None:
    """A Discord reaction's emoji (``name``, ``id``) -> the core key, or None if it has no name
    (a custom emoji Discord no longer knows)."""
    if emoji_id:
        return f":{name}:" if name else None
    if not name:
        return None
    return normalize(name) or name


def custom_name(core: str) -> str | None:
    """The name of a custom emoji core key (``:parrot:`` -> ``parrot``), else None."""
    if len(core) > 2 and core.startswith(":") and core.endswith(":"):
        return core[1:-1]
    return None


def to_slack_reaction(core: str, custom: Container[str]) -> str | None:
    """The core key -> the Slack reaction name, or None when Slack has no such emoji (a custom
    emoji the workspace lacks: ``custom`` holds the names ``emoji.list`` returns)."""
    name = custom_name(core)
    if name is None:
        return unicode_to_slack(core)
    slack = name.lower()
    return slack if slack in custom or is_standard_slack_name(slack) else None


def to_discord_reaction(core: str, custom: Mapping[str, DiscordCustom]) -> str | None:
    """The core key -> what Discord reaction routes take (Unicode, or ``name:id`` of a custom emoji
    the bot can use: ``custom`` by name), or None when Discord has no such emoji."""
    name = custom_name(core)
    if name is None:
        return normalize(core)
    found = custom.get(name)
    if found is not None:
        return found.route
    return slack_to_unicode(name)
