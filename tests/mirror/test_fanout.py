"""Fan-out, order, edits/deletes/replies through the id map, mentions, join/leave."""

from __future__ import annotations

import json

from mirror_kit import D1, D2, S1, S2, recorders, register, say_from, setup_room

from bridge.core.chat import Chat
from bridge.core.messages import PostOptions
from bridge.core.ports import ChannelRef, PlatformUser
from bridge.mirror.worker import Worker
from bridge.store import keys
from bridge.store.connection import RedisClient


def make_worker(chat: Chat, url: str, dests: dict, **kw: object) -> Worker:  # type: ignore[type-arg]
    return Worker(chat=chat, redis_url=url, destinations=dests, backoff_base_s=0.01, **kw)  # type: ignore[arg-type]


async def test_fan_out_to_every_link_but_the_origin(chat: Chat, redis_url: str) -> None:
    await setup_room(chat)
    discord, slack, dests = recorders()
    core_id = await say_from(chat, D1, "m1", "hello **all**", user="u7")
    await make_worker(chat, redis_url, dests).drain(10)
    assert discord.sent(D1) == []
    for rec, ref in ((discord, D2), (slack, S1), (slack, S2)):
        [call] = rec.sent(ref)
        assert call.core_id == core_id
        assert call.text == "hello **all**"
        assert call.message is not None
        assert call.message.author_name == "Person u7"
        assert call.message.avatar_url == "https://avatars.test/u7.png"
        assert call.message.channel == "general"


async def test_core_post_reaches_all_and_nothing_is_sent_twice(chat: Chat, redis_url: str) -> None:
    await setup_room(chat)
    await register(chat, "ada")
    discord, slack, dests = recorders()
    await chat.messages.post("general", "ada", "from the core")
    worker = make_worker(chat, redis_url, dests)
    await worker.drain(10)
    await worker.drain(10)
    assert [len(r.sent(ref)) for r, ref in ((discord, D1), (discord, D2), (slack, S1), (slack, S2))] == [1, 1, 1, 1]
    m = worker.metrics()
    assert m["delivered"] == 4 and m["dead_lettered"] == 0 and m["log_entries_routed"] == 1


async def test_order_per_room_with_two_rooms(chat: Chat, redis_url: str) -> None:
    await setup_room(chat, "general", (D1, S1))
    await setup_room(chat, "random", (D2, S2))
    await register(chat, "ada")
    for i in range(60):
        await chat.messages.post("general" if i % 3 else "random", "ada", f"m{i}")
    discord, slack, dests = recorders()
    await make_worker(chat, redis_url, dests, delivery_batch=7, route_batch=11).drain(20)
    general = [f"m{i}" for i in range(60) if i % 3]
    random_ = [f"m{i}" for i in range(60) if not i % 3]
    assert discord.texts(D1) == general and slack.texts(S1) == general
    assert discord.texts(D2) == random_ and slack.texts(S2) == random_


async def test_edit_and_delete_follow_every_part(chat: Chat, redis: RedisClient, redis_url: str) -> None:
    await setup_room(chat)
    discord, slack, dests = recorders()
    slack.parts = 3
    core_id = await say_from(chat, D1, "m1", "long text")
    worker = make_worker(chat, redis_url, dests)
    await worker.drain(10)
    [sent] = slack.sent(S1)
    assert len(sent.ids) == 3
    stored = json.loads(await redis.hget(keys.mirror_map(core_id), S1.key()))
    assert stored == sent.ids
    for pid in sent.ids:  # every part resolves back to the core message (replies/edits from Slack)
        assert await redis.get(keys.platform_message("slack", "T1", "C1", pid)) == core_id

    await chat.ingest(_edit(D1, "m1", "edited text"))
    await worker.drain(10)
    [edit] = slack.sent(S1, "edit")
    assert edit.ids == sent.ids and edit.text == "edited text"
    assert [c.text for c in discord.sent(D2, "edit")] == ["edited text"]
    assert discord.sent(D1, "edit") == []  # the origin already has it

    await chat.ingest(_edit(D1, "m1", "", kind="delete"))
    await worker.drain(10)
    [delete] = slack.sent(S1, "delete")
    assert delete.ids == sent.ids
    assert len(discord.sent(D2, "delete")) == 1 and discord.sent(D1, "delete") == []
    assert not await redis.hexists(keys.mirror_map(core_id), S1.key())
    assert await redis.get(keys.platform_message("slack", "T1", "C1", sent.ids[0])) is None


async def test_reply_is_mapped_to_the_parent_on_each_destination(chat: Chat, redis_url: str) -> None:
    await setup_room(chat)
    await register(chat, "ada")
    discord, slack, dests = recorders()
    parent = (await chat.messages.post("general", "ada", "parent")).id
    worker = make_worker(chat, redis_url, dests)
    await worker.drain(10)
    await chat.messages.post("general", "ada", "child", PostOptions(reply_to=parent))
    await worker.drain(10)
    for rec, ref in ((discord, D1), (discord, D2), (slack, S1), (slack, S2)):
        first, child = rec.sent(ref)
        assert child.message is not None and child.message.reply_to == first.ids


async def test_reply_from_a_platform_to_a_mirrored_message(chat: Chat, redis_url: str) -> None:
    await setup_room(chat)
    discord, slack, dests = recorders()
    await say_from(chat, D1, "m1", "question")
    worker = make_worker(chat, redis_url, dests)
    await worker.drain(10)
    [on_slack] = slack.sent(S1)
    # a Slack user answers in the thread of the mirrored copy: it maps to the core parent
    await say_from(chat, S1, "s1", "answer", reply_to=on_slack.ids[0])
    await worker.drain(10)
    question_d2, answer_d2 = discord.sent(D2)
    assert answer_d2.text == "answer" and answer_d2.message is not None
    assert answer_d2.message.reply_to == question_d2.ids
    question_s2, answer_s2 = slack.sent(S2)
    assert answer_s2.message is not None and answer_s2.message.reply_to == question_s2.ids
    assert slack.texts(S1) == ["question"]  # the answer came from S1: not echoed back
    [answer_d1] = discord.sent(D1)  # the question was written on D1: the reply points at the original
    assert answer_d1.message is not None and answer_d1.message.reply_to == ["m1"]


async def test_mentions_map_to_platform_ids_and_join_leave_lines(chat: Chat, redis_url: str) -> None:
    await setup_room(chat, "general", (D1, S1))
    bob = await chat.users.resolve(PlatformUser("slack", "T1", "U42", "Bob"))
    await register(chat, "ada")
    discord, slack, dests = recorders()
    await chat.messages.post("general", "ada", f"hi @{bob} and @nobody")
    await chat.channels.set_membership("general", "ada", join=True)
    await chat.channels.set_membership("general", "ada", join=False)
    await make_worker(chat, redis_url, dests).drain(10)
    first, joined, left = slack.sent(S1)
    assert first.message is not None and dict(first.message.mentions) == {bob: "U42"}
    assert joined.text == "_ada joined_" and left.text == "_ada left_"
    [d_first, *_] = discord.sent(D1)
    assert d_first.message is not None and dict(d_first.message.mentions) == {}


def _edit(ref: ChannelRef, msg_id: str, text: str, *, kind: str = "edit"):  # type: ignore[no-untyped-def]
    from bridge.core.ports import InboundEvent

    return InboundEvent(
        kind=kind,  # type: ignore[arg-type]
        channel=ref,
        message_id=msg_id,
        event_key=f"{kind}:{ref.key()}:{msg_id}:{text}",
        author=PlatformUser(ref.platform, ref.workspace, "u1", "Person u1"),
        text=text,
    )
