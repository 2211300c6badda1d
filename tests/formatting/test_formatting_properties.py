"""Property tests: renderers are faithful to the tree, plain text round-trips, nothing pings."""

from __future__ import annotations

import re
from dataclasses import replace

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bridge.formatting import (
    DISCORD_LIMIT,
    SLACK_LIMIT,
    core_to_discord_with_mentions,
    core_to_slack,
    discord_to_core,
    slack_to_core,
    split_message,
)
from bridge.formatting.parse_markdown import DiscordResolvers, parse_core, parse_discord
from bridge.formatting.parse_mrkdwn import parse_slack
from bridge.formatting.render_markdown import render_core
from bridge.formatting.tree import ChannelRef, Code, Fence, Link, MassMention, Node, Style, Text, merge_text

NOBODY: dict[str, str] = {}


def _norm(nodes: tuple[Node, ...]) -> tuple[Node, ...]:
    """Compare trees up to differences nobody can see: ``#name`` or ``@everyone`` as text or as a
    node, U+200B separators, ``*`` or ``_`` for italic, backticks around code, a bare URL written
    ``<url>``, and whether a code block had an (empty) info line or a final newline."""
    out: list[Node] = []
    for node in nodes:
        if isinstance(node, ChannelRef):
            node = Text("#" + node.name)
        elif isinstance(node, MassMention):
            node = Text("@" + node.word)
        elif isinstance(node, Text):
            node = Text(node.text.replace("\u200b", ""))
        elif isinstance(node, Code):
            node = replace(node, ticks=1)
        elif isinstance(node, Fence):
            node = replace(node, info=True, body=node.body.strip("\n"))
        elif isinstance(node, Link):
            form = "angle" if node.form == "bare" else node.form
            node = replace(node, children=_norm(node.children), form=form)
        elif isinstance(node, Style):
            marker = "*" if node.kind == "italic" else node.marker
            node = replace(node, marker=marker, children=_norm(node.children))
        out.append(node)
    return merge_text(out)


CORE_SNIPPETS = st.sampled_from(
    [
        "a", "b", "word", " ", "  ", "\n", "\n\n", "*", "**", "***", "_", "__", "~", "~~", "|", "||",
        "`", "``", "```", "```py\n", "\\", "[", "]", "(", ")", "](", "<", ">", "> ", ">>> ", "# ", "-# ",
        "@", "@bob", "@everyone", "#", "#chan", "https://x.io/a_b*c", "<https://x.io>",
        "[l](https://x.io)", "2", "日本", "שלום", "👍", "\u200b", ":", "!", "&",
    ]
)  # fmt: skip
core_texts = st.lists(CORE_SNIPPETS, max_size=40).map("".join)


@settings(max_examples=600, deadline=None)
@given(core_texts)
@example("*a***b**")
@example("***x** y*")
@example("\\**x**")
@example("**~*a***")
def test_render_core_is_faithful(text: str) -> None:
    """Rendering a core tree and parsing it again gives the same tree (escaping is complete)."""
    tree = parse_core(text)
    rendered = render_core(tree)
    assert _norm(parse_core(rendered)) == _norm(tree), rendered
    assert render_core(parse_core(rendered)).replace("\u200b", "") == rendered.replace("\u200b", "")


SLACK_SNIPPETS = st.sampled_from(
    [
        "a", "b", "word", " ", "\n", "*", "_", "~", "`", "```", "&amp;", "&lt;", "&gt;", "&gt; ", "&",
        "<@U1>", "<@U9|zed>", "<#C1|general>", "<!here>", "<!channel>", "<https://x.io|a *b* c>",
        "<https://x.io/a_b>", "<mailto:a@b.io|a@b.io>", "@bob", "#chan", "2", "\\", "[", "](", ")",
        "# ", "-# ", "|", "||", ":smile:", "日本", "مرحبا", "\u200b", "https://y.io/x_y", "**",
    ]
)  # fmt: skip
slack_texts = st.lists(SLACK_SNIPPETS, max_size=40).map("".join)
USERS = {"U1": "alice"}
CHANNELS = {"C1": "general"}


