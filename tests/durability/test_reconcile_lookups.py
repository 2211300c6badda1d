"""What reconcile relies on: Slack message metadata round-trips through chat.postMessage and
conversations.history / conversations.replies with include_all_metadata (and only then), and the
adapters find exactly the parts an attempt that died left on the platform."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.adapters.slack import reconcile
from bridge.adapters.slack.outbound import SlackDestination
from bridge.core.ports import ChannelRef, OutboundMessage
from bridge.emulators.slack.config import EmulatorConfig
from bridge.emulators.slack.server import SlackEmulator


@pytest.fixture
async def slack() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(config=EmulatorConfig())
    # these tests post straight into one channel, faster than Slack's 1/s there (what they check
    # is metadata and the reconcile lookups, not the rate limit)
    emu.limiter.set_limit("chat.postMessage", None)
    await emu.start()
    yield emu
    await emu.stop()


def client(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=emu.config.bot_token, base_url=emu.api_url)


async def test_metadata_is_listed_only_with_include_all_metadata(slack: SlackEmulator) -> None:
    web = client(slack)
    general = slack.config.workspace.channel("general")
    assert general is not None
    meta = reconcile.part_metadata("1-0", 0)
    posted = await web.chat_postMessage(channel=general.id, text="hi", metadata=meta)
    await web.chat_postMessage(channel=general.id, text="reply", thread_ts=posted["ts"], metadata=meta)
    plain = await web.conversations_history(channel=general.id)
    assert "metadata" not in plain["messages"][0]
    full = await web.conversations_history(channel=general.id, include_all_metadata=True)
    assert full["messages"][0]["metadata"] == meta
    thread = await web.conversations_replies(channel=general.id, ts=posted["ts"], include_all_metadata=True)
    assert [m.get("metadata") for m in thread["messages"]] == [meta, meta]
    for bad in ({"event_type": 3, "event_payload": {}}, {"event_type": "x"}, "{not json"):
        with pytest.raises(SlackApiError, match="invalid_metadata_format"):
            await web.chat_postMessage(channel=general.id, text="bad", metadata=bad)


async def test_slack_sends_only_the_parts_a_dead_attempt_did_not_post(slack: SlackEmulator) -> None:
    general = slack.config.workspace.channel("general")
    assert general is not None
    ref = ChannelRef("slack", slack.config.workspace.team_id, general.id)
    dest = SlackDestination(client=client(slack), max_chars=100)
    text = " ".join(f"word{i}" for i in range(60))  # several parts of at most 100 characters
    parts = dest.render(OutboundMessage("5-0", "general", text, "Ada"))
    assert len(parts) >= 3
    # an attempt that died after posting the first two parts
    web = client(slack)
    for index in (0, 1):
        await web.chat_postMessage(
            channel=general.id, text=parts[index], metadata=reconcile.part_metadata("5-0", index)
        )
    message = OutboundMessage("5-0", "general", text, "Ada", reconcile_since_ms=1)
    ids = await dest.send(ref, message)
    shown = [m.text for m in slack.history("general")]
    assert shown == parts and len(ids) == len(parts)
    again = await dest.send(ref, message)  # nothing is absent any more: nothing is posted
    assert again == ids and [m.text for m in slack.history("general")] == parts
