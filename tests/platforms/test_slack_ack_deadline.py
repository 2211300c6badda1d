"""A 429 on ``users.info`` (Slack's tier 4, api.slack.com/docs/rate-limits) while an event waits for
its ack must not hold the ack past Slack's 3 s (api.slack.com/apis/events-api: "respond ... within
3 seconds", else the event is retried): the adapter looks people up before acking
(process_before_response), so the lookup must not sleep out a Retry-After."""

from __future__ import annotations

import time

from both_sides import both_sides, core_texts
from waiting import until, until_async

from bridge.core.chat import Chat
from bridge.emulators.slack import Injected


async def test_a_rate_limited_profile_lookup_does_not_delay_the_ack(chat: Chat, redis_url: str) -> None:
    async with both_sides(chat, redis_url) as b:
        b.slack.limiter.inject("users.info", Injected(error="ratelimited", count=10, status=429, retry_after=30))
        started = time.monotonic()
        b.slack.user_says(user="carol", channel="general", text="said while users.info is limited")
        await until_async(
            lambda: _has(b.chat, "said while users.info is limited"), timeout=10, what="the message in the core"
        )
        assert time.monotonic() - started < 3.0
        acked = [e for e in b.slack.socket.envelopes if e.acked and e.type == "events_api"]
        assert acked and all(e.retry_attempt == 0 for e in acked)  # never redelivered


async def _has(chat: Chat, text: str) -> bool:
    return text in await core_texts(chat)


async def test_an_empty_display_name_falls_back_to_the_real_name(chat: Chat, redis_url: str) -> None:
    """``profile.display_name`` is often empty on real workspaces (api.slack.com/types/user: "the
    display name the user has chosen", optional; real_name is always set)."""
    async with both_sides(chat, redis_url) as b:
        b.slack.workspace.users["U0CAROL001"].display_name = ""
        b.slack.workspace.users["U0CAROL001"].real_name = "Carol Cardigan"
        b.slack.user_says(user="carol", channel="general", text="who am I")
        copy = await until(
            lambda: next((m for m in b.discord.messages("general") if m["content"] == "who am I"), None),
            what="the message on Discord",
        )
        assert copy["author"]["username"] == "Carol Cardigan"
