"""Emoji names: Slack shortcodes <-> Unicode <-> custom emoji (bridge.formatting.emoji), table-driven."""

from __future__ import annotations

import emoji as emoji_lib
import pytest

from bridge.formatting import core_to_discord, core_to_slack, discord_to_core, slack_to_core
from bridge.formatting.emoji import (
    SLACK_NAMES,
    DiscordCustom,
    from_discord_reaction,
    from_slack_reaction,
    normalize,
    parse_discord_custom,
    slack_to_unicode,
    to_discord_reaction,
    to_slack_reaction,
    unicode_to_slack,
)

Z = "\u200b"

SLACK_TO_UNICODE = [
    ("+1", "👍"),
    ("thumbsup", "👍"),
    ("-1", "👎"),
    ("fox_face", "🦊"),
    ("heart", "❤️"),
    ("wave::skin-tone-3", "👋🏼"),
    ("+1::skin-tone-2", "👍🏻"),
    ("+1::skin-tone-6", "👍🏿"),
    ("shrug::skin-tone-4", "🤷🏽"),
    ("man-shrugging", "🤷\u200d♂️"),
    ("thinking_face", "🤔"),
    ("laughing", "😆"),
    ("face_palm", "🤦"),
    ("flag-fr", "🇫🇷"),
    ("us", "🇺🇸"),
    ("tada", "🎉"),
    ("100", "💯"),
    ("heart::skin-tone-3", "❤️"),  # a tone the emoji cannot take is dropped
    ("partyparrot", None),  # custom
    ("skin-tone-2", None),
    ("Not An Emoji", None),
]


@pytest.mark.parametrize(("name", "char"), SLACK_TO_UNICODE, ids=[c[0] for c in SLACK_TO_UNICODE])
def test_slack_name_to_unicode(name: str, char: str | None) -> None:
    assert slack_to_unicode(name) == char


UNICODE_TO_SLACK = [
    ("👍", "+1"),
    ("👎", "-1"),
    ("👋🏼", "wave::skin-tone-3"),
    ("❤", "heart"),  # unqualified, as Discord sometimes sends it
    ("❤️", "heart"),
    ("🦊", "fox_face"),
    ("🤷🏽\u200d♂️", "man-shrugging::skin-tone-4"),
    ("🧑🏻\u200d🤝\u200d🧑🏿", "people_holding_hands::skin-tone-2-6"),
    ("🇯🇵", "jp"),
    ("🇦🇫", "flag-af"),
    ("😄", "smile"),
    ("a", None),
]


@pytest.mark.parametrize(("char", "name"), UNICODE_TO_SLACK, ids=[c[1] or "none" for c in UNICODE_TO_SLACK])
def test_unicode_to_slack_name(char: str, name: str | None) -> None:
    assert unicode_to_slack(char) == name


def test_every_standard_emoji_round_trips_through_its_slack_name() -> None:
    qualified = [c for c, d in emoji_lib.EMOJI_DATA.items() if d["status"] == emoji_lib.STATUS["fully_qualified"]]
    assert len(qualified) > 3000
    broken = [c for c in qualified if slack_to_unicode(unicode_to_slack(c) or "") != c]
    assert broken == []


@pytest.mark.parametrize(("char", "name"), sorted(SLACK_NAMES.items()))
def test_slack_own_names_win_over_the_package_aliases(char: str, name: str) -> None:
    assert unicode_to_slack(char) == name
    assert slack_to_unicode(name) == char


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("<:blob:123>", DiscordCustom("blob", "123")),
        ("<a:dance:456>", DiscordCustom("dance", "456", True)),
        ("blob:123", DiscordCustom("blob", "123")),
        ("a:dance:456", DiscordCustom("dance", "456", True)),
        ("<:blob:123", None),
        ("👍", None),
        ("<:blob:x>", None),
    ],
)
def test_parse_discord_custom(text: str, parsed: DiscordCustom | None) -> None:
    assert parse_discord_custom(text) == parsed


