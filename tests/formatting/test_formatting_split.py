"""``split_message``: limits, preferred cut points, fences reopened, properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.formatting import DISCORD_LIMIT, SLACK_HARD_LIMIT, SLACK_LIMIT, split_message


def test_limits() -> None:
    assert (DISCORD_LIMIT, SLACK_LIMIT, SLACK_HARD_LIMIT) == (2000, 4000, 40000)


CASES = [
    ("fits-unchanged", "hello  world ", 20, ["hello  world "]),
    ("exactly-limit", "a" * 20, 20, ["a" * 20]),
    ("empty", "", 20, []),
    ("blank", " \n\n ", 20, []),
    ("word-boundary", "alpha beta gamma delta", 16, ["alpha beta gamma", "delta"]),
    ("prefers-line", "one two three\nfour five", 18, ["one two three", "four five"]),
    ("line-too-early-word-instead", "one\ntwo three four", 16, ["one\ntwo three", "four"]),
    (
        "prefers-paragraph-in-second-half",
        "aaaa bbbb\n\ncccc dddd eeee",
        20,
        ["aaaa bbbb", "cccc dddd eeee"],
    ),
    ("long-word-hard-split", "x" * 40, 16, ["x" * 16, "x" * 16, "x" * 8]),
    ("long-word-after-text", "hi " + "y" * 30, 16, ["hi", "y" * 16, "y" * 14]),
    ("cjk-punctuation", "日本語の文です。次の文はここです。", 16, ["日本語の文です。", "次の文はここです。"]),
    ("zwj-emoji-not-broken", "a" * 14 + "👩\u200d💻" + "b" * 10, 16, ["a" * 14, "👩\u200d💻" + "b" * 10]),
    ("combining-mark-not-broken", "e" * 15 + "e\u0301" + "z" * 5, 16, ["e" * 15, "e\u0301" + "z" * 5]),
    ("entity-not-broken", "x" * 14 + "&amp;" + "y" * 5, 16, ["x" * 14, "&amp;" + "y" * 5]),
    ("slack-link-kept-whole", "see <https://x.io|two words> now", 24, ["see", "<https://x.io|two words>", "now"]),
    ("masked-link-kept-whole", "go [the two docs](https://x.io) ok", 30, ["go", "[the two docs](https://x.io)", "ok"]),
    (
        "fence-closed-and-reopened",
        "```py\nline one\nline two\nline three\n```",
        28,
        ["```py\nline one\nline two\n```", "```py\nline three\n```"],
    ),
    (
        "cut-before-fence-rather-than-inside",
        "intro text here\n```\ncode\n```",
        24,
        ["intro text here", "```\ncode\n```"],
    ),
    (
        "slack-inline-fence-reopened",
        "```aaaa bbbb cccc dddd```",
        16,
        ["```aaaa bbbb```", "``` cccc dddd```"],
    ),
]


@pytest.mark.parametrize(("text", "limit", "parts"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_split(text: str, limit: int, parts: list[str]) -> None:
    assert split_message(text, limit) == parts


def test_limit_too_small() -> None:
    with pytest.raises(ValueError, match="at least"):
        split_message("hello", 5)


def test_long_fence_every_part_is_a_code_block() -> None:
    body = "\n".join(f"print({i})  # {'*' * (i % 7)}" for i in range(400))
    text = f"Here:\n```python\n{body}\n```\nthat was it"
    parts = split_message(text, DISCORD_LIMIT)
    assert len(parts) > 3
    assert all(len(p) <= DISCORD_LIMIT for p in parts)
    code_parts = [p for p in parts if "print(" in p]
    for part in code_parts:
        assert part.count("```") % 2 == 0, part[:80]
    for part in code_parts[1:]:
        assert part.startswith("```python\n")
    code = "".join(re.findall(r"```python\n(.*?)```", "".join(parts), re.DOTALL))
    assert code.split() == body.split()


def test_long_language_dropped_on_reopen() -> None:
    lang = "a-very-long-language-name"
    text = f"```{lang}\n" + "\n".join(["word"] * 30) + "\n```"
    parts = split_message(text, 40)
    assert parts[0].startswith(f"```{lang}\n")
    assert all(p.startswith("```\n") for p in parts[1:])
    assert all(len(p) <= 40 for p in parts)


WORDS = st.text(
    alphabet=st.sampled_from([*"abcdéxyz日本של👍*_~<>&@#.,!", "\u200d", "\u0301", "👩"]),
    min_size=1,
    max_size=30,
)
SEPARATORS = st.sampled_from([" ", "  ", "\n", "\n\n", " \n", "\t"])


@st.composite
def plain_texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORDS, min_size=1, max_size=60))
    seps = draw(st.lists(SEPARATORS, min_size=len(words), max_size=len(words)))
    return "".join(w + s for w, s in zip(words, seps, strict=True))


@settings(max_examples=300, deadline=None)
@given(plain_texts(), st.integers(min_value=16, max_value=120))
def test_split_properties_without_fences(text: str, limit: int) -> None:
    parts = split_message(text, limit)
    assert all(0 < len(p) <= limit for p in parts)
    assert all(p.strip() for p in parts)
    # nothing but the whitespace at the cuts is lost, and the order is kept
    assert "".join("".join(parts).split()) == "".join(text.split())
    if len(text) <= limit:
        assert parts == ([text] if text.strip() else [])
    # a word that fits is never cut
    tokens = [tok for p in parts for tok in p.split()]
    for word in text.split():
        if len(word) <= limit // 2:
            assert word in tokens


@st.composite
def fenced_texts(draw: st.DrawFn) -> str:
    lang = draw(st.sampled_from(["", "py", "javascript", "a-very-long-language-name"]))
    lines = draw(st.lists(st.text(alphabet="abc xyz*_<>", max_size=40), min_size=1, max_size=40))
    before = draw(plain_texts())
    after = draw(plain_texts())
    return f"{before}\n```{lang}\n" + "\n".join(lines) + f"\n```\n{after}"


@settings(max_examples=200, deadline=None)
@given(fenced_texts(), st.integers(min_value=48, max_value=200))
def test_split_properties_with_fences(text: str, limit: int) -> None:
    parts = split_message(text, limit)
    assert all(0 < len(p) <= limit for p in parts)
    assert all(p.strip() for p in parts)
    for part in parts:
        assert part.count("```") % 2 == 0, (part, parts)
    without_fences = [re.sub(r"```[\w+#.\-]*\n?", "", p) for p in parts]
    assert "".join("".join(without_fences).split()) == "".join(re.sub(r"```[\w+#.\-]*\n?", "", text).split())
