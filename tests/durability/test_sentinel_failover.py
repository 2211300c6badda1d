"""Redis Sentinel: the bridge follows a failover and loses nothing it acknowledged.

Real processes on 127.0.0.1 (tests/sentinel_cluster.py): a primary and a replica with the
generation's RediSearch, three sentinels (``<server> <conf> --sentinel``; valkey-server has the
mode too, so both generations run), ``down-after-milliseconds`` 1000. The bridge is given only the
sentinels (the ``redis+sentinel://`` target ``redis.sentinel`` becomes) and ``redis.wait.replicas``
1: an event is acknowledged once a replica has it. Real discord.py and slack-bolt against the
emulators (tests/both_sides.py).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from both_sides import Both, both_sides
from generations import Generation
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError
from sentinel_cluster import MASTER, SentinelGroup
from waiting import until, until_async

from bridge import config
from bridge.adapters.outage import OutageHold
from bridge.core.chat import Chat
from bridge.core.context import CoreContext, CoreSettings
from bridge.doctor import Report, check_replicas
from bridge.store import keys, replication
from bridge.store.connection import RedisClient, connect
from bridge.store.scripts import Scripts

WAIT_1 = CoreSettings(wait_replicas=1, wait_timeout_ms=300)


@pytest.fixture
async def group(tmp_path: Path, generation: Generation) -> AsyncIterator[SentinelGroup]:
    cluster = SentinelGroup(generation, tmp_path / "group")
    try:
        await asyncio.to_thread(cluster.start)
        yield cluster
    finally:
        await asyncio.to_thread(cluster.stop)


async def _recorded(redis: RedisClient) -> collections.Counter[str]:
    """How many times each text is in #general's stream (the core's record)."""
    counts: collections.Counter[str] = collections.Counter()
    for entry_id, fields in await redis.xrange(keys.channel("general")):
        if fields.get("type") == "message":
            counts[str(await redis.hget(keys.message(entry_id), "message"))] += 1
    return counts


async def _search_after_failover(chat: Chat, text: str) -> Any:
    """A search once the failover is over. A pooled connection may still be on the old primary
    (now a replica), and redis-py's reconnect asks the sentinels, one of which can still name that
    node for a moment: "The previous master is now a slave" (a ConnectionError) until all agree
    (CI once, past the client's ~2.5 s of retries). The bridge's loops retry such errors; so does this."""

    async def once() -> Any:
        try:
            return await chat.finder.messages(text)
        except (RedisConnectionError, ReadOnlyError):
            return None

    return await until_async(once, timeout=30, what=f"a search for {text!r} on the promoted primary")


async def _all_acked(both: Both) -> None:
    """Every Slack event envelope sent (first deliveries and redeliveries) is acknowledged in the
    end: each copy's handler finished (none is left running when the bridge stops)."""
    await until(
        lambda: all(e.acked for e in both.slack.socket.envelopes if e.type == "events_api"),
        timeout=30,
        what="every Slack envelope acknowledged",
    )


async def _doctor_names_the_settled_primary(group: SentinelGroup, capsys: pytest.CaptureFixture[str]) -> None:
    """`chatbridge doctor` names the group's primary and its replicas against redis.wait. Which node
    that is, is the sentinels' call: usually the promoted replica, but with down-after 1000 ms on a
    loaded machine they may fail over once more after the rejoin (CI once: the rejoined node was
    primary again when asked), so the check is made against the primary they agree on, once it has
    its replica back, and asked again, each time on a new client as a `doctor` run is, while the group
    settles."""
    outputs: list[str] = []

    async def once() -> bool:
        primary = await asyncio.to_thread(group.agreed_primary)
        replica = next((n.port for n in group.nodes if n.port != primary), None)
        if primary is None or replica is None or not await asyncio.to_thread(group.in_sync, replica):
            return False
        problems = []
        redis = connect(group.url)
        try:
            for wanted in (1, 2):
                cfg = config.parse({"redis": {"sentinel": group.settings(), "wait": {"replicas": wanted}}})
                report = Report()
                await check_replicas(cfg, redis, report)
                problems.append(report.problems)
        except (RedisConnectionError, ReadOnlyError):
            return False
        finally:
            await redis.aclose()
            outputs.append(capsys.readouterr().out)
        named = f"1 replica(s) connected (Sentinel group {MASTER}: primary at 127.0.0.1:{primary})"
        return problems == [0, 1] and named in outputs[-1]

    try:
        await until_async(once, timeout=45, what="doctor to name the agreed primary and its replica")
    except TimeoutError:
        raise AssertionError(outputs[-1] if outputs else "the sentinels never agreed on a primary") from None
    assert "but redis.wait.replicas is 2: every platform event is held" in outputs[-1]


