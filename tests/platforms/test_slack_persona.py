"""Does ``chat.update`` keep a mirrored post's custom username and icon? Slack's docs do not say
(chat.update documents neither argument), so the emulator can answer both ways
(``update_keeps_persona``) and the adapter must be right with either: it sends the persona again."""

from __future__ import annotations

import pytest
from both_sides import both_sides
from waiting import until

from bridge.core.chat import Chat


@pytest.mark.parametrize("keeps", [True, False], ids=["slack-keeps-persona", "slack-resets-persona"])
async def test_an_edit_keeps_the_senders_name_on_slack(chat: Chat, redis_url: str, keeps: bool) -> None:
    async with both_sides(chat, redis_url) as b:
        b.slack.config.update_keeps_persona = keeps
        sent = await b.discord.say("alice", "general", "first words")
        copy = await until(lambda: next((m for m in b.slack.history("general") if m.text == "first words"), None))
        name = copy.username
        assert name and "Alice" in name
        await b.discord.edit("general", sent["id"], "second words")
        edited = await until(lambda: next((m for m in b.slack.history("general") if m.text == "second words"), None))
        assert edited.ts == copy.ts
        assert edited.username == name
        update = next(r for r in reversed(b.slack.requests) if r.api_method == "chat.update")
        assert update.args.get("username") == name
