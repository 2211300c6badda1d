"""Formatting classes other converters get right, each with several variants (issue 11, part 3).

Each test asserts what a reader sees on the destination: the rendered text is parsed the way the
destination reads it and compared as plain text plus the styles applied. Public test data used:

* pocka/slack-message-parser, tests/issues.spec.ts (issue #4 sentence) and src/parser.ts (the
  boundaries around Slack markers: only whitespace before an opener; closers followed by
  whitespace or ``.,])}!?-=``, so ``_(ツ)_/`` is no italic);
* brussell98/discord-markdown, test/oddities.test.js (``*Hello World! *`` stays literal,
  ``test_ing_stuff`` is no italic, ``***underlined bold***`` is bold inside italic);
* Slack's own ``/shrug`` text ``¯\\_(ツ)_/¯`` as Slack posts it.
"""

from __future__ import annotations

import pytest

from bridge.formatting import core_to_discord, core_to_slack, discord_to_core, slack_to_core
from bridge.formatting.parse_markdown import parse_core
from bridge.formatting.parse_mrkdwn import parse_slack
from bridge.formatting.tree import Code, Fence, LinePrefix, Link, Node, Style, plain_text

Z = "\u200b"
SHRUG = "¯\\_(ツ)_/¯"


def _none(_: str) -> str | None:
    return None


def slack_to_discord(text: str) -> str:
    core = slack_to_core(text, user_name=_none, channel_name=_none)
    return core_to_discord(core, mention=_none, channel=_none)


def discord_to_slack(text: str) -> str:
    core = discord_to_core(text, user_name=_none, channel_name=_none, role_name=_none)
    return core_to_slack(core, mention=_none, channel=_none)


def discord_to_discord(text: str) -> str:
    core = discord_to_core(text, user_name=_none, channel_name=_none, role_name=_none)
    return core_to_discord(core, mention=_none, channel=_none)


def styles(nodes: tuple[Node, ...]) -> list[tuple[str, str]]:
    """(kind, plain text) of every style, outermost first."""
    out: list[tuple[str, str]] = []
    for node in nodes:
        if isinstance(node, Style):
            out.append((node.kind, plain_text(node.children)))
            out.extend(styles(node.children))
        elif isinstance(node, Link):
            out.extend(styles(node.children))
    return out


def links(nodes: tuple[Node, ...]) -> list[tuple[str, str]]:
    """(url, label as plain text) of every link."""
    out: list[tuple[str, str]] = []
    for node in nodes:
        if isinstance(node, Link):
            out.append((node.url, plain_text(node.children)))
        elif isinstance(node, Style):
            out.extend(links(node.children))
    return out


def on_discord(text: str) -> tuple[Node, ...]:
    return parse_core(text)


def on_slack(text: str) -> tuple[Node, ...]:
    return parse_slack(text, user_name=_none, channel_name=_none)


# -- 1. Slack markers only form at Slack's boundaries (the /shrug arms) ----------------------------
SLACK_LITERAL = [
    ("shrug", SHRUG, SHRUG),
    ("shrug-in-sentence", f"well {SHRUG} whatever", f"well {SHRUG} whatever"),
    ("two-shrugs", f"{SHRUG} {SHRUG}", f"{SHRUG} {SHRUG}"),
    ("path-underscores", "see /usr/_lib_/x", "see /usr/_lib_/x"),
    ("backslash-before-marker", "a\\_b_ c", "a\\_b_ c"),
    ("slash-after-marker", "x _y_/z", "x _y_/z"),
]


@pytest.mark.parametrize(("name", "slack", "shown"), SLACK_LITERAL, ids=[c[0] for c in SLACK_LITERAL])
def test_slack_markers_without_slack_boundaries_stay_literal(name: str, slack: str, shown: str) -> None:
    discord = slack_to_discord(slack)
    tree = on_discord(discord)
    assert plain_text(tree) == shown, discord
    assert styles(tree) == []


def test_shrug_inside_bold_keeps_its_arms() -> None:
    tree = on_discord(slack_to_discord(f"*{SHRUG}*"))
    assert styles(tree) == [("bold", SHRUG)]


SLACK_FORMATTED = [
    # pocka/slack-message-parser tests/issues.spec.ts, "#4"
    (
        "pocka-issue-4",
        "This is _the_ *first* ~program~ `code of the rest of this` *file*, err, _file_, and by ~file~, I mean *file*.",
        [
            ("italic", "the"),
            ("bold", "first"),
            ("strike", "program"),
            ("bold", "file"),
            ("italic", "file"),
            ("strike", "file"),
            ("bold", "file"),
        ],
    ),
    ("brackets", "(_x_) [*y*]", [("italic", "x"), ("bold", "y")]),
    ("quotes", "\"_z_\" '~w~'", [("italic", "z"), ("strike", "w")]),
    ("nested-markers", "*_both_*", [("bold", "both"), ("italic", "both")]),
    ("after-quote-prefix", "&gt;_q_", [("italic", "q")]),
]


