"""Core markdown -> Discord markdown (``core_to_discord`` / ``core_to_discord_with_mentions``)."""

from __future__ import annotations

import pytest

from bridge.formatting import core_to_discord, core_to_discord_with_mentions

Z = "\u200b"
DISCORD_IDS = {"alice": "111", "bob": "112", "mallory": "not-a-snowflake"}
DISCORD_CHANNELS = {"general": "222"}


def convert(text: str) -> tuple[str, list[str]]:
    return core_to_discord_with_mentions(text, mention=DISCORD_IDS.get, channel=DISCORD_CHANNELS.get)


CASES = [
    ("markup-identity", "**b** *i* _i_ __u__ ~~s~~ ||sp|| `c`", "**b** *i* _i_ __u__ ~~s~~ ||sp|| `c`", []),
    ("fence-identity", "```py\nx = '<@1>'\n```", "```py\nx = '<@1>'\n```", []),
    ("quote-heading-identity", "> q\n# h\n-# s", "> q\n# h\n-# s", []),
    ("link-identity", "[t](https://x.io/a_b) <https://y.io>", "[t](https://x.io/a_b) <https://y.io>", []),
    ("linked-user", "hi @alice", "hi <@111>", ["111"]),
    ("two-users-once-each", "@bob @alice @bob", "<@112> <@111> <@112>", ["112", "111"]),
    ("unlinked-user-plain", "hi @carol", "hi @carol", []),
    ("resolver-garbage-id-ignored", "@mallory", "@mallory", []),
    ("escaped-mention-plain", "\\@alice", "@alice", []),
    ("mention-in-code-untouched", "`@alice`", "`@alice`", []),
    ("linked-channel", "#general", "<#222>", []),
    ("unlinked-channel", "#random", "#random", []),
    ("everyone-neutralised", "@everyone", f"@{Z}everyone", []),
    ("here-neutralised", "ping @here now", f"ping @{Z}here now", []),
    ("everyone-case-neutralised", "@Everyone", f"@{Z}everyone", []),
    ("everyone-in-code-untouched", "`@everyone`", "`@everyone`", []),
    ("everyone-in-fence-untouched", "```\n@here\n```", "```\n@here\n```", []),
    ("escaped-everyone-neutralised", "\\@everyone", f"@{Z}everyone", []),
    ("raw-user-tag-escaped", "<@123>", "\\<@123>", []),
    ("raw-nick-tag-escaped", "<@!123>", "\\<@!123>", []),
    ("raw-role-tag-escaped", "<@&123>", "\\<@&123>", []),
    ("raw-channel-tag-escaped", "<#123>", "\\<#123>", []),
    ("raw-emoji-and-time-escaped", "<:x:1> <a:y:2> <t:1:R> </c:1>", "\\<:x:1> \\<a:y:2> \\<t:1:R> \\</c:1>", []),
    ("slack-syntax-visible", "<!channel> <@U1>", "<!channel> \\<@U1>", []),
    ("less-than-elsewhere", "a < b", "a < b", []),
    ("escapes-kept", "\\*lit\\* 2\\*3", "\\*lit\\* 2\\*3", []),
    ("mention-in-bold", "**@alice**", "**<@111>**", ["111"]),
    ("bidi-override-removed", "a\u2067b", "ab", []),
    ("rtl-kept", "שלום @alice", "שלום <@111>", ["111"]),
]


@pytest.mark.parametrize(("core", "discord", "ids"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_core_to_discord(core: str, discord: str, ids: list[str]) -> None:
    assert convert(core) == (discord, ids)
    assert core_to_discord(core, mention=DISCORD_IDS.get, channel=DISCORD_CHANNELS.get) == discord
