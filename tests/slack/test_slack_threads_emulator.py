"""The Slack emulator's thread rules against the real slack_sdk (sources in emulators/slack/threads.py)."""

from __future__ import annotations

import pytest
from slack_kit import web_client
from slack_sdk.errors import SlackApiError

from bridge.emulators.slack import SlackEmulator


def _subtypes(slack: SlackEmulator, since: int = 0) -> list[str | None]:
    return [p["event"].get("subtype") for p in slack.emitted[since:]]


async def test_a_thread_ts_matching_no_parent_is_ok_and_shown_nowhere(slack: SlackEmulator) -> None:
    """python-slack-sdk issue 840: ``ok: true``, no event, not in history nor in any thread."""
    client = web_client(slack)
    before = len(slack.emitted)
    ghost = await client.chat_postMessage(channel="C0CRICKET1", text="lost", thread_ts="1500000000.000100")
    assert ghost["ok"] and ghost["ts"]
    assert len(slack.emitted) == before
    assert slack.history("cricket") == []
    assert [e.kind for e in slack.log] == []
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C0CRICKET1", text="bad", thread_ts="not-a-ts")
    assert err.value.response["error"] == "invalid_thread_ts"


async def test_no_nested_threads(slack: SlackEmulator) -> None:
    """A reply's ts is no parent: posting under it is shown nowhere (the assumption in threads.py)."""
    client = web_client(slack)
    root = await client.chat_postMessage(channel="C0CRICKET1", text="root")
    reply = await client.chat_postMessage(channel="C0CRICKET1", text="reply", thread_ts=root["ts"])
    nested = await client.chat_postMessage(channel="C0CRICKET1", text="nested", thread_ts=reply["ts"])
    assert nested["ok"]
    thread = await client.conversations_replies(channel="C0CRICKET1", ts=root["ts"])
    assert [m["text"] for m in thread["messages"]] == ["root", "reply"]
    with pytest.raises(LookupError, match="no nested threads"):
        slack.user_says(user="bob", channel="cricket", text="x", thread_ts=reply["ts"])


async def test_broadcast_reply_is_in_the_thread_and_the_channel(slack: SlackEmulator) -> None:
    client = web_client(slack)
    root = slack.user_says(user="alice", channel="general", text="question")
    said = slack.user_says(user="bob", channel="general", text="answer for all", thread_ts=root.ts, broadcast=True)
    posted = await client.chat_postMessage(
        channel="C0GENERAL1", text="bridged", thread_ts=root.ts, reply_broadcast=True, username="Carol"
    )
    history = await client.conversations_history(channel="C0GENERAL1")
    assert [m["text"] for m in history["messages"]] == ["bridged", "answer for all", "question"]
    assert history["messages"][0]["subtype"] == "thread_broadcast"
    thread = await client.conversations_replies(channel="C0GENERAL1", ts=root.ts)
    assert [m["ts"] for m in thread["messages"]] == [root.ts, said.ts, posted["ts"]]
    event = next(p["event"] for p in slack.emitted if p["event"].get("ts") == said.ts)
    assert event["subtype"] == "thread_broadcast" and event["thread_ts"] == root.ts


async def test_a_reply_changes_its_parent(slack: SlackEmulator) -> None:
    root = slack.user_says(user="alice", channel="general", text="root")
    reply = slack.user_says(user="bob", channel="general", text="r1", thread_ts=root.ts)
    changed = slack.emitted[-1]["event"]
    assert changed["subtype"] == "message_changed" and changed["hidden"]
    assert changed["message"]["ts"] == root.ts and changed["message"]["text"] == "root"
    assert changed["message"]["reply_count"] == 1 and changed["message"]["reply_users"] == ["U0BOB00001"]
    assert changed["message"]["latest_reply"] == reply.ts
    assert changed["previous_message"].get("reply_count") is None


async def test_deleting_a_parent_with_replies_leaves_a_tombstone_then_deletes_it(slack: SlackEmulator) -> None:
    root = slack.user_says(user="alice", channel="general", text="root")
    reply = slack.user_says(user="bob", channel="general", text="r1", thread_ts=root.ts)
    start = len(slack.emitted)
    slack.user_deletes(channel="general", ts=root.ts)
    [event] = [p["event"] for p in slack.emitted[start:]]
    assert event["subtype"] == "message_changed"
    assert event["message"]["subtype"] == "tombstone" and event["message"]["user"] == "USLACKBOT"
    assert event["message"]["text"] == "This message was deleted." and event["message"]["hidden"]
    assert event["previous_message"]["text"] == "root"
    assert [m.text for m in slack.thread("general", root.ts)] == ["This message was deleted.", "r1"]
    client = web_client(slack)
    with pytest.raises(SlackApiError) as err:  # a tombstone is nobody's message any more
        await client.chat_delete(channel="C0GENERAL1", ts=root.ts)
    assert err.value.response["error"] == "message_not_found"
    # replies may still come, and when the last reply goes the tombstone goes too
    slack.user_says(user="carol", channel="general", text="r2", thread_ts=root.ts)
    later = slack.user_says(user="carol", channel="general", text="r3", thread_ts=root.ts)
    slack.user_deletes(channel="general", ts=later.ts)
    assert [m.text for m in slack.thread("general", root.ts)] == ["This message was deleted.", "r1", "r2"]
    for msg in slack.thread("general", root.ts)[1:]:
        slack.user_deletes(channel="general", ts=msg.ts)
    assert slack.emitted[-1]["event"]["subtype"] == "message_deleted"
    assert slack.emitted[-1]["event"]["deleted_ts"] == root.ts
    assert slack.thread("general", root.ts) == [] and slack.history("general") == []
    assert reply.deleted