def _crossed(both: Both) -> tuple[list[str], list[str]]:
    """(Discord's messages as Slack shows them, Slack's as Discord shows them)."""
    return [t for t in both.slack_texts() if t.startswith("d-")], [
        t for t in both.discord_texts() if t.startswith("s-")
    ]


@pytest.mark.timeout(120)
async def test_a_killed_primary_mid_traffic_both_ways_loses_and_doubles_nothing(
    group: SentinelGroup, capsys: pytest.CaptureFixture[str]
) -> None:
    redis = connect(group.url)
    try:
        chat = await Chat.open(redis, WAIT_1)
        async with both_sides(chat, group.url) as both:
            first = [f"d-{i}" for i in range(10)], [f"s-{i}" for i in range(10)]
            during = [f"d-{i}" for i in range(10, 20)], [f"s-{i}" for i in range(10, 20)]
            for d, s in zip(*first, strict=True):
                await both.discord.say("alice", "general", d)
                both.slack.user_says(user="bob", channel="general", text=s)
            # mid-traffic: some of the first burst crossed, the rest is in flight
            await until(lambda: len(_crossed(both)[0]) >= 2, timeout=20, what="the first messages to cross")
            old_port = group.primary_port()
            assert old_port is not None
            killed = await asyncio.to_thread(group.kill_primary)
            for d, s in zip(*during, strict=True):  # said while no primary answers
                await both.discord.say("alice", "general", d)
                both.slack.user_says(user="bob", channel="general", text=s)
            new_port = await asyncio.to_thread(group.wait_promoted, old_port)
            assert new_port != old_port
            # WAIT 1 needs a replica again: the killed node comes back as one (its supervisor's job)
            await asyncio.to_thread(group.rejoin, killed)
            want_d, want_s = first[0] + during[0], first[1] + during[1]
            await until(
                lambda: sorted(_crossed(both)[0]) == sorted(want_d) and sorted(_crossed(both)[1]) == sorted(want_s),
                timeout=60,
                what="every message on the other side",
            )
            on_slack, on_discord = _crossed(both)
            assert on_slack == want_d and on_discord == want_s  # exactly once each, and in order
            counts = await _recorded(chat.ctx.redis)
            assert all(counts[t] == 1 for t in want_d + want_s), counts
            holds = both.adapter("discord").inbound.hold, both.adapter("slack").rooms.hold
            await until(lambda: holds[0].held == 0 and holds[1].held == 0, timeout=30, what="empty holds")
            await _all_acked(both)
            # the promoted replica has the search index too, with what was recorded on either node
            page = await _search_after_failover(chat, "s-15")
            assert [m.text for m in page.hits] == ["s-15"]
            await _doctor_names_the_settled_primary(group, capsys)
    finally:
        await redis.aclose()


@pytest.mark.timeout(90)
async def test_wait_timeout_leaves_the_event_unacked_and_the_redelivery_is_recorded_once(
    group: SentinelGroup,
) -> None:
    redis = connect(group.url)
    try:
        chat = await Chat.open(redis, WAIT_1)
        async with both_sides(chat, group.url) as both:
            await both.discord.say("alice", "general", "d-before")
            both.slack.user_says(user="bob", channel="general", text="s-before")
            await until(lambda: _crossed(both) == (["d-before"], ["s-before"]), timeout=20, what="a first crossing")
            replica = group.node_on(next(n.port for n in group.nodes if n.port != group.primary_port()))
            group.pause(replica)  # the replica stops acknowledging: every WAIT times out
            try:
                both.slack.user_says(user="bob", channel="general", text="s-held")
                await both.discord.say("alice", "general", "d-held")

                def envelopes() -> list[object]:
                    return [
                        env
                        for env in both.slack.socket.envelopes
                        if env.type == "events_api" and env.payload.get("event", {}).get("text") == "s-held"
                    ]

                # Slack's ack timeout passes un-acked: Slack sends the event again
                await until(lambda: any(e.retry_attempt >= 1 for e in envelopes()), timeout=15, what="a redelivery")
                assert not any(e.acked for e in envelopes())
                assert both.adapter("discord").inbound.hold.held >= 1  # Discord's event waits in memory
                counts = await _recorded(chat.ctx.redis)
                assert counts["s-held"] == 1 and counts["d-held"] == 1  # on the primary, once
                # nothing is delivered on the strength of a write no replica has (the intent waits)
                assert _crossed(both) == (["d-before"], ["s-before"])
            finally:
                group.resume(replica)
            await until(
                lambda: _crossed(both) == (["d-before", "d-held"], ["s-before", "s-held"]),
                timeout=30,
                what="both held messages across, once",
            )
            await until(lambda: any(e.acked for e in envelopes()), timeout=15, what="the Slack event acknowledged")
            counts = await _recorded(chat.ctx.redis)
            assert counts["s-held"] == 1 and counts["d-held"] == 1
            assert both.adapter("slack").rooms.counters["duplicate"] >= 1  # the redelivery, deduplicated
            await _all_acked(both)
            assert _crossed(both) == (["d-before", "d-held"], ["s-before", "s-held"])
    finally:
        await redis.aclose()


