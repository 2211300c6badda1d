"""The app put back into a linked Slack channel while nothing waited for it: Slack's membership
events (``member_joined_channel``, ``channel_left`` / ``group_left``) from the emulator, and what the
adapter does with them — the hold told at once, the catch-up run at once, live messages after it,
thread replies said during the gap, anchors of channels where nothing was taken in yet."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from slack_kit import SlackBridge, running_bridge, web_client
from test_slack_catch_up import app_removed_after_one_message, rejoin_by_a_discord_post, texts
from test_slack_mirror import running_worker
from waiting import until

from bridge import metrics
from bridge.adapters.slack import catch_up as catch_up_module
from bridge.adapters.slack import known_threads
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.emulators.slack import SlackEmulator
from bridge.emulators.slack.limits import Injected
from bridge.store import keys

ALICE, BOB = "U0ALICE001", "U0BOB00001"


def membership_events(slack: SlackEmulator, after: int = 0) -> list[dict[str, Any]]:
    kinds = ("member_joined_channel", "channel_left", "group_left")
    return [p["event"] for p in slack.emitted[after:] if p["event"]["type"] in kinds]


async def put(slack: SlackEmulator, channel: str, *, member: bool, by: str | None = None) -> None:
    """The soak's control route: the app removed from (or put back into) a channel by a person."""
    body: dict[str, Any] = {"channel": channel, "member": member, **({"by": by} if by else {})}
    async with aiohttp.ClientSession() as http, http.post(f"{slack.url}/_emulator/membership", json=body) as r:
        assert r.status == 200, await r.text()


def held_gauge(channel: str, reason: str) -> float | None:
    return metrics.REGISTRY.get_sample_value("chatbridge_slack_rooms_held", {"channel": channel, "reason": reason})


# -- the emulator ----------------------------------------------------------------------------------
async def test_the_emulator_tells_the_app_when_it_joins_or_is_removed(slack: SlackEmulator) -> None:
    bot, cricket = slack.workspace.bot_user_id, "C0CRICKET1"
    await put(slack, "cricket", member=False, by="bob")
    assert membership_events(slack) == [
        {
            "type": "channel_left",
            "channel": cricket,
            "actor_id": BOB,
            "event_ts": membership_events(slack)[0]["event_ts"],
        }
    ]
    await put(slack, "cricket", member=False)  # not a member any more: nothing happens, nothing is sent
    assert len(membership_events(slack)) == 1
    await put(slack, "cricket", member=True, by="alice")
    joined = membership_events(slack)[-1]
    assert joined == {
        "type": "member_joined_channel", "user": bot, "channel": cricket, "channel_type": "C",
        "team": slack.workspace.team_id, "event_ts": joined["event_ts"], "inviter": ALICE,
    }  # fmt: skip
    assert float(joined["event_ts"]) > float(membership_events(slack)[0]["event_ts"])
    client = web_client(slack)
    await client.conversations_join(channel=cricket)  # already in: already_in_channel, no event
    assert len(membership_events(slack)) == 2
    await put(slack, "cricket", member=False)  # by default the primary owner removes it
    assert membership_events(slack)[-1]["actor_id"] == ALICE
    await client.conversations_join(channel=cricket)  # a join of its own: no inviter
    assert membership_events(slack)[-1]["type"] == "member_joined_channel"
    assert "inviter" not in membership_events(slack)[-1]
    secret = slack.workspace.add_channel("G0SECRET01", "secret", private=True, bot=True).id
    await put(slack, secret, member=False)
    await put(slack, secret, member=True)
    left, back = membership_events(slack)[-2:]
    assert left["type"] == "group_left" and back["channel_type"] == "G"
    slack.config.scopes = tuple(s for s in slack.config.scopes if s != "channels:read")
    n = len(membership_events(slack))
    await put(slack, "cricket", member=False)  # without channels:read no membership event of a public channel
    await put(slack, "cricket", member=True)
    assert len(membership_events(slack)) == n and bot in slack.workspace.channels[cricket].members