def test_custom_emoji_image_url() -> None:
    assert DiscordCustom("dance", "456", True).image_url == "https://cdn.discordapp.com/emojis/456.gif"


REACTIONS = [
    # (slack name, discord (name, id), core key)
    ("+1", ("👍", None), "👍"),
    ("wave::skin-tone-3", ("👋🏼", None), "👋🏼"),
    ("heart", ("❤", None), "❤️"),
    ("partyparrot", ("partyparrot", "77"), ":partyparrot:"),
]


@pytest.mark.parametrize(("slack", "discord", "core"), REACTIONS, ids=[c[0] for c in REACTIONS])
def test_reaction_keys_both_ways(slack: str, discord: tuple[str, str | None], core: str) -> None:
    assert from_slack_reaction(slack) == core
    assert from_discord_reaction(*discord) == core
    custom = {"partyparrot": DiscordCustom("partyparrot", "77")}
    assert to_slack_reaction(core, {"partyparrot"}) == slack
    expected = normalize(discord[0]) if discord[1] is None else f"{discord[0]}:{discord[1]}"
    assert to_discord_reaction(core, custom) == expected


def test_custom_emoji_the_other_side_lacks_has_no_reaction() -> None:
    assert to_slack_reaction(":blob:", set()) is None
    assert to_discord_reaction(":partyparrot:", {}) is None
    assert to_slack_reaction(":smile:", set()) == "smile"  # a Discord custom emoji named like a standard one
    assert from_discord_reaction(None, "5") is None
    assert from_discord_reaction(None, None) is None


def _none(_: str) -> str | None:
    return None


TEXT = [
    ("slack-standard", ":wave::skin-tone-3: hi :+1:", "👋🏼 hi 👍"),
    ("slack-custom-stays", "nice :partyparrot:", "nice :partyparrot:"),
    ("slack-code-untouched", "`:smile:`", "`:smile:`"),
    ("slack-times-untouched", "at 10:30:45", "at 10:30:45"),
    ("slack-glued", "ok:+1:ok", "ok👍ok"),
]


@pytest.mark.parametrize(("name", "slack", "discord"), TEXT, ids=[c[0] for c in TEXT])
def test_slack_text_shortcodes_become_unicode_on_discord(name: str, slack: str, discord: str) -> None:
    core = slack_to_core(slack, user_name=_none, channel_name=_none)
    assert core_to_discord(core, mention=_none, channel=_none) == discord


FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
DISCORD_TEXT = [
    ("unicode", "hi 👋🏼 👍", "hi :wave::skin-tone-3: :+1:"),
    ("custom", "look <:blob:123> <a:dance:456>", "look :blob: :dance:"),
    ("code-untouched", "`👍`", "`👍`"),
    ("literal-shortcode-guarded", "\\:smile:", f":{Z}smile:"),
    ("in-italics", "*yay 🎉*", "_yay :tada:_"),
    # a ZWJ sequence with no name of its own stays whole (two shortcodes around a joiner would show apart)
    ("unnamed-zwj-sequence", "us 👨\u200d👩 🎉", "us 👨\u200d👩 :tada:"),
    ("zwj-run-that-is-no-emoji", "a \U0001f468\u200d\U0001f469 b", "a \U0001f468\u200d\U0001f469 b"),
    ("cldr-named-emoji-stays-unicode", FAMILY, FAMILY),
]


@pytest.mark.parametrize(("name", "discord", "slack"), DISCORD_TEXT, ids=[c[0] for c in DISCORD_TEXT])
def test_discord_text_emoji_become_slack_shortcodes(name: str, discord: str, slack: str) -> None:
    core = discord_to_core(discord, user_name=_none, channel_name=_none, role_name=_none)
    assert core_to_slack(core, mention=_none, channel=_none) == slack
    back = slack_to_core(core_to_slack(core, mention=_none, channel=_none), user_name=_none, channel_name=_none)
    assert back == core
