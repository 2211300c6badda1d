"""A platform that cannot be reached never stops the bridge (issue 12): the other side keeps
mirroring, the adapter reports its state and retries, and the backlog arrives once it is back.

Each outage is produced by the emulators (``bridge.emulators.network``): connections refused, 5xx on
every request, the token revoked (Discord 401 + gateway close 4004; Slack ``token_revoked``)."""

from __future__ import annotations

from both_sides import Both, both_sides, core_texts
from waiting import until, until_async

from bridge.core.chat import Chat


async def slack_says(b: Both, label: str, n: int = 3) -> list[str]:
    texts = [f"{label} {i}" for i in range(n)]
    for text in texts:
        b.slack.user_says(user="bob", channel="general", text=text)
    await until_async(
        lambda: _contains(b.chat, texts), what="Slack's messages in the core (Slack → core keeps working)"
    )
    return texts


async def discord_says(b: Both, label: str, n: int = 3) -> list[str]:
    texts = [f"{label} {i}" for i in range(n)]
    for text in texts:
        await b.discord.say("alice", "general", text)
    await until_async(lambda: _contains(b.chat, texts), what="Discord's messages in the core")
    return texts


async def _contains(chat: Chat, texts: list[str]) -> bool:
    have = await core_texts(chat)
    return all(t in have for t in texts)


def arrived(have: list[str], texts: list[str]) -> list[str] | None:
    got = [t for t in have if t in texts]
    return got if len(got) >= len(texts) else None


async def test_discord_refusing_connections_holds_its_backlog_while_slack_works(chat: Chat, redis_url: str) -> None:
    async with both_sides(chat, redis_url) as b:
        adapter = b.adapter("discord")
        assert adapter.link.ok
        assert await b.discord.network.refuse() >= 1  # the gateway socket at least
        await until(lambda: not adapter.link.ok, what="the Discord link reported down")
        texts = await slack_says(b, "said while Discord refused connections")
        assert not any(t in b.discord_texts() for t in texts)
        await b.discord.network.restore()
        got = await until(lambda: arrived(b.discord_texts(), texts), timeout=30, what="the backlog on Discord")
        assert got == texts  # once each, in order
        await until(lambda: adapter.link.ok, timeout=30, what="the Discord link up again")
        assert await b.dead_letters() == 0


async def test_discord_answering_5xx_is_retried_without_dead_letters(chat: Chat, redis_url: str) -> None:
    async with both_sides(chat, redis_url) as b:
        b.discord.network.fail(502)
        texts = await slack_says(b, "said while Discord answered 502")
        await until(lambda: b.discord.network.errors_answered >= 2, what="the worker retrying against the 502s")
        b.discord.network.mode = "none"
        got = await until(lambda: arrived(b.discord_texts(), texts), timeout=30, what="the backlog on Discord")
        assert got == texts
        assert await b.dead_letters() == 0


async def test_discord_token_revoked_is_one_clear_state_and_recovers(chat: Chat, redis_url: str) -> None:
    async with both_sides(chat, redis_url) as b:
        adapter = b.adapter("discord")
        await b.discord.revoke_token()
        await until(lambda: "token" in adapter.link.detail and not adapter.link.ok, what="a token error")
        assert "DISCORD_TOKEN" in adapter.link.detail
        texts = await slack_says(b, "said while the Discord token was revoked")
        identifies = b.discord.gateway.identifies
        await b.discord.network.restore()  # the admin installed a working token again
        got = await until(lambda: arrived(b.discord_texts(), texts), timeout=30, what="the backlog on Discord")
        assert got == texts
        await until(lambda: adapter.link.ok, timeout=30, what="logged in again")
        assert b.discord.gateway.identifies - identifies <= 3, "a refused token is retried slowly, not in a loop"
        assert await b.dead_letters() == 0


async def test_slack_refusing_connections_holds_its_backlog_while_discord_works(chat: Chat, redis_url: str) -> None:
    async with both_sides(chat, redis_url) as b:
        adapter = b.adapter("slack")
        await b.slack.network.refuse()
        await until(lambda: not adapter.link.ok, what="the Slack link reported down")
        texts = await discord_says(b, "said while Slack refused connections")
        await b.slack.network.restore()
        got = await until(lambda: arrived(b.slack_texts(), texts), timeout=30, what="the backlog on Slack")
        assert got == texts
        await until(lambda: adapter.link.ok, timeout=30, what="Socket Mode connected again")
        b.slack.user_says(user="bob", channel="general", text="after the outage")
        await until(lambda: "after the outage" in b.discord_texts(), what="Slack → Discord again")
        assert await b.dead_letters() == 0


async def test_slack_token_revoked_holds_the_backlog_not_dead_letters(chat: Chat, redis_url: str) -> None:
    async with both_sides(chat, redis_url) as b:
        b.slack.network.revoke()
        texts = await discord_says(b, "said while the Slack token was revoked")
        await until(lambda: any(r.api_method == "chat.postMessage" for r in b.slack.requests), what="a refused post")
        await b.slack.network.restore()
        got = await until(lambda: arrived(b.slack_texts(), texts), timeout=30, what="the backlog on Slack")
        assert got == texts
        assert await b.dead_letters() == 0