@pytest.mark.parametrize(("name", "slack", "expected"), SLACK_FORMATTED, ids=[c[0] for c in SLACK_FORMATTED])
def test_slack_markers_at_slack_boundaries_still_format(name: str, slack: str, expected: list[tuple[str, str]]) -> None:
    assert styles(on_discord(slack_to_discord(slack))) == expected


def test_shrug_from_discord_reaches_slack_without_guards() -> None:
    """Discord people type ``¯\\\\_(ツ)_/¯`` to show the arms; Slack needs no U+200B for them."""
    slack = discord_to_slack("¯\\\\_(ツ)_/¯")
    assert slack == SHRUG
    assert styles(on_slack(slack)) == []


# -- 2. a link whose label holds code or emphasis -------------------------------------------------
LABELS = [
    ("code", "[`code` here](https://x.io)", "code here"),
    ("code-only", "[`x()`](https://x.io/doc)", "x()"),
    ("bracket-inside-code", "[`a]b` c](https://x.io)", "a]b c"),
    ("bold", "[**bold** label](https://x.io)", "bold label"),
    ("italic", "[*it*](https://x.io)", "it"),
    ("underline", "[__u__ x](https://x.io)", "u x"),
    ("strike", "[~~old~~ new](https://x.io)", "old new"),
    ("spoiler", "[||sp||](https://x.io)", "sp"),
    ("inside-bold", "**[b](https://x.io)**", "b"),
]


@pytest.mark.parametrize(("name", "discord", "label"), LABELS, ids=[c[0] for c in LABELS])
def test_link_label_with_markup_is_one_link_on_slack(name: str, discord: str, label: str) -> None:
    slack = discord_to_slack(discord)
    tree = on_slack(slack)
    url = discord[discord.index("](") + 2 : discord.index(")", discord.index("]("))]
    assert links(tree) == [(url, label)], slack
    assert "[" not in plain_text(tree).replace("a]b", ""), slack


def test_link_label_code_stays_code_on_discord() -> None:
    tree = on_discord(discord_to_discord("[`code` here](https://x.io)"))
    assert len(tree) == 1 and isinstance(tree[0], Link)
    assert isinstance(tree[0].children[0], Code)


@pytest.mark.parametrize(
    "discord",
    ["[a `b](https://x.io)` c", "`[a` ](https://x.io)", "[a ```b](https://x.io)```"],
    ids=["code-opened-in-label-closes-after", "code-before-bracket", "fence-in-label"],
)
def test_a_link_never_reaches_into_code(discord: str) -> None:
    tree = on_discord(discord_to_discord(discord))
    assert all(label == url for url, label in links(tree))  # no masked link, at most a bare URL
    assert any(isinstance(node, Code | Fence) for node in tree)


# -- 3. a URL ending in a marker character keeps it -----------------------------------------------
URL_ENDS = [
    ("star", "https://x.io/a*", "https://x.io/a*"),
    ("underscore", "https://x.io/a_", "https://x.io/a_"),
    ("tilde", "https://x.io/~a~", "https://x.io/~a~"),
    ("in-sentence", "see https://en.wikipedia.org/wiki/Foo_ and more", "https://en.wikipedia.org/wiki/Foo_"),
    ("then-full-stop", "go to https://x.io/a_.", "https://x.io/a_"),
    ("double-underscore", "https://x.io/__init__", "https://x.io/__init__"),
]


@pytest.mark.parametrize(("name", "discord", "url"), URL_ENDS, ids=[c[0] for c in URL_ENDS])
def test_url_ending_in_marker_keeps_it(name: str, discord: str, url: str) -> None:
    assert [u for u, _ in links(on_slack(discord_to_slack(discord)))] == [url]
    assert [u for u, _ in links(on_discord(discord_to_discord(discord)))] == [url]
    slack = f"look <{url}>"
    assert [u for u, _ in links(on_discord(slack_to_discord(slack)))] == [url]


CLOSING = [
    ("italic-star", "*see https://x.io*", "italic", "https://x.io"),
    ("italic-underscore", "_see https://x.io/a_", "italic", "https://x.io/a"),
    ("bold", "**https://x.io/b**", "bold", "https://x.io/b"),
    ("spoiler", "||https://x.io/s||", "spoiler", "https://x.io/s"),
    ("strike", "~~https://x.io/t~~", "strike", "https://x.io/t"),
]


