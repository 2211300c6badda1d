"""Discord markdown -> core markdown (``discord_to_core``), table-driven."""

from __future__ import annotations

import pytest

from bridge.formatting import discord_to_core

USERS = {"111": "alice", "112": "bob"}
CHANNELS = {"222": "general"}
ROLES = {"333": "Moderators"}


def convert(text: str) -> str:
    return discord_to_core(text, user_name=USERS.get, channel_name=CHANNELS.get, role_name=ROLES.get)


IDENTITY = [
    ("bold", "**bold**"),
    ("italic-star", "*italic*"),
    ("italic-underscore", "_italic_"),
    ("underline-kept", "__underline__"),
    ("underline-italic", "___both___"),
    ("strike", "~~gone~~"),
    ("spoiler-kept", "||secret||"),
    ("nested", "**bold *italic* ~~strike~~**"),
    ("bold-italic", "***both***"),
    ("italic-around-underline-and-bold", "*__x__ and **y***"),
    ("bold-first-in-italic", "***x** y*"),
    ("star-inside-word-is-italic-on-discord", "2*3*4"),
    ("snake-case", "snake_case_name"),
    ("lone-star", "a * b"),
    ("escaped-stars", "\\*not italic\\*"),
    ("code-span", "`**x** <@111> @everyone`"),
    ("double-backtick-code", "``a ` b``"),
    ("fence-with-language", "```python\nprint('*hi*')\n```"),
    ("fence-without-language", "```\n<@111>\n```"),
    ("quote", "> quoted **b**\nnext"),
    ("quote-all", ">>> all\nof this"),
    ("heading", "# Title\n## Sub"),
    ("subtext", "-# small print"),
    ("masked-link", "[the docs](https://x.io/a_b*c)"),
    ("angle-link", "<https://x.io/a_b>"),
    ("bare-link-underscores", "https://x.io/snake_case_path"),
    ("list", "- one\n- two\n1. three"),
    ("emoji-shortcode", ":smile: :+1:"),
    ("plain-mention", "hi @dave"),
    ("plain-channel", "see #random"),
    ("cjk-rtl", "**日本語** שלום مرحبا"),
    ("zwj-emoji", "👩\u200d💻 👍🏽"),
    ("url-with-parens", "[w](https://en.wikipedia.org/wiki/Foo_%28bar%29)"),
]


@pytest.mark.parametrize("text", [c[1] for c in IDENTITY], ids=[c[0] for c in IDENTITY])
def test_discord_markdown_passes_through(text: str) -> None:
    assert convert(text) == text


CASES = [
    ("user-mention", "hi <@111>", "hi @alice"),
    ("user-mention-nick", "<@!112>", "@bob"),
    ("user-unknown", "<@999>", "\\@unknown-user"),
    ("channel", "<#222>", "#general"),
    ("channel-unknown", "<#999>", "#unknown-channel"),
    ("role-never-a-ping", "<@&333> please", "\\@Moderators please"),
    ("role-unknown", "<@&999>", "\\@unknown-role"),
    ("custom-emoji", "<:blob:123456>", ":blob:"),
    ("animated-emoji", "<a:dance:654321>", ":dance:"),
    ("timestamp-default", "<t:1618953630>", "20 April 2021 21:20 UTC"),
    ("timestamp-full", "<t:1618953630:F>", "Tuesday, 20 April 2021 21:20 UTC"),
    ("timestamp-short-time", "<t:1618953630:t>", "21:20 UTC"),
    ("timestamp-long-time", "<t:1618953630:T>", "21:20:30 UTC"),
    ("timestamp-short-date", "<t:1618953630:d>", "2021-04-20"),
    ("timestamp-long-date", "<t:1618953630:D>", "20 April 2021"),
    ("timestamp-relative-absolute", "<t:1618953630:R>", "20 April 2021 21:20 UTC"),
    ("slash-command", "</deploy:42>", "/deploy"),
    ("everyone-plain-word", "@everyone look", "@everyone look"),
    ("here-plain-word", "@here", "@here"),
    ("neutralised-restored", "@\u200beveryone", "@everyone"),
    ("mention-in-code-untouched", "`<@111>`", "`<@111>`"),
    ("escaped-mention-stays-text", "\\<@111>", "<@111>"),
    ("slack-syntax-typed-on-discord", "<!channel> <@U1>", "<!channel> <@U1>"),
    ("mention-in-bold", "**<@111>**", "**@alice**"),
    ("mention-in-link-label", "[ask <@111>](https://x.io)", "[ask @alice](https://x.io)"),
    ("bidi-override-removed", "invoice\u202efdp.exe", "invoicefdp.exe"),
    ("needless-escape-normalised", "\\a \\# b", "\\a # b"),
    ("empty-bold-literal", "****", "\\*\\*\\*\\*"),
    ("bold-then-italic-adjacent", "**a***b*", "**a**_b_"),
    ("italic-then-bold-adjacent", "*a***b**", "_a_**b**"),
    ("double-star-inside-italic", "*a**b*", "*a\\*\\*b*"),
    ("two-italics-adjacent", "*a* *b*", "*a* *b*"),
    ("unterminated-escaped", "**open and _half", "\\*\\*open and \\_half"),
]


@pytest.mark.parametrize(("discord", "core"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_discord_to_core(discord: str, core: str) -> None:
    assert convert(discord) == core
