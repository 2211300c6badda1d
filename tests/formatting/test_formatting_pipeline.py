"""Whole mirror paths: Slack -> core -> Discord and Discord -> core -> Slack, as the worker runs them."""

from __future__ import annotations

import pytest

from bridge.formatting import (
    DISCORD_LIMIT,
    core_to_discord_with_mentions,
    core_to_slack,
    discord_to_core,
    slack_to_core,
    split_for_discord,
    split_for_slack,
)

Z = "\u200b"
# one person linked on both sides (alice), one only on Slack (sam), one only on Discord (dora)
SLACK_USERS = {"U1": "alice", "U2": "sam"}
DISCORD_USERS = {"111": "alice", "333": "dora"}
SLACK_IDS = {"alice": "U1", "sam": "U2"}
DISCORD_IDS = {"alice": "111", "dora": "333"}
SLACK_CHANNELS = {"C1": "general"}
DISCORD_CHANNELS = {"222": "general"}


def slack_to_discord(text: str) -> tuple[str, list[str]]:
    core = slack_to_core(text, user_name=SLACK_USERS.get, channel_name=SLACK_CHANNELS.get)
    return core_to_discord_with_mentions(core, mention=DISCORD_IDS.get, channel={"general": "222"}.get)


def discord_to_slack(text: str) -> str:
    core = discord_to_core(
        text, user_name=DISCORD_USERS.get, channel_name=DISCORD_CHANNELS.get, role_name={"5": "Mods"}.get
    )
    return core_to_slack(core, mention=SLACK_IDS.get, channel={"general": "C1"}.get)


SLACK_TO_DISCORD = [
    ("formatting", "*bold* _it_ ~gone~ `x` ```y```", "**bold** *it* ~~gone~~ `x` ```y```", []),
    ("linked-user-pings", "hey <@U1>", "hey <@111>", ["111"]),
    ("slack-only-user-plain", "hey <@U2>", "hey @sam", []),
    ("unknown-user-plain", "hey <@U9|zed>", "hey @zed", []),
    ("typed-name-of-discord-user", "thanks @dora", "thanks <@333>", ["333"]),
    ("channel", "see <#C1|general>", "see <#222>", []),
    ("mass-mentions-neutralised", "<!channel> <!here> <!everyone>", f"@{Z}channel @{Z}here @{Z}everyone", []),
    ("code-stays-code", "`<@U1> *x*`", "`<@U1> *x*`", []),
    ("entities", "a &lt;b&gt; &amp; c", "a <b> & c", []),
    ("discord-tag-typed-on-slack", "&lt;@111&gt; &lt;@&amp;5&gt;", "\\<@111> \\<@&5>", []),
    ("link", "<https://x.io/a_b|docs>", "[docs](https://x.io/a_b)", []),
    ("literal-stars", "2*3*4 = 24", "2\\*3\\*4 = 24", []),
    ("quote", "&gt; quoted", "> quoted", []),
]


@pytest.mark.parametrize(
    ("slack", "discord", "ids"), [c[1:] for c in SLACK_TO_DISCORD], ids=[c[0] for c in SLACK_TO_DISCORD]
)
def test_slack_to_discord(slack: str, discord: str, ids: list[str]) -> None:
    assert slack_to_discord(slack) == (discord, ids)


DISCORD_TO_SLACK = [
    ("formatting", "**bold** *it* ~~gone~~ __u__ ||sp||", "*bold* _it_ ~gone~ u ||sp||"),
    ("linked-user", "hey <@111>", "hey <@U1>"),
    ("discord-only-user-plain", "hey <@333>", "hey @dora"),
    ("typed-name-of-slack-user", "thanks @sam", "thanks <@U2>"),
    ("role-never-pings", "<@&5> look", "@Mods look"),
    ("mass-neutralised", "@everyone @here", f"@{Z}everyone @{Z}here"),
    ("slack-syntax-typed-on-discord", "<!channel> <@U1>", "&lt;!channel&gt; &lt;@U1&gt;"),
    ("custom-emoji-and-time", "<:party:1> <t:0:d>", ":party: 1970-01-01"),
    ("fence-language-dropped", "```py\nx = 1 < 2\n```", "```x = 1 &lt; 2\n```"),
    ("link", "[docs](https://x.io/a_b)", "<https://x.io/a_b|docs>"),
    ("literal-stars", "\\*not bold\\*", f"{Z}*not bold*{Z}"),
    ("subtext-and-heading", "# Title\n-# small", "*Title*\nsmall"),
]


@pytest.mark.parametrize(("discord", "slack"), [c[1:] for c in DISCORD_TO_SLACK], ids=[c[0] for c in DISCORD_TO_SLACK])
def test_discord_to_slack(discord: str, slack: str) -> None:
    assert discord_to_slack(discord) == slack


def test_long_slack_message_reaches_discord_in_parts() -> None:
    paragraph = "A sentence with *bold* and <@U1> in it. " * 40
    code = "```\n" + "\n".join(f"line {i} <@U1>" for i in range(120)) + "\n```"
    rendered, ids = slack_to_discord(f"{paragraph}\n\n{code}\n\n{paragraph}")
    parts = split_for_discord(rendered)
    assert len(parts) >= 3
    assert all(len(p) <= DISCORD_LIMIT for p in parts)
    assert ids == ["111"]
    assert all(p.count("```") % 2 == 0 for p in parts)


def test_long_discord_message_reaches_slack_in_parts() -> None:
    text = "word " * 2000
    parts = split_for_slack(discord_to_slack(text))
    assert len(parts) == 3
    assert all(len(p) <= 4000 for p in parts)
    assert " ".join(parts).split() == text.split()