@pytest.mark.parametrize(("name", "discord", "kind", "url"), CLOSING, ids=[c[0] for c in CLOSING])
def test_marker_after_url_still_closes_emphasis_opened_before(name: str, discord: str, kind: str, url: str) -> None:
    for tree in (on_discord(discord), on_discord(discord_to_discord(discord))):
        assert [u for u, _ in links(tree)] == [url]
        assert styles(tree)[0][0] == kind


def test_slack_bare_url_closing_italic() -> None:
    tree = on_slack("_see https://x.io/a_")
    assert styles(tree) == [("italic", "see https://x.io/a")]
    assert [u for u, _ in links(on_slack("https://x.io/a_"))] == ["https://x.io/a_"]


# -- 4. emphasis markers with inner spaces (Discord formats them) ---------------------------------
SPACED = [
    ("underscore-italic", "_ test_", "italic", "test"),
    ("strike", "~~ text ~~", "strike", "text"),
    ("bold", "** bold **", "bold", "bold"),
    ("bold-leading-only", "** lead**", "bold", "lead"),
    ("strike-glued-to-words", "a~~ b ~~c", "strike", "b"),
    ("italic-in-sentence", "x _ y_ z", "italic", "y"),
]


@pytest.mark.parametrize(("name", "discord", "kind", "text"), SPACED, ids=[c[0] for c in SPACED])
def test_spaced_emphasis_formats_on_slack(name: str, discord: str, kind: str, text: str) -> None:
    slack = discord_to_slack(discord)
    assert Z not in slack, repr(slack)
    assert styles(on_slack(slack)) == [(kind, text)], slack


@pytest.mark.parametrize(
    ("discord", "shown"),
    [
        ("*Hello World! *", "*Hello World! *"),  # brussell98/discord-markdown oddities: '* next to space'
        ("test_ing_stuff", "test_ing_stuff"),  # ... 'no undserscore italic in one word'
        ("* a *", "* a *"),
    ],
)
def test_discord_literal_cases_stay_literal(discord: str, shown: str) -> None:
    tree = on_discord(discord_to_discord(discord))
    assert styles(tree) == [] and plain_text(tree) == shown
    assert styles(on_slack(discord_to_slack(discord))) == []


def test_triple_star_is_bold_inside_italic() -> None:  # brussell98/discord-markdown oddities
    assert styles(on_discord("***underlined bold***")) == [("italic", "underlined bold"), ("bold", "underlined bold")]


# -- 5. an empty line inside a quote stays quoted -------------------------------------------------
QUOTES_DISCORD = [
    ("middle", "> text\n> \n> more", 3),
    ("two-empty", "> a\n> \n> \n> b", 4),
    ("leading", "> \n> a", 2),
    ("trailing", "> a\n> ", 2),
]


def _quoted_lines(tree: tuple[Node, ...]) -> int:
    return sum(1 for node in tree if isinstance(node, LinePrefix) and node.kind == "quote")


@pytest.mark.parametrize(("name", "discord", "lines"), QUOTES_DISCORD, ids=[c[0] for c in QUOTES_DISCORD])
def test_empty_quoted_line_from_discord(name: str, discord: str, lines: int) -> None:
    slack = discord_to_slack(discord)
    assert all(line.startswith("&gt;") for line in slack.split("\n")), slack
    assert Z not in slack
    tree = on_slack(slack)
    assert _quoted_lines(tree) == lines
    assert ">" not in plain_text(tree)


QUOTES_SLACK = [
    ("no-space", "&gt; a\n&gt;\n&gt; b", 3),
    ("space", "&gt; a\n&gt; \n&gt; b", 3),
    ("raw-gt", "> a\n>\n> b", 3),
    ("leading", "&gt;\n&gt; a", 2),
]


@pytest.mark.parametrize(("name", "slack", "lines"), QUOTES_SLACK, ids=[c[0] for c in QUOTES_SLACK])
def test_empty_quoted_line_from_slack(name: str, slack: str, lines: int) -> None:
    tree = on_discord(slack_to_discord(slack))
    assert _quoted_lines(tree) == lines
    assert ">" not in plain_text(tree)


@pytest.mark.parametrize("discord", ["> ", "a\n> \nb", "> a\n\n> \n\nb"])
def test_lone_quote_marker_without_a_quote_stays_literal(discord: str) -> None:
    tree = on_discord(discord_to_discord(discord))
    assert ">" in plain_text(tree)
