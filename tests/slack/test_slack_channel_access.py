"""Scopes, channel membership and Slack's answer details: the emulator refuses what real Slack
refuses (``missing_scope`` with ``needed``/``provided`` on every method, ``not_in_channel``,
``channel_not_found`` for a private channel), and the adapter joins a public channel again by itself
or holds the room for an admin — never dead-letters it."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from slack_kit import SlackBridge, running_bridge, web_client
from slack_sdk.errors import SlackApiError
from test_slack_mirror import running_worker
from waiting import until

from bridge import metrics
from bridge.adapters.slack.channel_access import RoomHeld
from bridge.adapters.slack.outbound import SlackDestination
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, OutboundMessage
from bridge.emulators.slack import SlackEmulator, scopes

TEAM = "T0EMULATOR"


def message(text: str, core_id: str = "1700000000000-0") -> OutboundMessage:
    return OutboundMessage(core_id=core_id, channel="cricket", text=text, author_name="Dana (discord)")


def held_gauge(channel: str, reason: str) -> float | None:
    return metrics.REGISTRY.get_sample_value("chatbridge_slack_rooms_held", {"channel": channel, "reason": reason})


@pytest.fixture
def dest(slack: SlackEmulator) -> SlackDestination:
    return SlackDestination(client=web_client(slack), max_chars=4000)


def private(slack: SlackEmulator, *, bot: bool) -> str:
    return slack.workspace.add_channel("G0SECRET01", "secret", private=True, bot=bot).id


# -- the emulator ----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", sorted(m for m in scopes.REQUIRED if m != "apps.connections.open"))
async def test_every_method_answers_missing_scope_without_its_scope(slack: SlackEmulator, method: str) -> None:
    needed = scopes.needed(method, "public")
    if needed is None:  # auth.test: no scope at all
        slack.config.scopes = ()
        assert (await web_client(slack).api_call(method))["ok"]
        return
    slack.config.scopes = tuple(s for s in slack.config.scopes if s != needed)
    with pytest.raises(SlackApiError) as info:
        await web_client(slack).api_call(method, json={"channel": "C0GENERAL1"})
    answer = info.value.response
    assert answer["error"] == "missing_scope" and answer["needed"] == needed
    assert answer["provided"] == ",".join(slack.config.scopes) and needed not in answer["provided"].split(",")
    assert needed in answer.headers["x-accepted-oauth-scopes"].split(",")


async def test_the_scope_of_a_conversation_follows_its_type(slack: SlackEmulator) -> None:
    secret = private(slack, bot=True)
    slack.config.scopes = tuple(s for s in slack.config.scopes if s != "groups:history")
    client = web_client(slack)
    assert (await client.conversations_history(channel="C0GENERAL1"))["ok"]  # channels:history is enough here
    with pytest.raises(SlackApiError) as info:
        await client.conversations_history(channel=secret)
    assert info.value.response["needed"] == "groups:history"


async def test_join_a_public_channel_and_refusals(slack: SlackEmulator) -> None:
    client = web_client(slack)
    joined = await client.conversations_join(channel="C0NOBOT001")
    assert joined["channel"]["is_member"] and "warning" not in joined.data
    assert slack.workspace.bot_user_id in slack.workspace.channels["C0NOBOT001"].members
    again = await client.conversations_join(channel="C0NOBOT001")
    assert again["warning"] == "already_in_channel"
    assert again["response_metadata"] == {"warnings": ["already_in_channel"]}
    for channel, error in ((private(slack, bot=False), "channel_not_found"), ("C0NOPE0000", "channel_not_found")):
        with pytest.raises(SlackApiError) as info:
            await client.conversations_join(channel=channel)
        assert info.value.response["error"] == error
    slack.workspace.channels["G0SECRET01"].members.add(slack.workspace.bot_user_id)
    with pytest.raises(SlackApiError) as info:
        await client.conversations_join(channel="G0SECRET01")
    assert info.value.response["error"] == "method_not_supported_for_channel_type"


async def test_a_private_channel_the_app_is_not_in_is_not_found(slack: SlackEmulator) -> None:
    secret = private(slack, bot=False)
    for call in ("chat_postMessage", "conversations_info"):
        with pytest.raises(SlackApiError) as info:
            await getattr(web_client(slack), call)(channel=secret, text="x")
        assert info.value.response["error"] == "channel_not_found", call


async def test_errors_carry_response_metadata_and_charset_warnings(slack: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as info:
        await web_client(slack).chat_postMessage(channel="C0GENERAL1", text="x", blocks=[{"type": "image"}])
    assert info.value.response["error"] == "invalid_blocks"
    assert info.value.response["response_metadata"]["messages"][0].startswith("[ERROR] ")
    headers = {"Authorization": f"Bearer {slack.config.bot_token}"}
    async with aiohttp.ClientSession() as http:
        body = json.dumps({"channel": "C0GENERAL1", "text": "no charset"})
        plain = {**headers, "Content-Type": "application/json"}
        async with http.post(f"{slack.api_url}chat.postMessage", data=body, headers=plain) as resp:
            answer: dict[str, Any] = await resp.json()
        assert answer["ok"] and answer["warning"] == "missing_charset"
        assert answer["response_metadata"] == {"warnings": ["missing_charset"]}
        form = {**headers, "Content-Type": "application/x-www-form-urlencoded; charset=latin-9"}
        async with http.post(f"{slack.api_url}auth.test", data="", headers=form) as resp:
            assert (await resp.json())["warning"] == "superfluous_charset"


async def test_membership_and_scope_control_routes(slack: SlackEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{slack.url}/_emulator/membership", json={"channel": "cricket", "member": False}) as r:
            assert (await r.json())["channel"]["is_member"] is False
        async with http.post(f"{slack.url}/_emulator/scopes", json={"remove": ["chat:write"]}) as r:
            assert "chat:write" not in (await r.json())["scopes"]
        async with http.post(f"{slack.url}/_emulator/membership", json={"channel": "nope", "member": True}) as r:
            assert r.status == 400
    with pytest.raises(SlackApiError) as info:
        await web_client(slack).chat_postMessage(channel="C0CRICKET1", text="x")
    assert info.value.response["error"] == "missing_scope"


# -- the adapter -----------------------------------------------------------------------------------
async def test_not_in_a_public_channel_joins_it_and_posts(slack: SlackEmulator, dest: SlackDestination) -> None:
    ids = await dest.send(ChannelRef("slack", TEAM, "C0NOBOT001"), message("hello again"))
    assert [m.text for m in slack.history("no-bot")] == ["hello again"] and len(ids) == 1
    assert dest.access.joined == ["C0NOBOT001"] and not dest.access.held
    assert [r.api_method for r in slack.requests] == ["chat.postMessage", "conversations.join", "chat.postMessage"]


async def test_a_reaction_in_a_channel_that_dropped_the_app_joins_it_too(slack: SlackEmulator, chat: Chat) -> None:
    async with running_bridge(chat, slack, "socket") as bridge:
        dest = bridge.adapter.destination
        ref = ChannelRef("slack", TEAM, "C0CRICKET1")
        [ts] = await dest.send(ref, message("react to me"))
        slack.workspace.channels["C0CRICKET1"].members.discard(slack.workspace.bot_user_id)
        assert await dest.react(ref, ts, "👍", add=True)
    assert slack.history("cricket")[0].reactions[0]["name"] == "+1" and dest.access.joined == ["C0CRICKET1"]


@pytest.mark.parametrize("case", ["private", "no_join_scope"])
async def test_a_channel_that_needs_an_admin_holds_the_room(
    slack: SlackEmulator, dest: SlackDestination, case: str
) -> None:
    if case == "private":
        channel, reason, why = private(slack, bot=False), "channel_not_found", "invite the app"
    else:
        channel, reason, why = "C0NOBOT001", "not_in_channel", "channels:join"
        slack.config.scopes = tuple(s for s in slack.config.scopes if s != "channels:join")
    dest.access.hold_s = 7.0
    ref = ChannelRef("slack", TEAM, channel)
    with pytest.raises(RoomHeld) as info:
        await dest.send(ref, message("waits"))
    assert info.value.retry_after == 7.0 and info.value.needs_admin and not info.value.permanent
    assert why in str(info.value)
    assert channel in dest.access.info()["rooms_held"] and held_gauge(channel, reason) == 1
    slack.workspace.channels[channel].members.add(slack.workspace.bot_user_id)  # an admin invites the app
    await dest.send(ref, message("waits"))
    assert [m.text for m in slack.history(channel)] == ["waits"]
    assert dest.access.info() == {} and held_gauge(channel, reason) == 0


async def test_a_held_room_keeps_its_backlog_in_order_and_tells_admin_and_sender(
    slack: SlackEmulator, chat: Chat, redis_url: str
) -> None:
    async with running_bridge(chat, slack, "socket", admin_fix_retry_s=0.3, admin_users=("U0ALICE001",)) as bridge:
        await _held_backlog(bridge, redis_url)


async def _held_backlog(bridge: SlackBridge, redis_url: str) -> None:
    emu = bridge.emu
    secret = private(emu, bot=True)
    await bridge.link("cricket", "cricket")
    await bridge.link("secret", "cricket")
    emu.workspace.channels[secret].members.discard(emu.workspace.bot_user_id)  # someone removed the app
    for n in range(3):
        emu.user_says(user="bob", channel="cricket", text=f"backlog {n}")
    await bridge.settled()
    async with running_worker(bridge, redis_url) as worker:
        await emu.wait_for(lambda: bridge.adapter.destination.access.held, what="the room held")
        health = bridge.adapter.health()
        assert health.ok and secret in health.info["rooms_held"]
        told = await emu.wait_for(lambda: [e for e in emu.ephemeral if e.user == "U0BOB00001"], what="bob told")
        assert "waits for #cricket on Slack" in told[0].text and len(told) == 1
        dm = await emu.wait_for(
            lambda: [e for e in emu.log if e.kind == "post" and e.channel and e.channel.startswith("D")],
            what="the admin's DM",
        )
        assert secret in dm[0].text
        await emu.wait_for(lambda: len(emu.requests_for("chat.postMessage")) >= 4, what="a retry after the hold")
        # booked as held for an admin, not as a 429 (the room's lane and the worker's /healthz part)
        key = bridge.ref("secret").key()
        health = await until(lambda: (h := worker.health()).info["lanes_held"] and h, what="the lane held")
        assert health.info["lanes_held"] == [key]
        lane = worker.metrics()["destinations"][key]
        assert lane["held"] >= 1 and lane["rate_limited"] == 0 and lane["last_error"].startswith("held: ")
        assert worker.metrics()["rate_limited"] == 0
        emu.workspace.channels[secret].members.add(emu.workspace.bot_user_id)  # an admin invites it back
        await emu.wait_for(lambda: len(emu.history(secret)) == 3, within=10, what="the backlog delivered")
    assert [m.text for m in emu.history(secret)] == ["backlog 0", "backlog 1", "backlog 2"]
    assert worker.metrics()["dead_lettered"] == 0 and not bridge.adapter.destination.access.held
    assert len([e for e in emu.ephemeral if e.user == "U0BOB00001"]) == 1  # told once, not per retry
