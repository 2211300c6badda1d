"""Rules for names and text that reach Redis keys, TAG fields and search queries.

- **Usernames**: 2–32 characters, lowercase ASCII letters, digits, ``.``, ``_`` and ``-``, starting
  with a letter or digit. They become part of keys (``user:<name>``) and TAG values, so nothing
  that could split a tag (``,``), escape a query (``\\``) or hide (control or non-ASCII characters)
  is allowed. Input is lowercased first, so ``Wasim`` registers ``wasim``.
- **Channel names**: 1–80 characters (Slack's limit), lowercase ASCII letters, digits, ``-`` and
  ``_``, starting with a letter or digit; a leading ``#`` is dropped.
- **Messages**: 1–``MAX_MESSAGE_CHARS`` characters after trimming; NUL and other C0 control
  characters (except tab and newline) and bidi override/isolate controls (U+202A–U+202E,
  U+2066–U+2069) are removed; CRLF becomes LF. Arabic, Hebrew, zero-width joiners stay.
- **Profile fields**: at most 100 characters, no control characters, no ``,`` or ``\\`` (they break
  TAG fields); hobbies are a comma-separated list of such words.
- **Text that is not Unicode**: a lone surrogate (what Python makes of a byte that is not UTF-8 on
  a command line, or a ``\\udXXX`` escape in a JSON payload) can never be written to Redis. A
  command line containing one is refused (:func:`encodable`); message text arriving from a
  platform has each one replaced by U+FFFD (:func:`message_text`), so the message still crosses.
"""

from __future__ import annotations

import re

from bridge.errors import InvalidInput

MAX_MESSAGE_CHARS = 40_000
"""Slack accepts 40,000 characters in a message (chat.postMessage ``text``); the core takes as much
(``core.max_message_chars`` lowers it) and the mirror splits for Discord's 2,000."""
MAX_FIELD_CHARS = 100
MAX_HOBBIES = 20

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")
_CHANNEL = re.compile(r"[a-z0-9][a-z0-9_-]{0,79}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BIDI_OVERRIDES = re.compile("[\u202a-\u202e\u2066-\u2069]")
"""Bidi embeddings, overrides and isolates: they reorder what follows them (a spoofing vector:
``\u202eexe.txt``). Ordinary Arabic/Hebrew text and the LRM/RLM marks need none of them."""
_SURROGATE = re.compile("[\ud800-\udfff]")
_FIELD_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f,\\{}|]")
PROFILE_FIELDS = ("firstname", "lastname", "city", "country")


RESERVED_USERNAMES = frozenset({"everyone", "here", "channel"})
"""Mass-mention words: a user with one of these names could never be mentioned safely."""


def username(value: str) -> str:
    name = value.strip().lstrip("@").lower()
    if name in RESERVED_USERNAMES:
        raise InvalidInput(f"`{name}` is reserved (it is a mass mention on Discord and Slack).")
    if not USERNAME_RE.fullmatch(name):
        raise InvalidInput(
            f"`{_show(value)}` is not a valid username: use 2–32 characters, lowercase letters, digits, "
            "`.`, `_` or `-`, starting with a letter or digit."
        )
    return name


def channel(value: str) -> str:
    name = value.strip().lstrip("#").lower()
    if not _CHANNEL.fullmatch(name):
        raise InvalidInput(
            f"`{_show(value)}` is not a valid channel name: use 1–80 characters, lowercase letters, digits, "
            "`-` or `_`, starting with a letter or digit."
        )
    return name


def encodable(value: str, what: str = "The command") -> str:
    """``value`` unchanged, or :class:`InvalidInput` when it holds a character that is not Unicode
    text (a lone surrogate: no UTF-8 encoding exists, so Redis could never store it)."""
    bad = _SURROGATE.search(value)
    if bad is not None:
        before = _show(value[max(0, bad.start() - 20) : bad.start()])
        where = f" after `{before}`" if before else " at its start"
        raise InvalidInput(
            f"{what} contains a byte that is not valid UTF-8 text{where}. "
            "Check your terminal's encoding (UTF-8) and type it again."
        )
    return value


_UNCLEAN = re.compile("[" + "".join(c.pattern[1:-1] for c in (_CONTROL, _BIDI_OVERRIDES, _SURROGATE)) + "]")
"""Any character :func:`clean_text` changes (CR is in the C0 range): the three classes above as one
(each is a single ``[...]``). Most messages hold none, so one scan stands in for its four passes
(the single post's client cost, bench/scale.py)."""


def clean_text(value: str) -> str:
    """``value`` with surrogates replaced, line ends made LF, C0 controls and bidi controls removed."""
    text = _SURROGATE.sub("\ufffd", value)
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _BIDI_OVERRIDES.sub("", text)


def message_text(value: str, *, limit: int = MAX_MESSAGE_CHARS, allow_empty: bool = False) -> str:
    """Clean message text; ``allow_empty`` for a message that carries files and no words."""
    text = (value if _UNCLEAN.search(value) is None else clean_text(value)).strip()
    if not text and not allow_empty:
        raise InvalidInput("The message is empty.")
    if len(text) > limit:
        raise TooLong(f"The message is {len(text):,} characters long; the limit is {limit:,}.", len(text), limit)
    return text


class TooLong(InvalidInput):
    """A message above the configured limit (the adapters tell the sender)."""

    def __init__(self, message: str, length: int, limit: int) -> None:
        super().__init__(message)
        self.length = length
        self.limit = limit


def profile_field(field: str, value: str) -> str:
    text = " ".join(encodable(value, f"`{field}`").split())
    if len(text) > MAX_FIELD_CHARS:
        raise InvalidInput(f"`{field}` can be at most {MAX_FIELD_CHARS} characters.")
    if _FIELD_FORBIDDEN.search(text):
        raise InvalidInput(f"`{field}` cannot contain control characters or any of , \\ {{ }} |")
    return text


def hobbies(value: str) -> str:
    items = [" ".join(part.split()).lower() for part in value.split(",")]
    items = [item for item in items if item]
    if len(items) > MAX_HOBBIES:
        raise InvalidInput(f"At most {MAX_HOBBIES} hobbies.")
    for item in items:
        profile_field("hobby", item)
    return ",".join(dict.fromkeys(items))


def location(value: str) -> tuple[float, float]:
    """Parse ``lat,lon`` (the order people type) into (lat, lon), checking the ranges."""
    parts = value.replace(" ", "").split(",")
    try:
        lat, lon = (float(parts[0]), float(parts[1])) if len(parts) == 2 else (float("nan"), 0.0)
    except ValueError:
        lat, lon = float("nan"), 0.0
    if not (-85.05112878 <= lat <= 85.05112878 and -180 <= lon <= 180):
        raise InvalidInput(f"`{_show(value)}` is not a location: use `lat,lon`, e.g. `51.5074,-0.1278`.")
    return lat, lon


def _show(value: str, limit: int = 40) -> str:
    clean = _SURROGATE.sub("\ufffd", _CONTROL.sub("", value)).replace("`", "'")
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
