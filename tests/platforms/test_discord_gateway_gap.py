"""Issue 12 item 6: what is said on Discord while the bridge's gateway session is invalidated (op 9
``d: false``: the new session does not get the missed events) reaches Slack all the same, exactly
once and in order — read back from channel history after the new READY (bridge.adapters.discord.catch_up)."""

from __future__ import annotations

from both_sides import Both, both_sides, core_texts
from waiting import until

from bridge.core.chat import Chat


async def _discord_says(b: Both, label: str, n: int) -> list[str]:
    texts = [f"{label} {i}" for i in range(n)]
    for i, text in enumerate(texts):
        await b.discord.say(("alice", "bob", "carol")[i % 3], "general", text)
    return texts


def _on_slack(b: Both, texts: list[str]) -> list[str] | None:
    got = [t for t in b.slack_texts() if t in texts]
    return got if len(got) >= len(texts) else None


async def test_messages_said_while_the_session_is_invalidated_reach_slack_once_in_order(
    chat: Chat, redis_url: str
) -> None:
    async with both_sides(chat, redis_url, discord_settings={"identify_delay": 0}) as b:
        before = await _discord_says(b, "before the gap", 2)
        await until(lambda: _on_slack(b, before), what="the first messages on Slack")
        await b.discord.outage(True)  # the bridge cannot reconnect yet ...
        assert await b.discord.gateway.fault("invalid_session") == 1  # ... and its session is gone
        gap = await _discord_says(b, "said in the gap", 10)
        await b.discord.outage(False)
        await b.adapter("discord").catch_up.wait_runs(1, within=30)
        after = await _discord_says(b, "after the gap", 2)
        expected = before + gap + after
        got = await until(lambda: _on_slack(b, expected), timeout=30, what="every message on Slack")
        assert got == expected  # all of them, once each, in the order they were said
        core = [t for t in await core_texts(chat) if t in expected]
        assert core == expected
        assert await b.dead_letters() == 0
        assert b.discord.gateway.identifies == 2 and b.discord.gateway.resumes == 0
