"""Core markdown -> Slack mrkdwn (``core_to_slack``), table-driven."""

from __future__ import annotations

import pytest

from bridge.formatting import core_to_slack

Z = "\u200b"
SLACK_IDS = {"alice": "U1", "bob": "U2"}
SLACK_CHANNELS = {"general": "C1"}


def convert(text: str) -> str:
    return core_to_slack(text, mention=SLACK_IDS.get, channel=SLACK_CHANNELS.get)


CASES = [
    # emphasis
    ("bold", "**bold**", "*bold*"),
    ("italic-star", "*italic*", "_italic_"),
    ("italic-underscore", "_italic_", "_italic_"),
    ("strike", "~~gone~~", "~gone~"),
    ("underline-plain", "__under__", "under"),
    ("spoiler-bars-visible", "||secret||", "||secret||"),
    ("bold-italic", "***both***", "_*both*_"),
    ("nested", "**bold *it* end**", "*bold _it_ end*"),
    ("multi-line-bold-per-line", "**one\ntwo**", "*one*\n*two*"),
    ("bold-never-spans-blank-line", "**one\n\ntwo**", f"{Z}*{Z}*one\n\ntwo*{Z}*{Z}"),
    ("intraword-italic-guarded", "2*3*4", f"2{Z}_3_{Z}4"),
    # literal marker characters are guarded so Slack shows them as typed
    ("escaped-stars-guarded", "\\*lit\\*", f"{Z}*lit*{Z}"),
    ("escaped-underscores-guarded", "\\_lit\\_", f"{Z}_lit_{Z}"),
    ("snake-case-untouched", "snake_case_name", "snake_case_name"),
    ("lone-star-untouched", "a * b", "a * b"),
    ("tilde-approx-guarded", "~5 min", f"{Z}~5 min"),
    # code is opaque, only entities escaped
    ("code-span", "`*x* <@U1> a&b`", "`*x* &lt;@U1&gt; a&amp;b`"),
    ("code-double-backtick", "``a ` b``", "```a ` b```"),
    ("multi-line-code-span-as-block", "`a\nb`", "```a\nb```"),
    ("fence-language-dropped", "```python\nif a < b:\n    pass\n```", "```if a &lt; b:\n    pass\n```"),
    ("fence-no-language", "```\n**x**\n```", "```**x**\n```"),
    ("everyone-in-code-untouched", "`@everyone`", "`@everyone`"),
    # quotes and lines
    ("quote", "> quoted **b**\nnot", "&gt; quoted *b*\nnot"),
    ("quote-all", ">>> one\ntwo", "&gt; one\n&gt; two"),
    ("literal-gt-at-line-start-guarded", "\\> not a quote", f"{Z}&gt; not a quote"),
    ("gt-inside-line", "a > b", "a &gt; b"),
    ("heading-bold-line", "# Title\ntext", "*Title*\ntext"),
    ("heading-with-bold-inside", "## A **big** deal", "*A big deal*"),
    ("heading-in-quote", "> # Quoted title\nafter", "&gt; *Quoted title*\nafter"),
    ("subtext-plain", "-# small", "small"),
    # links
    ("masked-link", "[the docs](https://x.io/a_b*c)", "<https://x.io/a_b*c|the docs>"),
    ("masked-link-label-markup-flattened", "[**bold** docs](https://x.io)", "<https://x.io|bold docs>"),
    ("link-label-entities", "[a < b & c](https://x.io)", "<https://x.io|a &lt; b &amp; c>"),
    ("link-url-ampersand-and-pipe", "[q](https://x.io/?a=1&b=|)", "<https://x.io/?a=1&amp;b=%7C|q>"),
    ("bare-url", "see https://x.io/a_b_c ok", "see <https://x.io/a_b_c> ok"),
    ("angle-url", "<https://x.io>", "<https://x.io>"),
    ("mailto-link", "[bob@x.io](mailto:bob@x.io)", "<mailto:bob@x.io|bob@x.io>"),
    # mentions
    ("linked-user", "hi @alice", "hi <@U1>"),
    ("linked-user-case-insensitive", "hi @Alice", "hi <@U1>"),
    ("unlinked-user-plain", "hi @carol", "hi @carol"),
    ("escaped-mention-plain", "\\@alice", "@alice"),
    ("linked-channel", "see #general", "see <#C1>"),
    ("unlinked-channel-plain", "see #random", "see #random"),
    ("mention-in-bold", "**@alice**", "*<@U1>*"),
    ("email-not-mention", "alice@example.com", "alice@example.com"),
    # mass mentions and control sequences never reach Slack
    ("everyone-neutralised", "@everyone look", f"@{Z}everyone look"),
    ("here-neutralised", "@here", f"@{Z}here"),
    ("channel-neutralised", "@channel", f"@{Z}channel"),
    ("slack-channel-syntax-typed-on-discord", "<!channel>", "&lt;!channel&gt;"),
    ("slack-user-syntax-typed", "<@U1> <#C1>", "&lt;@U1&gt; &lt;#C1&gt;"),
    ("slack-link-syntax-typed", "<https://x.io|evil>", "&lt;<https://x.io>|evil&gt;"),
    ("discord-tag-typed", "<@123>", "&lt;@123&gt;"),
    ("entities-escaped", "a & b < c > d", "a &amp; b &lt; c &gt; d"),
    ("entity-lookalike-escaped", "&amp; &lt;", "&amp;amp; &amp;lt;"),
    # text
    ("emoji", ":smile: 👍🏽 :partyparrot:", f":{Z}smile: :+1::skin-tone-4: :partyparrot:"),
    ("cjk-rtl", "**日本語** שלום مرحبا", "*日本語* שלום مرحبا"),
    ("bidi-override-removed", "a\u202eb", "ab"),
    ("empty", "", ""),
]


@pytest.mark.parametrize(("core", "slack"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_core_to_slack(core: str, slack: str) -> None:
    assert convert(core) == slack