@settings(max_examples=600, deadline=None)
@given(slack_texts)
def test_slack_to_core_is_faithful(text: str) -> None:
    """The core markdown written for a Slack message parses back to what was read from Slack."""
    tree = parse_slack(text, user_name=USERS.get, channel_name=CHANNELS.get)
    core = slack_to_core(text, user_name=USERS.get, channel_name=CHANNELS.get)
    assert _norm(parse_core(core)) == _norm(tree), core


DISCORD_SNIPPETS = st.sampled_from(
    [
        "a", "word", " ", "\n", "*", "**", "_", "__", "~~", "||", "`", "```", "\\", "> ", "# ", "-# ",
        "<@111>", "<@!999>", "<@&5>", "<#222>", "<:blob:1>", "<t:1618953630:R>", "</cmd:1>", "@everyone",
        "@bob", "#chan", "[x](https://x.io)", "https://x.io/a_b", "<https://x.io>", "<", ">", "2", "日本",
    ]
)  # fmt: skip
discord_texts = st.lists(DISCORD_SNIPPETS, max_size=40).map("".join)
DISCORD = DiscordResolvers({"111": "alice"}.get, {"222": "general"}.get, {"5": "Mods"}.get)


@settings(max_examples=600, deadline=None)
@given(discord_texts)
@example("\\[x](https://x.io)`\\[x](https://x.io)`")
@example("__a_*__*__")
@example("<@111>__a__")
def test_discord_to_core_is_faithful(text: str) -> None:
    """The core markdown written for a Discord message parses back to what was read from Discord."""
    core = discord_to_core(
        text, user_name=DISCORD.user_name, channel_name=DISCORD.channel_name, role_name=DISCORD.role_name
    )
    assert _norm(parse_core(core)) == _norm(parse_discord(text, DISCORD)), core