# -- the adapter -----------------------------------------------------------------------------------
async def test_removed_then_put_back_is_told_at_once_and_caught_up_without_a_retry(
    slack: SlackEmulator, chat: Chat
) -> None:
    async with running_bridge(chat, slack, "socket", admin_users=(ALICE,)) as bridge:
        await bridge.link("cricket", "cricket")
        slack.user_says(user="bob", channel="cricket", text="before")
        await bridge.settled()
        channel = bridge.ref("cricket").channel_id
        access = bridge.adapter.destination.access
        await put(slack, "cricket", member=False, by="bob")
        await until(lambda: channel in access.held, what="the room held on channel_left")
        assert (
            held_gauge(channel, "channel_left") == 1
            and "removed" in bridge.adapter.health().info["rooms_held"][channel]
        )
        dm = await until(lambda: [m for m in slack.dms_to("alice") if channel in m.text], what="the admin's DM")
        assert f"by Slack user {BOB}" in dm[0].text
        for n in range(3):
            slack.user_says(user="carol", channel="cricket", text=f"gap {n}")
        posts = len(slack.requests_for("chat.postMessage"))
        await put(slack, "cricket", member=True, by="alice")  # nothing waits for it: no Discord post, no retry
        await until(lambda: bridge.adapter.catch_up and bridge.adapter.catch_up.runs, what="the catch-up")
        await bridge.adapter.drain()
        assert await texts(bridge) == ["before", "gap 0", "gap 1", "gap 2"]
        assert not access.held and held_gauge(channel, "channel_left") == 0
        assert bridge.adapter.membership.readmitted == [channel] and access.joined == []
        assert len(slack.requests_for("chat.postMessage")) == posts  # no outbound call was needed


async def test_the_apps_own_join_is_caught_up_once(slack: SlackEmulator, chat: Chat) -> None:
    async with running_bridge(chat, slack, "socket") as bridge:
        channel = await app_removed_after_one_message(bridge, slack)
        slack.user_says(user="bob", channel="cricket", text="gap")
        await rejoin_by_a_discord_post(bridge, "hello from discord")  # not_in_channel: conversations.join
        await until(lambda: bridge.adapter.membership.readmitted or membership_events(slack), what="the join event")
        await bridge.settled()
        await bridge.adapter.drain()
        catch_up = bridge.adapter.catch_up
        assert catch_up is not None and len(catch_up.runs) == 1 and catch_up.runs[0].messages == 1
        assert bridge.adapter.destination.access.joined == [channel]
        assert await texts(bridge) == ["before", "gap"]


async def test_a_live_message_does_not_overtake_the_catch_up(slack: SlackEmulator, chat: Chat) -> None:
    async with running_bridge(chat, slack, "socket") as bridge:
        await bridge.link("cricket", "cricket")
        slack.user_says(user="bob", channel="cricket", text="before")
        await bridge.settled()
        await put(slack, "cricket", member=False)
        await until(lambda: bridge.adapter.destination.access.held, what="the hold")
        for n in range(3):
            slack.user_says(user="bob", channel="cricket", text=f"gap {n}")
        # the history read waits out a 429 (Retry-After 1 s) while the first live message comes in
        slack.limiter.inject("conversations.history", Injected(error="ratelimited", count=1, status=429, retry_after=1))
        await put(slack, "cricket", member=True)
        slack.user_says(user="carol", channel="cricket", text="after")
        await until(lambda: bridge.adapter.catch_up and bridge.adapter.catch_up.runs, what="the catch-up")
        await bridge.settled()
        assert await texts(bridge) == ["before", "gap 0", "gap 1", "gap 2", "after"]
        assert bridge.adapter.catch_up is not None and bridge.adapter.catch_up.live_waits >= 1


async def test_a_live_message_from_a_held_channel_starts_its_catch_up(slack: SlackEmulator, chat: Chat) -> None:
    """Slack does not promise member_joined_channel before the next message: the message itself says
    the app is back (here the join event is withheld: no channels:read while it is put back)."""
    async with running_bridge(chat, slack, "socket") as bridge:
        await bridge.link("cricket", "cricket")
        slack.user_says(user="bob", channel="cricket", text="before")
        await bridge.settled()
        await put(slack, "cricket", member=False)
        await until(lambda: bridge.adapter.destination.access.held, what="the hold")
        slack.user_says(user="bob", channel="cricket", text="gap")
        scopes = slack.config.scopes
        slack.config.scopes = tuple(s for s in scopes if s != "channels:read")
        await put(slack, "cricket", member=True)
        slack.config.scopes = scopes
        slack.user_says(user="carol", channel="cricket", text="after")
        await until(lambda: bridge.adapter.catch_up and bridge.adapter.catch_up.runs, what="the catch-up")
        await bridge.settled()
        assert await texts(bridge) == ["before", "gap", "after"]
        assert not bridge.adapter.destination.access.held