@pytest.mark.timeout(90)
async def test_a_demoted_primary_is_left_for_the_new_one(group: SentinelGroup) -> None:
    """A manual failover demotes the primary without killing it: writes on it answer READONLY.
    The Sentinel client drops such a connection and finds the new primary; a client given the old
    primary's plain URL rides the ReadOnlyError out (adapters.outage) until it is primary again."""
    via_sentinel = connect(group.url)
    old_port = group.primary_port()
    assert old_port is not None
    direct = connect(f"redis://127.0.0.1:{old_port}/0")
    try:
        chat = await Chat.open(via_sentinel)
        direct_chat = Chat(CoreContext(direct, chat.ctx.module, Scripts.load(direct)))
        await chat.users.register("ada", {})
        await chat.channels.create("general")
        await chat.messages.post("general", "ada", "before")
        await direct_chat.messages.post("general", "ada", "direct before")

        sentinel_port = group.sentinel_ports[0]
        admin = connect(f"redis://127.0.0.1:{sentinel_port}/0")
        try:
            await admin.execute_command("SENTINEL", "FAILOVER", MASTER)
            new_port = await asyncio.to_thread(group.wait_promoted, old_port)
            await until(lambda: _role(old_port) == "slave", timeout=30, what="the old primary demoted")
            with pytest.raises(ReadOnlyError):
                await direct.set("probe", "1")
            await chat.messages.post("general", "ada", "after")  # the sentinel client followed
            hold = OutageHold("test", max_delay=0.2)
            riding = asyncio.create_task(
                hold.ride(lambda: direct_chat.messages.post("general", "ada", "direct after"), what="a post")
            )
            await until(lambda: hold.away_since is not None, timeout=10, what="the ride to see READONLY")
            assert not riding.done()
            # a failover does not wait for the replica to catch up: without WAIT, "after" could be lost
            await until_async(lambda: _replicated(via_sentinel), timeout=30, what="the demoted node in sync")
            # back to the first node, once the sentinel counts it as a good replica: it learns that from
            # the node's own INFO (every 1-10 s), so right after the demotion it may still answer
            # NOGOODSLAVE (seen on a loaded CI machine)
            await until_async(lambda: _failover(admin), timeout=30, what="the sentinel to accept a failover back")
            await asyncio.to_thread(group.wait_promoted, new_port)
            await asyncio.wait_for(riding, 30)
            assert hold.away_since is None
            # the sentinels agree again once the other node is a replica in sync
            await until(lambda: group.in_sync(new_port), timeout=30, what="the second node a replica again")
        finally:
            await admin.aclose()
        fresh = connect(group.url)  # (idle pooled connections may still read from the node now a replica)
        try:
            assert await _recorded(fresh) == {"before": 1, "direct before": 1, "after": 1, "direct after": 1}
        finally:
            await fresh.aclose()
    finally:
        await via_sentinel.aclose()
        await direct.aclose()


async def _failover(admin: RedisClient) -> bool:
    """SENTINEL FAILOVER; False while no replica is yet eligible (NOGOODSLAVE), so it can be waited on."""
    try:
        await admin.execute_command("SENTINEL", "FAILOVER", MASTER)
    except ResponseError as err:
        if "NOGOODSLAVE" in str(err):
            return False
        raise
    return True


async def _replicated(client: RedisClient) -> bool:
    try:
        await replication.replicated(client, 1, 500)
    except replication.NotReplicated:
        return False
    return True


def _role(port: int) -> str:
    import redis as sync_redis

    with sync_redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=2) as client:
        return str(client.info("replication").get("role"))
