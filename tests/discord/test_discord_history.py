"""Channel history over REST: the emulator's Get Channel Messages paging (before/after/around/limit,
resources/message.mdx) and the adapter's ``history`` helpers through real discord.py."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from discord_kit import RecordingClient

from bridge.adapters.discord import history
from bridge.emulators.discord import DiscordEmulator


async def _post(emulator: DiscordEmulator, count: int, channel: str = "general") -> list[str]:
    return [str((await emulator.say("alice", channel, f"m{i}"))["id"]) for i in range(count)]


async def _get(emulator: DiscordEmulator, channel_id: str, **query: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bot {emulator.token}"}
    async with aiohttp.ClientSession() as http:
        url = f"{emulator.api_base}/channels/{channel_id}/messages"
        async with http.get(url, params=query, headers=headers) as resp:
            return resp.status, await resp.json()


def _ids(page: list[dict[str, Any]]) -> list[str]:
    return [m["id"] for m in page]


async def test_pages_answer_newest_first_with_exclusive_bounds(emulator: DiscordEmulator) -> None:
    ids = await _post(emulator, 10)
    general = emulator.channel("general").id
    status, page = await _get(emulator, general)
    assert status == 200 and _ids(page) == ids[::-1]  # default limit 50 covers all ten
    _, page = await _get(emulator, general, limit="3")
    assert _ids(page) == ids[:-4:-1]
    _, page = await _get(emulator, general, before=ids[5], limit="3")
    assert _ids(page) == [ids[4], ids[3], ids[2]]
    _, page = await _get(emulator, general, after=ids[5], limit="3")
    assert _ids(page) == [ids[8], ids[7], ids[6]]  # the three oldest after it, newest first
    _, page = await _get(emulator, general, after=ids[-1])
    assert page == []
    _, page = await _get(emulator, general, after="0")  # any snowflake, not only a message's id
    assert _ids(page) == ids[::-1]
    _, page = await _get(emulator, general, around=ids[5], limit="4")
    assert _ids(page) == [ids[7], ids[6], ids[5], ids[4]]  # 2 newer, the message, 1 older
    _, page = await _get(emulator, general, around=ids[0], limit="5")
    assert _ids(page) == [ids[2], ids[1], ids[0]]


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ({"limit": "0"}, "limit", "NUMBER_TYPE_MIN"),
        ({"limit": "101"}, "limit", "NUMBER_TYPE_MAX"),
        ({"limit": "many"}, "limit", "NUMBER_TYPE_COERCE"),
        ({"before": "yesterday"}, "before", "NUMBER_TYPE_COERCE"),
        ({"before": "5", "after": "1"}, "_root", "BASE_TYPE_INVALID"),
    ],
)
async def test_bad_queries_are_invalid_form_bodies(
    emulator: DiscordEmulator, query: dict[str, str], field: str, code: str
) -> None:
    await _post(emulator, 2)
    before = len(emulator.messages("general"))
    status, body = await _get(emulator, emulator.channel("general").id, **query)
    assert status == 400 and body["code"] == 50035
    assert body["errors"][field]["_errors"][0]["code"] == code
    assert len(emulator.messages("general")) == before  # nothing changed; the emulator keeps serving
    status, _ = await _get(emulator, emulator.channel("general").id)
    assert status == 200


async def test_after_pages_forward_oldest_first(emulator: DiscordEmulator, client: RecordingClient) -> None:
    ids = await _post(emulator, 230)
    general = int(emulator.channel("general").id)
    got = [str(m.id) async for m in history.after(client, general, int(ids[9]))]
    assert got == ids[10:]  # 220 messages: three pages, in order, none twice
    got = [str(m.id) async for m in history.after(client, general, None, limit=5)]
    assert got == ids[:5]
    assert [m.content async for m in history.after(client, general, int(ids[-1]))] == []
    lists = [r for r in emulator.requests if r.path.endswith(f"/channels/{general}/messages") and r.method == "GET"]
    assert lists and all(int(r.query.get("limit", "50")) <= 100 for r in lists)


async def test_latest_is_the_newest_n_oldest_first(emulator: DiscordEmulator, client: RecordingClient) -> None:
    ids = await _post(emulator, 150)
    general = int(emulator.channel("general").id)
    assert [str(m.id) for m in await history.latest(client, general, 120)] == ids[-120:]
    assert [str(m.id) for m in await history.latest(client, general, 500)] == ids
    assert await history.latest(client, general, 0) == []


async def test_a_thread_is_read_like_a_channel(emulator: DiscordEmulator, client: RecordingClient) -> None:
    root = await emulator.say("alice", "general", "let's discuss")
    thread = await emulator.start_thread("alice", "general", "discussion", message_id=str(root["id"]))
    said = [str((await emulator.say("bob", thread.id, f"reply {i}"))["id"]) for i in range(3)]
    other = await emulator.start_thread("bob", "general", "elsewhere")
    await emulator.say("bob", other.id, "elsewhere")
    got = [m async for m in history.after(client, int(thread.id), None)]
    assert [str(m.id) for m in got] == said
    assert all(m.channel.id == int(thread.id) for m in got)
    general = int(emulator.channel("general").id)
    active = await history.active_threads(client, int(emulator.guild_id), general)
    assert [t.id for t in active] == sorted([int(thread.id), int(other.id)])
    assert await history.active_threads(client, int(emulator.guild_id), 12345) == []


async def test_an_unknown_channel_is_an_error_not_an_empty_history(client: RecordingClient) -> None:
    with pytest.raises(history.HistoryUnavailable, match="unknown channel"):
        [m async for m in history.after(client, 999_999_999, None)]
    with pytest.raises(history.HistoryUnavailable, match="unknown channel"):
        await history.latest(client, 999_999_999, 5)
