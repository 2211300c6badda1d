"""Telling a Slack sender that their message (or a file of it) did not cross: an ephemeral message
(``chat.postEphemeral``, only they see it, in the channel where they posted; docs.slack.dev
reference/methods/chat.postEphemeral). It is shown in the channel, not inside a thread the message
may have been posted in (the notice names the message's fate; Slack keeps ephemerals until reload)."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bridge.adapters.sender_notices import NoticeGate, SenderNotices
from bridge.adapters.slack import text as slack_text


def slack_notices(client: AsyncWebClient, gate: NoticeGate | None = None) -> SenderNotices:
    async def deliver(channel_id: str, message_id: str, user_id: str, text: str) -> None:
        await client.chat_postEphemeral(channel=channel_id, user=user_id, text=slack_text.to_slack(text))

    return SenderNotices("slack", deliver, gate)
