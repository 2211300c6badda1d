"""Slack mrkdwn -> core markdown (``slack_to_core``), table-driven."""

from __future__ import annotations

import pytest

from bridge.formatting import slack_to_core

USERS = {"U1": "alice", "U2": "bob", "W3": "carol.d"}
CHANNELS = {"C1": "general", "C2": "dev-ops"}


def convert(text: str) -> str:
    return slack_to_core(text, user_name=USERS.get, channel_name=CHANNELS.get)


CASES = [
    # emphasis
    ("bold", "*bold*", "**bold**"),
    ("italic", "_italic_", "*italic*"),
    ("strike", "~gone~", "~~gone~~"),
    ("all-three", "*b* _i_ ~s~", "**b** *i* ~~s~~"),
    ("nested-italic-in-bold", "*bold _and italic_*", "**bold _and italic_**"),
    ("nested-bold-in-italic", "_*both*_", "***both***"),
    ("adjacent-bold-italic", "*a*_b_", "**a**_b_"),
    ("adjacent-italic-bold", "_a_*b*", "_a_**b**"),
    ("bold-in-parens", "(*see*)", "(**see**)"),
    ("bold-two-words", "*two words*", "**two words**"),
    # markers that are not markup on Slack
    ("star-inside-word", "2*3*4", "2\\*3\\*4"),
    ("snake-case", "snake_case_name", "snake_case_name"),
    ("underscore-edges-of-identifier", "_private_var_", "*private_var*"),
    ("leading-underscore-identifier", "_private_var and x", "\\_private_var and x"),
    ("lone-star", "a * b", "a * b"),
    ("double-star-literal", "**not bold**", "\\*\\*not bold\\*\\*"),
    ("unterminated-bold", "*unterminated", "\\*unterminated"),
    ("unterminated-italic", "_x and *y", "\\_x and \\*y"),
    ("marker-after-space-does-not-close", "*a *", "\\*a *"),
    ("bold-not-across-lines", "*a\nb*", "\\*a\nb\\*"),
    ("empty-pair", "** and __", "\\*\\* and \\_\\_"),
    ("tilde-approx", "~5 minutes", "~5 minutes"),
    ("backslash-literal", "C:\\Users\\bob", "C:\\Users\\bob"),
    ("backslash-before-punct", "a\\*b", "a\\\\\\*b"),
    # code
    ("code-span-opaque", "`*x* <@U1> _y_`", "`*x* <@U1> _y_`"),
    ("code-span-entities", "`a &amp;&amp; b &lt;c&gt;`", "`a && b <c>`"),
    ("code-span-slack-link-unwrapped", "`curl <https://x.io/a?b=1&amp;c=2>`", "`curl https://x.io/a?b=1&c=2`"),
    ("code-span-labelled-link", "`see <http://x.io|x.io>`", "`see x.io`"),
    ("fence-inline", "```*x* <!channel>```", "```*x* <!channel>```"),
    ("fence-multiline", "```\nif a &lt; b:\n    go()\n```", "```\nif a < b:\n    go()\n```"),
    ("fence-unterminated", "```not code", "\\`\\`\\`not code"),
    ("backtick-unterminated", "it`s", "it\\`s"),
    ("code-not-across-lines", "`a\nb`", "\\`a\nb\\`"),
    ("bold-around-code", "*see `x` now*", "**see `x` now**"),
    # quotes
    ("quote", "&gt; quoted *b*\nnot", "> quoted **b**\nnot"),
    ("quote-no-space", "&gt;quoted", "> quoted"),
    ("quote-all", "&gt;&gt;&gt; rest\nof it", ">>> rest\nof it"),
    ("gt-inside-line", "a &gt; b", "a > b"),
    # links
    ("link-labelled", "<https://example.com|the site>", "[the site](https://example.com)"),
    ("link-bare", "<https://example.com>", "https://example.com"),
    ("link-label-equals-url", "<https://example.com|https://example.com>", "https://example.com"),
    ("link-with-underscores", "<https://x.io/a_b_c*d>", "https://x.io/a_b_c*d"),
    ("link-label-with-markers", "<https://x.io|*not* bold>", "[\\*not\\* bold](https://x.io)"),
    ("link-entity-in-url", "<https://x.io/?a=1&amp;b=2|q>", "[q](https://x.io/?a=1&b=2)"),
    ("link-label-with-bracket", "<https://x.io|a]b>", "[a\\]b](https://x.io)"),
    ("mailto", "<mailto:bob@example.com|bob@example.com>", "[bob@example.com](mailto:bob@example.com)"),
    ("bare-url-underscores", "see https://x.io/a_b_c_d ok", "see https://x.io/a_b_c_d ok"),
    ("bare-url-trailing-dot", "go to https://x.io.", "go to https://x.io."),
    ("not-a-url-tag", "<foo|bar>", "bar"),
    # mentions
    ("user-resolved", "hi <@U1>", "hi @alice"),
    ("user-resolved-label-ignored", "<@U2|Bobby>", "@bob"),
    ("user-with-dot", "<@W3>", "@carol.d"),
    ("user-unknown-with-label", "<@U9|zed>", "\\@zed"),
    ("user-unknown-no-label", "<@U9>", "\\@unknown-user"),
    ("plain-at-name-is-core-mention", "ping @dave please", "ping @dave please"),
    ("email-is-not-mention", "bob@example.com", "bob@example.com"),
    ("channel-resolved", "<#C1|general>", "#general"),
    ("channel-resolved-no-label", "<#C2>", "#dev-ops"),
    ("channel-unknown", "<#C9|random>", "#random"),
    ("channel-unknown-no-label", "<#C9>", "#unknown-channel"),
    ("subteam", "<!subteam^S1|@devs>", "\\@devs"),
    ("subteam-no-at", "<!subteam^S1|devs>", "\\@devs"),
    ("date-fallback", "<!date^1392734382^{date}|Feb 18, 2014>", "Feb 18, 2014"),
    ("date-no-fallback", "<!date^1392734382^{date}>", "18 February 2014 14:39 UTC"),
    # mass mentions
    ("channel-mass", "<!channel> look", "@channel look"),
    ("here-mass-label", "<!here|here>", "@here"),
    ("everyone-mass", "<!everyone>", "@everyone"),
    ("plain-everyone", "hey @everyone", "hey @everyone"),
    ("neutralised-everyone-restored", "@\u200beveryone", "@everyone"),
    ("mass-in-code-untouched", "`<!channel>`", "`<!channel>`"),
    # entities and text
    ("entities", "a &amp; b &lt;c&gt;", "a & b <c>"),
    ("entity-double-encoded", "&amp;lt;", "&lt;"),
    ("lone-ampersand", "R&D", "R&D"),
    ("emoji-shortcodes", ":smile: :+1: :thumbsup::skin-tone-2: :partyparrot:", "😄 👍 👍🏻 :partyparrot:"),
    ("unicode-emoji", "👍🏽 👩‍💻", "👍🏽 👩‍💻"),
    ("cjk", "*日本語* テキスト", "**日本語** テキスト"),
    ("rtl", "_שלום_ مرحبا", "*שלום* مرحبا"),
    ("zero-width-joiner-kept", "می\u200cخواهم", "می\u200cخواهم"),
    ("bidi-override-removed", "file\u202etxt.exe", "filetxt.exe"),
    ("isolates-removed", "a\u2066b\u2069c", "abc"),
    ("crlf", "a\r\nb", "a\nb"),
    ("heading-like-line-escaped", "# not a heading", "\\# not a heading"),
    ("subtext-like-line-escaped", "-# small", "\\-# small"),
    ("markdown-link-typed-literally", "[a](https://x.io)", "[a\\](https://x.io)"),
    ("angle-url-typed-literally", "&lt;https://x.io&gt;", "\\<https://x.io>"),
    ("zwsp-guarded-markers-stay-literal", "\u200b*lit*\u200b", "\\*lit\\*"),
    ("zwsp-guarded-quote-stays-literal", "\u200b&gt; not a quote", "\\> not a quote"),
    ("zwsp-elsewhere-kept", "a\u200bb", "a\u200bb"),
    ("spoiler-bars-literal", "||x||", "\\|\\|x\\|\\|"),
    ("empty", "", ""),
]


@pytest.mark.parametrize(("slack", "core"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_slack_to_core(slack: str, core: str) -> None:
    assert convert(slack) == core
