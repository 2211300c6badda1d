"""slack_sdk against the emulator's reactions.add/remove/get, emoji.list and reaction events
(Slack docs: methods reactions.add, reactions.remove, emoji.list; events reaction_added/removed)."""

from __future__ import annotations

import pytest
from slack_kit import web_client
from slack_sdk.errors import SlackApiError

from bridge.emulators.slack import SlackEmulator


def _reaction_events(emu: SlackEmulator) -> list[dict[str, object]]:
    return [p["event"] for p in emu.emitted if str(p["event"].get("type", "")).startswith("reaction_")]


async def test_bot_reactions_and_their_errors(slack: SlackEmulator) -> None:
    msg = slack.user_says(user="alice", channel="general", text="react here")
    client = web_client(slack)
    await client.reactions_add(channel=msg.channel, timestamp=msg.ts, name="+1")
    await client.reactions_add(channel=msg.channel, timestamp=msg.ts, name="wave::skin-tone-3")
    with pytest.raises(SlackApiError) as err:
        await client.reactions_add(channel=msg.channel, timestamp=msg.ts, name="+1")
    assert err.value.response["error"] == "already_reacted"
    got = await client.reactions_get(channel=msg.channel, timestamp=msg.ts)
    assert got["message"]["reactions"] == [
        {"name": "+1", "users": [slack.workspace.bot_user_id], "count": 1},
        {"name": "wave::skin-tone-3", "users": [slack.workspace.bot_user_id], "count": 1},
    ]
    await client.reactions_remove(channel=msg.channel, timestamp=msg.ts, name="+1")
    with pytest.raises(SlackApiError) as err:
        await client.reactions_remove(channel=msg.channel, timestamp=msg.ts, name="+1")
    assert err.value.response["error"] == "no_reaction"
    events = _reaction_events(slack)
    assert [(e["type"], e["reaction"]) for e in events] == [
        ("reaction_added", "+1"),
        ("reaction_added", "wave::skin-tone-3"),
        ("reaction_removed", "+1"),
    ]
    assert events[0]["item"] == {"type": "message", "channel": msg.channel, "ts": msg.ts}
    assert events[0]["item_user"] == slack.workspace.user("alice").id  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"name": "not a name"}, "invalid_name"),
        ({"name": "nosuchcustomemoji"}, "invalid_name"),
        ({"name": "+1", "timestamp": "1.000001"}, "message_not_found"),
        ({"name": "+1", "timestamp": ""}, "no_item_specified"),
        ({"name": "+1", "channel": "C0NOPE0001"}, "channel_not_found"),
    ],
)
async def test_reactions_add_bad_input(slack: SlackEmulator, args: dict[str, str], error: str) -> None:
    msg = slack.user_says(user="alice", channel="general", text="bad input")
    client = web_client(slack)
    call = {"channel": msg.channel, "timestamp": msg.ts, **args}
    with pytest.raises(SlackApiError) as err:
        await client.reactions_add(**call)
    assert err.value.response["error"] == error
    assert msg.reactions == []


async def test_people_react_with_custom_emoji_and_emoji_list(slack: SlackEmulator) -> None:
    msg = slack.user_says(user="alice", channel="general", text="custom")
    assert slack.user_reacts(user="bob", channel="general", ts=msg.ts, name="partyparrot")
    assert slack.user_reacts(user="carol", channel="general", ts=msg.ts, name=":partyparrot:")
    assert not slack.user_reacts(user="carol", channel="general", ts=msg.ts, name="partyparrot")
    assert msg.to_api()["reactions"] == [{"name": "partyparrot", "users": ["U0BOB00001", "U0CAROL001"], "count": 2}]
    listed = await web_client(slack).emoji_list()
    assert listed["emoji"]["partyparrot"].startswith("https://")
    assert listed["emoji"]["parrot"] == "alias:partyparrot"
    assert slack.user_reacts(user="bob", channel="general", ts=msg.ts, name="partyparrot", remove=True)
    assert msg.to_api()["reactions"] == [{"name": "partyparrot", "users": ["U0CAROL001"], "count": 1}]


async def test_reaction_scopes_are_installed(slack: SlackEmulator) -> None:
    answer = await web_client(slack).auth_test()
    scopes = answer.headers["x-oauth-scopes"].split(",")
    assert {"reactions:read", "reactions:write", "emoji:read"} <= set(scopes)
