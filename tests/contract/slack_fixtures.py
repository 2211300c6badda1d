"""Real captured Events API payloads, from Slack's own test suites (test data, used with the source
named). Each entry: the payload's ``event`` object as Slack sent it, and where it comes from.

The replay (``test_slack_fixture_replay.py``) rewrites only the ids (team, channel, users) to the
emulator's workspace so that the adapter can resolve the people; every other field is as captured.
"""

from __future__ import annotations

from typing import Any

BOLT = "slackapi/bolt-python tests/scenario_tests_async"
BOLT_COMMIT = "0fa6ca9d78f9e076da17131a59f63e4fbfa07b01"

# test_message_bot.py: user_message_event_payload
USER_MESSAGE: dict[str, Any] = {
    "client_msg_id": "968c94da-c271-4f2a-8ec9-12a9985e5df4",
    "type": "message",
    "text": "Hi there! Thanks for sharing the info!",
    "user": "W111",
    "ts": "1610261659.001400",
    "team": "T111",
    "blocks": [
        {
            "type": "rich_text",
            "block_id": "bN8",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [{"type": "text", "text": "Hi there! Thanks for sharing the info!"}],
                }
            ],
        }
    ],
    "channel": "C111",
    "event_ts": "1610261659.001400",
    "channel_type": "channel",
}

# test_message_bot.py: bot_message_event_payload (another app posting with a bot user)
APP_MESSAGE: dict[str, Any] = {
    "bot_id": "B999",
    "type": "message",
    "text": "Hi there! Thanks for sharing the info!",
    "user": "UB111",
    "ts": "1610261539.000900",
    "team": "T111",
    "bot_profile": {
        "id": "B999",
        "deleted": False,
        "name": "other-app",
        "updated": 1607307935,
        "app_id": "A222",
        "icons": {
            "image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png",
            "image_48": "https://a.slack-edge.com/80588/img/plugins/app/bot_48.png",
            "image_72": "https://a.slack-edge.com/80588/img/plugins/app/service_72.png",
        },
        "team_id": "T111",
    },
    "channel": "C111",
    "event_ts": "1610261539.000900",
    "channel_type": "channel",
}

# test_message_bot.py: classic_bot_message_event_payload (subtype bot_message, custom username)
BOT_MESSAGE: dict[str, Any] = {
    "type": "message",
    "subtype": "bot_message",
    "text": "Hi there! Thanks for sharing the info!",
    "ts": "1610262363.001600",
    "username": "classic-bot",
    "bot_id": "B888",
    "channel": "C111",
    "event_ts": "1610262363.001600",
    "channel_type": "channel",
}

# test_message_thread_broadcast.py: event_payload
THREAD_BROADCAST: dict[str, Any] = {
    "type": "message",
    "subtype": "thread_broadcast",
    "text": "Hi there!",
    "user": "U111",
    "ts": "1633670813.007500",
    "thread_ts": "1633663824.000500",
    "root": {
        "client_msg_id": "111-222-333-444-555",
        "type": "message",
        "text": "Write in the thread :bow:",
        "user": "U111",
        "ts": "1633663824.000500",
        "team": "T111",
        "thread_ts": "1633663824.000500",
        "reply_count": 17,
        "reply_users_count": 1,
        "latest_reply": "1633670813.007500",
        "reply_users": ["U111"],
        "is_locked": False,
    },
    "client_msg_id": "111-222-333-444-666",
    "channel": "C111",
    "event_ts": "1633670813.007500",
    "channel_type": "channel",
}

# test_message_file_share.py: event_payload (files[] trimmed of its thumbnails, fields kept)
FILE_SHARE: dict[str, Any] = {
    "type": "message",
    "text": "Hi there!",
    "files": [
        {
            "id": "F111",
            "created": 1652227642,
            "timestamp": 1652227642,
            "name": "file.png",
            "title": "file.png",
            "mimetype": "image/png",
            "filetype": "png",
            "pretty_type": "PNG",
            "user": "U111",
            "editable": False,
            "size": 92582,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": True,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": "https://files.slack.com/files-pri/T111-F111/file.png",
            "url_private_download": "https://files.slack.com/files-pri/T111-F111/download/file.png",
            "media_display_type": "unknown",
            "original_w": 1134,
            "original_h": 362,
            "permalink": "https://xxx.slack.com/files/U111/F111/file.png",
            "permalink_public": "https://slack-files.com/T111-F111-faecabecf7",
            "has_rich_preview": False,
        }
    ],
    "upload": False,
    "user": "U111",
    "display_as_bot": False,
    "ts": "1652227646.593159",
    "client_msg_id": "ca088267-717f-41a8-9db8-c98ae14ad6a0",
    "channel": "C111",
    "subtype": "file_share",
    "event_ts": "1652227646.593159",
    "channel_type": "channel",
}

# test_message_changed.py: event_payload — note: ``message`` has no ``ts``
MESSAGE_CHANGED: dict[str, Any] = {
    "type": "message",
    "subtype": "message_changed",
    "message": {
        "type": "message",
        "text": "updated message",
        "user": "U111",
        "team": "T111",
        "edited": {"user": "U111", "ts": "1665102362.000000"},
    },
    "previous_message": {
        "type": "message",
        "text": "original message",
        "user": "U222",
        "team": "T111",
        "ts": "1665102338.901939",
    },
    "channel": "C111",
    "hidden": True,
    "ts": "1665102362.013600",
    "event_ts": "1665102362.013600",
    "channel_type": "channel",
}

# test_message_deleted.py (commit 5c8e2f2fed866c88dac5e04e1332c1381b7817f5): event_payload
MESSAGE_DELETED: dict[str, Any] = {
    "type": "message",
    "subtype": "message_deleted",
    "previous_message": {
        "type": "message",
        "text": "Delete this message",
        "user": "U111",
        "team": "T111",
        "ts": "1665368619.804829",
    },
    "channel": "C111",
    "hidden": True,
    "deleted_ts": "1665368619.804829",
    "event_ts": "1665368629.007100",
    "ts": "1665368629.007100",
    "channel_type": "channel",
}
