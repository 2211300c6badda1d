"""Mass-mention neutralisation, spoofing characters, mentions list and plain rendering."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.formatting import (
    MASS_MENTIONS,
    ZWSP,
    core_mentions,
    core_to_plain,
    is_mass_mention,
    neutralise_mass_mentions,
    restore_mass_mentions,
    sanitize_text,
)

NEUTRALISE = [
    ("everyone", "@everyone", f"@{ZWSP}everyone"),
    ("here", "hi @here!", f"hi @{ZWSP}here!"),
    ("channel", "@channel.", f"@{ZWSP}channel."),
    ("case-insensitive", "@EveryOne", f"@{ZWSP}EveryOne"),
    ("longer-word-untouched", "@hereford @everyone-else @channels", "@hereford @everyone-else @channels"),
    ("email-like", "x@here", f"x@{ZWSP}here"),
    ("already-neutral", f"@{ZWSP}here", f"@{ZWSP}here"),
    ("plain-user", "@alice", "@alice"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in NEUTRALISE], ids=[c[0] for c in NEUTRALISE])
def test_neutralise_mass_mentions(text: str, expected: str) -> None:
    assert neutralise_mass_mentions(text) == expected
    assert neutralise_mass_mentions(expected) == expected


@given(st.text(alphabet=st.sampled_from([*"@everyonhacl x-", ZWSP])))
def test_neutralise_is_idempotent_and_reversible(text: str) -> None:
    once = neutralise_mass_mentions(text)
    assert neutralise_mass_mentions(once) == once
    assert restore_mass_mentions(once) == restore_mass_mentions(text)


def test_reserved_words() -> None:
    assert frozenset({"everyone", "here", "channel"}) == MASS_MENTIONS
    assert is_mass_mention("Here") and not is_mass_mention("alice")


SANITIZE = [
    ("rlo-removed", "abc\u202edcba", "abcdcba"),
    ("all-embeddings-and-overrides", "a\u202a\u202b\u202c\u202d\u202eb", "ab"),
    ("isolates-removed", "a\u2066\u2067\u2068\u2069b", "ab"),
    ("hebrew-kept", "שלום עולם", "שלום עולם"),
    ("arabic-kept", "مرحبا بالعالم", "مرحبا بالعالم"),
    ("marks-kept", "a\u200eb\u200fc\u061cd", "a\u200eb\u200fc\u061cd"),
    ("zwj-emoji-kept", "👩\u200d👩\u200d👧", "👩\u200d👩\u200d👧"),
    ("zwnj-kept", "می\u200cخواهم", "می\u200cخواهم"),
    ("zwsp-kept", "a\u200bb", "a\u200bb"),
    ("crlf", "a\r\nb\rc", "a\nb\nc"),
    ("controls-removed", "a\x00b\x07c\x1bd\x7fe\x85f", "abcdef"),
    ("tab-kept", "a\tb", "a\tb"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in SANITIZE], ids=[c[0] for c in SANITIZE])
def test_sanitize_text(text: str, expected: str) -> None:
    assert sanitize_text(text) == expected


MENTIONS = [
    ("simple", "@alice and @bob", ["alice", "bob"]),
    ("lowercased-deduplicated", "@Alice @alice @ALICE", ["alice"]),
    ("code-is-not-a-mention", "`@alice` ```\n@bob\n```", []),
    ("escaped-is-not-a-mention", "\\@alice", []),
    ("mass-is-not-a-mention", "@everyone @here @channel", []),
    ("email-is-not-a-mention", "alice@example.com", []),
    ("inside-markup", "**@alice** [ask @bob](https://x.io)", ["alice", "bob"]),
    ("trailing-punctuation", "@carol.d. @dave-", ["carol.d", "dave"]),
]


@pytest.mark.parametrize(("text", "names"), [c[1:] for c in MENTIONS], ids=[c[0] for c in MENTIONS])
def test_core_mentions(text: str, names: list[str]) -> None:
    assert core_mentions(text) == names


PLAIN = [
    ("markup-dropped", "**bold** *it* ~~s~~ `code` [docs](https://x.io)", "bold it s code docs"),
    ("escapes-resolved", "\\*lit\\* \\@alice", "*lit* @alice"),
    ("mass-neutralised", "@here", f"@{ZWSP}here"),
    ("quote-prefix-dropped", "> quoted", "quoted"),
]


@pytest.mark.parametrize(("text", "plain"), [c[1:] for c in PLAIN], ids=[c[0] for c in PLAIN])
def test_core_to_plain(text: str, plain: str) -> None:
    assert core_to_plain(text) == plain