@settings(max_examples=200, deadline=None)
@given(st.lists(DISCORD_SNIPPETS, min_size=200, max_size=1200).map("".join))
def test_long_messages_split_for_both_platforms(text: str) -> None:
    core = discord_to_core(
        text, user_name=DISCORD.user_name, channel_name=DISCORD.channel_name, role_name=DISCORD.role_name
    )
    for rendered, limit in (
        (core_to_discord_with_mentions(core, mention={"alice": "111"}.get, channel=NOBODY.get)[0], DISCORD_LIMIT // 8),
        (core_to_slack(core, mention={"alice": "U1"}.get, channel=NOBODY.get), SLACK_LIMIT // 16),
    ):
        parts = split_message(rendered, limit)
        assert all(0 < len(p) <= limit and p.strip() for p in parts)
        # everything is kept, in order; only fence markers closing and reopening blocks are added
        joined = iter("".join(parts))
        assert all(ch in joined for ch in "".join(rendered.split()))


PLAIN = st.lists(
    st.sampled_from([*"abcXYZ019 \n&<>|:!?.,'\"()[]/=+-@#$%^{}", "日本", "עב", "ع", "👍🏽", "\u200d"]),
    max_size=60,
).map("".join)


def _literal(text: str) -> str:
    """The core markdown for ``text`` read literally (every marker escaped as needed)."""
    return render_core((Text(text),)) if text else ""


@settings(max_examples=500, deadline=None)
@given(PLAIN)
@example("a & b <c> @everyone <!channel> 1 > 0")
@example("> not a quote")
@example("# not a heading")
def test_plain_text_round_trips_through_slack(text: str) -> None:
    """core -> slack -> core is the identity for literal text with special characters, except that
    a literal ``@name`` comes back as a mention (Slack has no way to escape it)."""
    core = _literal(text)
    slack = core_to_slack(core, mention=NOBODY.get, channel=NOBODY.get)
    assert slack_to_core(slack, user_name=NOBODY.get, channel_name=NOBODY.get) == core.replace("\\@", "@")


MARKED = st.text(alphabet=st.sampled_from(list("ab 1*_~\\\n>#-|")), max_size=40)


@settings(max_examples=500, deadline=None)
@given(MARKED)
@example("*lit* snake_case 2*3")
@example(">* *>")
def test_literal_markers_round_trip_through_slack(text: str) -> None:
    """Literal marker characters survive core -> slack -> core (guarded with U+200B on Slack)."""
    core = _literal(text)
    assert _norm(parse_core(core)) == ((Text(text),) if text else ())
    slack = core_to_slack(core, mention=NOBODY.get, channel=NOBODY.get)
    assert slack_to_core(slack, user_name=NOBODY.get, channel_name=NOBODY.get) == core


DANGEROUS = st.lists(
    st.sampled_from(
        [
            "<@123>",
            "<@!1>",
            "<@&9>",
            "<#5>",
            "<:e:1>",
            "<a:e:2>",
            "<t:1:R>",
            "</c:1>",
            "<id:home>",
            "<!channel>",
            "<!here>",
            "<!everyone>",
            "<@U1>",
            "<#C1>",
            "<!subteam^S1>",
            "@everyone",
            "@here",
            "@channel",
            "@Everyone",
            "@\u200beveryone",
            "\\",
            "<",
            ">",
            "@",
            "!",
            " ",
            "x",
            "*",
            "&lt;",
            "&",
            "|",
            "\n",
            "> ",
        ]
    ),
    max_size=30,
).map("".join)
DISCORD_TAG = re.compile(r"(?<!\\)<(?:@|#|a?:\w+:|t:|/|id:)")
MASS = re.compile(r"@(?:everyone|here|channel)(?![\w-])", re.IGNORECASE)


@settings(max_examples=500, deadline=None)
@given(DANGEROUS)
def test_nothing_relayed_pings_on_discord(text: str) -> None:
    rendered, ids = core_to_discord_with_mentions(text, mention=NOBODY.get, channel=NOBODY.get)
    assert ids == []
    assert not DISCORD_TAG.search(rendered), rendered
    assert not MASS.search(rendered), rendered


@settings(max_examples=500, deadline=None)
@given(DANGEROUS)
def test_nothing_relayed_pings_on_slack(text: str) -> None:
    rendered = core_to_slack(text, mention=NOBODY.get, channel=NOBODY.get)
    assert "<" not in rendered and ">" not in rendered, rendered
    assert not MASS.search(rendered), rendered


@settings(max_examples=300, deadline=None)
@given(DANGEROUS)
def test_nothing_from_slack_pings_anyone_in_core(text: str) -> None:
    core = slack_to_core(text, user_name=NOBODY.get, channel_name=NOBODY.get)
    slack = core_to_slack(core, mention=NOBODY.get, channel=NOBODY.get)
    discord, ids = core_to_discord_with_mentions(core, mention=NOBODY.get, channel=NOBODY.get)
    assert ids == []
    assert "<" not in slack
    assert not DISCORD_TAG.search(discord)
    assert not MASS.search(slack) and not MASS.search(discord)


ANY_TEXT = st.text(max_size=200) | st.lists(
    st.sampled_from([*"*_~`|\\[]()<>@#&!:^-\n ", "```", "&gt;", "<@", "<#", "<!", "<t:", "http://a.b/"]), max_size=60
).map("".join)


@settings(max_examples=400, deadline=None)
@given(ANY_TEXT)
def test_never_raises_and_never_pings(text: str) -> None:
    core_a = slack_to_core(text, user_name=NOBODY.get, channel_name=NOBODY.get)
    core_b = discord_to_core(text, user_name=NOBODY.get, channel_name=NOBODY.get, role_name=NOBODY.get)
    for core in (core_a, core_b, text):
        slack = core_to_slack(core, mention=NOBODY.get, channel=NOBODY.get)
        discord, ids = core_to_discord_with_mentions(core, mention=NOBODY.get, channel=NOBODY.get)
        assert ids == []
        for rendered in (slack, discord):
            assert all(0 < len(p) <= 40 for p in split_message(rendered, 40))
