"""Channel history over REST: the emulator's Get Channel Messages paging (before/after/around/limit,
resources/message.mdx) and the adapter's ``history`` helpers through real discord.py."""

from __future__ import annotations

from typing import Any

import aiohttp
import discord
import pytest
from discord_kit import RecordingClient

from bridge.adapters.discord import history
from bridge.emulators.discord import DiscordEmulator
from bridge.emulators.discord import permissions as perms
from bridge.emulators.discord.permissions import MANAGE_THREADS
from bridge.emulators.discord.threads import meta


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


async def _threads(emulator: DiscordEmulator, channel_id: str, route: str, **query: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bot {emulator.token}"}
    url = f"{emulator.api_base}/channels/{channel_id}/{route}"
    async with aiohttp.ClientSession() as http, http.get(url, params=query, headers=headers) as r:
        return r.status, await r.json()


PUBLIC, PRIVATE, JOINED = "threads/archived/public", "threads/archived/private", "users/@me/threads/archived/private"


async def _archived_threads(
    emulator: DiscordEmulator, count: int, *, private: bool, join: frozenset[int] = frozenset()
) -> list[str]:
    """``count`` threads of #general, archived one after the other (the last one archived last)."""
    ids = []
    for i in range(count):
        thread = await emulator.start_thread("alice", "general", f"t{i}", private=private)
        if i in join:
            meta(thread).members.add(emulator.world.bot.id)
        await emulator.update_thread(thread.id, archived=True)
        ids.append(thread.id)
    return ids


async def test_archived_lists_page_newest_first_with_has_more(emulator: DiscordEmulator) -> None:
    public = await _archived_threads(emulator, 5, private=False)
    private = await _archived_threads(emulator, 4, private=True, join=frozenset({1, 2}))
    active = await emulator.start_thread("bob", "general", "still open")  # not archived: in none of them
    general = emulator.channel("general").id
    status, page = await _threads(emulator, general, PUBLIC, limit="2")
    assert status == 200 and [t["id"] for t in page["threads"]] == public[:-3:-1] and page["has_more"] is True
    before = page["threads"][-1]["thread_metadata"]["archive_timestamp"]
    _, page = await _threads(emulator, general, PUBLIC, before=before)
    assert [t["id"] for t in page["threads"]] == public[-3::-1] and page["has_more"] is False
    _, page = await _threads(emulator, general, PRIVATE)
    assert [t["id"] for t in page["threads"]] == private[::-1]
    assert [m["id"] for m in page["members"]] == [private[2], private[1]]  # the ones the bot joined
    _, page = await _threads(emulator, general, JOINED, limit="2")
    assert [t["id"] for t in page["threads"]] == [private[2], private[1]] and page["has_more"] is False
    _, page = await _threads(emulator, general, JOINED, before=private[2])
    assert [t["id"] for t in page["threads"]] == [private[1]]
    assert active.id not in str(page)


async def test_archived_lists_through_discord_py_and_the_limit(
    emulator: DiscordEmulator, client: RecordingClient
) -> None:
    public = await _archived_threads(emulator, 105, private=False)  # two pages of 100
    general = client.get_channel(int(emulator.channel("general").id))
    assert isinstance(general, discord.TextChannel)
    found, more = await history.archived(general, limit=200)
    assert [str(t.id) for t in found] == public[::-1] and more is False
    found, more = await history.archived(general, limit=50)
    assert [str(t.id) for t in found] == public[:-51:-1] and more is True


async def test_private_archived_lists_need_their_permissions(emulator: DiscordEmulator) -> None:
    await _archived_threads(emulator, 2, private=True, join=frozenset({0}))
    general = emulator.channel("general")
    bot = emulator.world.bot.id
    perms.overwrite(general, bot, perms.MEMBER, deny=MANAGE_THREADS)
    status, body = await _threads(emulator, general.id, PRIVATE)
    assert (status, body["code"]) == (403, 50013)  # needs READ_MESSAGE_HISTORY and MANAGE_THREADS
    status, page = await _threads(emulator, general.id, JOINED)
    assert status == 200 and len(page["threads"]) == 1  # READ_MESSAGE_HISTORY is enough for the joined ones
    perms.overwrite(general, bot, perms.MEMBER, deny=MANAGE_THREADS | perms.READ_MESSAGE_HISTORY)
    for route in (PUBLIC, PRIVATE, JOINED):
        status, body = await _threads(emulator, general.id, route)
        assert (status, body["code"]) == (403, 50013), route


@pytest.mark.parametrize(
    ("route", "query", "field", "code"),
    [
        (PUBLIC, {"limit": "1"}, "limit", "NUMBER_TYPE_MIN"),
        (PUBLIC, {"limit": "101"}, "limit", "NUMBER_TYPE_MAX"),
        (PRIVATE, {"limit": "some"}, "limit", "NUMBER_TYPE_COERCE"),
        (PUBLIC, {"before": "yesterday"}, "before", "DATE_TIME_TYPE_PARSE"),
        (JOINED, {"before": "2024-01-01T00:00:00+00:00"}, "before", "NUMBER_TYPE_COERCE"),
    ],
)
async def test_bad_archived_queries_are_invalid_form_bodies(
    emulator: DiscordEmulator, route: str, query: dict[str, str], field: str, code: str
) -> None:
    status, body = await _threads(emulator, emulator.channel("general").id, route, **query)
    assert status == 400 and body["code"] == 50035
    assert body["errors"][field]["_errors"][0]["code"] == code
    status, _ = await _threads(emulator, emulator.channel("general").id, route)
    assert status == 200  # the emulator keeps serving


@pytest.mark.parametrize("media", [False, True])
async def test_a_forum_lists_its_archived_posts_and_has_no_history(
    emulator: DiscordEmulator, client: RecordingClient, media: bool
) -> None:
    forum = await emulator.create_forum("help", media=media)
    assert forum.type == (16 if media else 15)
    posts = [(await emulator.forum_post("alice", "help", f"post {i}", f"body {i}"))[0] for i in range(3)]
    await emulator.update_thread(posts[0].id, archived=True)
    status, page = await _threads(emulator, forum.id, PUBLIC)
    assert status == 200 and [t["id"] for t in page["threads"]] == [posts[0].id]
    where = await history.located(client, int(forum.id))
    assert isinstance(where, discord.ForumChannel)
    found, _ = await history.archived(where, limit=10)
    assert [str(t.id) for t in found] == [posts[0].id]
    active = await history.active_threads(client, int(emulator.guild_id), int(forum.id))
    assert [str(t.id) for t in active] == [p.id for p in posts[1:]]
    with pytest.raises(history.HistoryUnavailable, match="no message history"):
        await history.latest(client, int(forum.id), 5)


async def test_active_threads_list_a_private_thread_only_to_a_member_or_moderator(
    emulator: DiscordEmulator, client: RecordingClient
) -> None:
    hidden = await emulator.start_thread("alice", "general", "hidden", private=True)
    joined = await emulator.start_thread("alice", "general", "with the bot", private=True)
    await emulator.add_to_thread(joined.id, "bot", by="alice")
    general = emulator.channel("general")
    ids = {str(t.id) for t in await history.active_threads(client, int(emulator.guild_id), int(general.id))}
    assert ids == {hidden.id, joined.id}  # a moderator (the bot has MANAGE_THREADS) sees them all
    perms.overwrite(general, emulator.world.bot.id, perms.MEMBER, deny=MANAGE_THREADS)
    ids = {str(t.id) for t in await history.active_threads(client, int(emulator.guild_id), int(general.id))}
    assert ids == {joined.id}