async def test_thread_replies_said_while_the_app_was_out_cross_once(slack: SlackEmulator, chat: Chat) -> None:
    async with running_bridge(chat, slack, "socket") as bridge:
        await bridge.link("cricket", "cricket")
        known = slack.user_says(user="bob", channel="cricket", text="known root")
        slack.user_says(user="carol", channel="cricket", text="known reply", thread_ts=known.ts)
        quiet = slack.user_says(user="bob", channel="cricket", text="quiet root")  # no replies before the gap
        await bridge.settled()
        await put(slack, "cricket", member=False)
        await until(lambda: bridge.adapter.destination.access.held, what="the hold")
        slack.user_says(user="carol", channel="cricket", text="gap reply to known", thread_ts=known.ts)
        slack.user_says(user="carol", channel="cricket", text="gap reply to quiet", thread_ts=quiet.ts)
        fresh = slack.user_says(user="bob", channel="cricket", text="gap root")
        slack.user_says(user="carol", channel="cricket", text="gap reply to gap root", thread_ts=fresh.ts)
        slack.user_says(user="carol", channel="cricket", text="broadcast", thread_ts=known.ts, broadcast=True)
        await put(slack, "cricket", member=True)
        await until(lambda: bridge.adapter.catch_up and bridge.adapter.catch_up.runs, what="the catch-up")
        await bridge.adapter.drain()
        run = bridge.adapter.catch_up.runs[-1] if bridge.adapter.catch_up else None
        assert run is not None and not run.failed and run.replies == 4 and run.threads_skipped == 0
        said = [m for m in await bridge.chat.messages.history("cricket", 50) if m.kind == "message"]
        assert [m.text for m in said] == [
            "known root", "known reply", "quiet root", "gap reply to known", "gap reply to quiet",
            "gap root", "gap reply to gap root", "broadcast",
        ]  # fmt: skip
        by_text = {m.text: m for m in said}
        assert by_text["gap reply to known"].thread == by_text["known root"].id
        assert by_text["gap reply to quiet"].thread == by_text["quiet root"].id
        assert by_text["gap reply to gap root"].thread == by_text["gap root"].id
        # read again from the start: every message known, nothing doubles
        catch_up = bridge.adapter.catch_up
        assert catch_up is not None
        await catch_up.last_seen.note(bridge.team, bridge.ref("cricket").channel_id, known.ts)
        await catch_up.on_rejoined(bridge.ref("cricket").channel_id)
        assert [m.text for m in await texts_of(bridge)] == [m.text for m in said]


async def texts_of(bridge: SlackBridge) -> list[Any]:
    return [m for m in await bridge.chat.messages.history("cricket", 50) if m.kind == "message"]


