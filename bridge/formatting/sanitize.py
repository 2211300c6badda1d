"""Text hygiene shared by every formatting direction: mass mentions and spoofing characters.

Rules (the same for text coming from Discord, Slack or the CLI):

* **Mass mentions.** Core markdown stores ``@everyone``, ``@here`` and ``@channel`` as *plain words*:
  the three names are reserved (:data:`MASS_MENTIONS`, no core user may take them) and the core never
  treats them as a mention of anyone. Inbound converters map ``<!channel>``/``<!here>``/``<!everyone>``
  and Discord's ``@everyone``/``@here`` (also an already neutralised ``@\\u200beveryone``) to these
  plain words. Every renderer towards a platform neutralises them again with
  :func:`neutralise_mass_mentions`: a ZERO WIDTH SPACE (U+200B) goes right after the ``@``, so the text
  reads the same but neither Discord nor Slack can parse a ping from it.
* **Bidirectional controls** that reorder what is displayed (U+202A–U+202E embeddings/overrides and
  U+2066–U+2069 isolates, the "Trojan Source" characters) are removed: a relayed message must read in
  the order it was written. Ordinary right-to-left text (Arabic, Hebrew, ...) and the invisible
  marks that do not reorder text (LRM U+200E, RLM U+200F, ALM U+061C) pass unchanged.
* **Zero-width characters** are kept: ZWJ (U+200D) builds emoji sequences, ZWNJ (U+200C) is needed by
  Persian and Indic scripts, ZWSP (U+200B) is a word separator in Thai. They cannot make anything
  ping: mentions are resolved by exact name, so ``@ad\\u200bmin`` is never ``@admin``.
* **Control characters**: CR LF and lone CR become LF; other C0/C1 controls except TAB and LF are
  removed (they render as nothing or as boxes, and NUL breaks some clients).
"""

from __future__ import annotations

import re

ZWSP = "\u200b"
"""ZERO WIDTH SPACE, inserted after ``@`` to neutralise mass mentions."""

MASS_MENTIONS = frozenset({"everyone", "here", "channel"})
"""Reserved words that are never a user mention in the core (registration must refuse them)."""

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Characters removed by :func:`sanitize_text` because they reorder displayed text."""

_MASS_RE = re.compile(r"@(?=(?:everyone|here|channel)(?![\w-]))", re.IGNORECASE)
_NEUTRALISED_RE = re.compile("@" + ZWSP + r"+(?=(?:everyone|here|channel)(?![\w-]))", re.IGNORECASE)
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + "".join(sorted(BIDI_CONTROLS)) + "]")


def neutralise_mass_mentions(text: str) -> str:
    """Insert U+200B after the ``@`` of ``@everyone``, ``@here`` and ``@channel`` (any case).

    Idempotent: an already neutralised word is left as it is. ``@hereford`` and ``@everyone-ish``
    are other words and are not touched.
    """
    return _MASS_RE.sub("@" + ZWSP, text)


def restore_mass_mentions(text: str) -> str:
    """Undo :func:`neutralise_mass_mentions`: ``@\\u200beveryone`` becomes the plain core word."""
    return _NEUTRALISED_RE.sub("@", text)


def is_mass_mention(word: str) -> bool:
    """True for the reserved words (without ``@``), compared case-insensitively."""
    return word.lower() in MASS_MENTIONS


def sanitize_text(text: str) -> str:
    """Normalise line ends and remove bidi override/isolate controls and other control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_RE.sub("", text)