async def test_replies_in_older_threads_the_core_knows(
    slack: SlackEmulator, chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A root further back than the channel listing reaches: found among the threads the core saw
    active lately (``known_threads``), and the cap counts what it leaves out."""
    monkeypatch.setattr(catch_up_module, "LOOKBACK_PAGES", 1)
    async with running_bridge(chat, slack, "socket") as bridge:
        await bridge.link("cricket", "cricket")
        old = slack.user_says(user="bob", channel="cricket", text="old root")
        slack.user_says(user="carol", channel="cricket", text="old reply", thread_ts=old.ts)
        other = slack.user_says(user="bob", channel="cricket", text="other root")
        slack.user_says(user="carol", channel="cricket", text="other reply", thread_ts=other.ts)
        for n in range(3):
            slack.user_says(user="bob", channel="cricket", text=f"chatter {n}")
        await bridge.settled()
        bridge.adapter.history.page = 1  # the listing reaches one message before the anchor
        await put(slack, "cricket", member=False)
        await until(lambda: bridge.adapter.destination.access.held, what="the hold")
        slack.user_says(user="carol", channel="cricket", text="late reply", thread_ts=old.ts)
        await put(slack, "cricket", member=True)
        await until(lambda: bridge.adapter.catch_up and bridge.adapter.catch_up.runs, what="the catch-up")
        await bridge.adapter.drain()
        said = {m.text: m for m in await texts_of(bridge)}
        assert "late reply" in said and said["late reply"].thread == said["old root"].id
        run = bridge.adapter.catch_up.runs[-1] if bridge.adapter.catch_up else None
        assert run is not None and run.replies == 1 and run.threads == 2  # old and other: both known
        ref = bridge.ref("cricket")
        capped = await known_threads.recent_roots(bridge.chat.ctx.redis, ref, "cricket", cap=1)
        assert capped.roots == [old.ts] and capped.skipped == 1  # most recently active first
        none = await known_threads.recent_roots(bridge.chat.ctx.redis, ref, "cricket", days=0)
        assert none.roots == [] and none.skipped == 0


# -- a channel where nothing was ever taken in -----------------------------------------------------
async def test_a_channel_linked_by_command_is_anchored_then_caught_up(slack: SlackEmulator, chat: Chat) -> None:
    async with running_bridge(chat, slack, "socket") as bridge:
        slack.user_says(user="bob", channel="cricket", text="said before the link")
        await chat.channels.create("cricket")
        assert "Linked" in await bridge.answer("alice", "cricket", "link cricket")
        catch_up = bridge.adapter.catch_up
        assert catch_up is not None
        channel = bridge.ref("cricket").channel_id
        assert await catch_up.last_seen.of(bridge.team, channel) == slack.history("cricket")[0].ts
        await put(slack, "cricket", member=False)  # before anything was said there since the link
        await until(lambda: bridge.adapter.destination.access.held, what="the hold")
        slack.user_says(user="bob", channel="cricket", text="gap")
        await put(slack, "cricket", member=True)
        await until(lambda: catch_up.runs, what="the catch-up")
        assert await texts(bridge) == ["gap"]  # what was said before the link is not imported


async def test_linked_channels_get_an_anchor_at_start(slack: SlackEmulator, chat: Chat) -> None:
    await chat.channels.create("cricket")
    await chat.channels.create("random")
    await chat.channels.create("lobby")
    team = slack.workspace.team_id
    for name in ("cricket", "random", "general"):
        await chat.channels.link(name if name != "general" else "lobby", ref_of(slack, name))
    said = slack.user_says(user="bob", channel="cricket", text="said before the start")
    slack.workspace.channels["C0GENERAL1"].members.discard(slack.workspace.bot_user_id)  # cannot be read
    async with running_bridge(chat, slack, "socket") as bridge:
        catch_up = bridge.adapter.catch_up
        assert catch_up is not None
        await bridge.adapter.drain()
        await bridge.settled()  # (the message's own event, queued for the socket, notes the same ts)
        assert await catch_up.last_seen.of(team, "C0CRICKET1") == said.ts  # its newest message
        random_id = bridge.ref("random").channel_id
        assert await catch_up.last_seen.of(team, random_id) == "0"  # empty: all of it is newer
        clock = await catch_up.last_seen.of(team, "C0GENERAL1")  # not readable now: the bridge's clock
        assert clock is not None and float(clock) > float(said.ts)
        await catch_up.last_seen.note(team, "C0CRICKET1", "1.000000")
        assert await catch_up.seed(["C0CRICKET1"]) == 0  # an anchor is never moved by it
        assert await catch_up.last_seen.of(team, "C0CRICKET1") == "1.000000"


async def test_no_anchor_at_all_reads_nothing_and_says_so(
    slack: SlackEmulator, chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    """Linked without a command while the bridge runs, nothing said there since, and the app removed
    without Slack saying so: nothing is known to have been missed, nothing is read, a WARNING says it."""
    async with running_bridge(chat, slack, "socket") as bridge:
        await bridge.link("cricket", "cricket")
        channel = bridge.ref("cricket").channel_id
        slack.workspace.channels[channel].members.discard(slack.workspace.bot_user_id)  # no channel_left
        slack.user_says(user="bob", channel="cricket", text="not known to be missed")
        await put(slack, "cricket", member=True)
        catch_up = bridge.adapter.catch_up
        assert catch_up is not None
        await until(lambda: catch_up.runs, what="the catch-up")
        assert catch_up.runs[-1].no_anchor and not catch_up.runs[-1].failed
        assert "no anchor was recorded" in caplog.text
        assert await texts(bridge) == []


async def test_the_removal_event_anchors_a_channel_where_nothing_was_taken_in(slack: SlackEmulator, chat: Chat) -> None:
    async with running_bridge(chat, slack, "socket") as bridge:
        await bridge.link("cricket", "cricket")  # no command, nothing said there: no anchor yet
        catch_up = bridge.adapter.catch_up
        assert catch_up is not None
        channel = bridge.ref("cricket").channel_id
        assert await catch_up.last_seen.of(bridge.team, channel) is None
        await put(slack, "cricket", member=False)
        await until(lambda: bridge.adapter.destination.access.held, what="the hold")
        left = membership_events(slack)[-1]
        assert await catch_up.last_seen.of(bridge.team, channel) == left["event_ts"]
        slack.user_says(user="bob", channel="cricket", text="gap")
        await put(slack, "cricket", member=True)
        await until(lambda: catch_up.runs, what="the catch-up")
        assert await texts(bridge) == ["gap"]


def ref_of(slack: SlackEmulator, name: str) -> ChannelRef:
    chan = slack.workspace.channel(name)
    assert chan is not None
    return ChannelRef("slack", slack.workspace.team_id, chan.id)


async def test_the_held_backlog_goes_out_as_soon_as_slack_says_the_app_is_back(
    slack: SlackEmulator, chat: Chat, redis_url: str
) -> None:
    """The lane waits out a held room for ``slack.admin_fix_retry_s`` (here a minute) — or until the
    hold is lifted: member_joined_channel ends the wait at once."""
    async with running_bridge(chat, slack, "socket", admin_fix_retry_s=60.0) as bridge:
        secret = slack.workspace.add_channel("G0SECRET01", "secret", private=True, bot=True).id
        await bridge.link("cricket", "cricket")
        await bridge.link("secret", "cricket")
        await put(slack, secret, member=False)  # group_left: held at once
        await until(lambda: secret in bridge.adapter.destination.access.held, what="the hold")
        for n in range(3):
            slack.user_says(user="bob", channel="cricket", text=f"backlog {n}")
        await bridge.settled()
        async with running_worker(bridge, redis_url) as worker:
            key = bridge.ref("secret").key()
            await until(lambda: worker.health().info["lanes_held"] == [key], what="the lane held")
            await put(slack, secret, member=True)  # an admin invites the app back
            await until(lambda: len(slack.history(secret)) == 3, timeout=10, what="the backlog, well before 60 s")
        assert [m.text for m in slack.history(secret)] == ["backlog 0", "backlog 1", "backlog 2"]
        assert worker.metrics()["dead_lettered"] == 0


async def test_an_edit_made_while_the_app_was_out_is_taken_in_once(slack: SlackEmulator, chat: Chat) -> None:
    async with running_bridge(chat, slack, "socket") as bridge:
        await bridge.link("cricket", "cricket")
        first = slack.user_says(user="bob", channel="cricket", text="first")
        slack.user_says(user="bob", channel="cricket", text="second")
        await bridge.settled()
        await put(slack, "cricket", member=False)
        await until(lambda: bridge.adapter.destination.access.held, what="the hold")
        slack.user_edits(channel="cricket", ts=first.ts, text="first, edited while the app was out")
        await put(slack, "cricket", member=True)
        catch_up = bridge.adapter.catch_up
        assert catch_up is not None
        await until(lambda: catch_up.runs, what="the catch-up")
        assert await texts(bridge) == ["first, edited while the app was out", "second"]
        assert catch_up.runs[-1].edits == 1
        await catch_up.on_rejoined(bridge.ref("cricket").channel_id)  # again: the core has that text
        assert catch_up.runs[-1].edits == 0
        stream = await bridge.chat.ctx.redis.xrange(keys.channel("cricket"))
        assert [fields["type"] for _, fields in stream].count("edit") == 1  # one edit event: mirrored once


async def test_reactions_changed_while_the_app_was_out_are_taken_in(slack: SlackEmulator, chat: Chat) -> None:
    async with running_bridge(chat, slack, "socket") as bridge:
        await bridge.link("cricket", "cricket")
        before = slack.user_says(user="bob", channel="cricket", text="before")
        await bridge.settled()
        slack.user_reacts(user="bob", channel="cricket", ts=before.ts, name="+1")
        slack.user_reacts(user="carol", channel="cricket", ts=before.ts, name="eyes")
        await bridge.settled()
        [core] = await bridge.core_messages("cricket")

        async def standing() -> list[tuple[str, str]]:
            return sorted((r.emoji, r.user_id) for r in await bridge.chat.reactions.standing(core.id))

        assert len(await standing()) == 2
        await put(slack, "cricket", member=False)
        await until(lambda: bridge.adapter.destination.access.held, what="the hold")
        slack.user_reacts(user="carol", channel="cricket", ts=before.ts, name="tada")
        slack.user_reacts(user="bob", channel="cricket", ts=before.ts, name="+1", remove=True)
        gap = slack.user_says(user="bob", channel="cricket", text="gap")
        slack.user_reacts(user="carol", channel="cricket", ts=gap.ts, name="+1")
        await put(slack, "cricket", member=True)
        catch_up = bridge.adapter.catch_up
        assert catch_up is not None
        await until(lambda: catch_up.runs, what="the catch-up")
        assert await standing() == [("🎉", "U0CAROL001"), ("👀", "U0CAROL001")]
        said = {m.text: m for m in await bridge.core_messages("cricket")}
        on_gap = [(r.emoji, r.user_id) for r in await bridge.chat.reactions.standing(said["gap"].id)]
        assert on_gap == [("👍", "U0CAROL001")]
        assert catch_up.runs[-1].reactions == 3
        await catch_up.on_rejoined(bridge.ref("cricket").channel_id)  # again: nothing left to change
        assert catch_up.runs[-1].reactions == 0
