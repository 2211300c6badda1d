"""The Slack emulator against the real slack-bolt and slack_sdk, in Socket Mode and HTTP mode."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp
from slack_kit import bolt_app, http_mode, socket_mode, web_client
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

from bridge.emulators.slack import RateLimit, SlackEmulator, SlackUser, Workspace, sign


def _message_listener(app: AsyncApp) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    @app.event("message")
    async def on_message(event: dict[str, Any], say: Any) -> None:
        seen.append(event)
        if event.get("text") == "echo please":
            await say(text="echo!", username="Bridge Person", icon_url="https://x.invalid/a.png")

    return seen


def _chat_command(app: AsyncApp) -> None:
    @app.command("/chat")
    async def on_chat(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        await ack()
        await respond(text=f"you said {command['text']}", response_type="ephemeral")


async def test_socket_mode_slash_command_ack_and_respond(slack: SlackEmulator) -> None:
    app = bolt_app(slack)
    _chat_command(app)
    async with socket_mode(app, slack):
        run = slack.slash_command(user="alice", channel="general", text="hello there")
        await slack.wait_for(lambda: run.responses and run.acked, what="the ack and a response")
    assert run.responses == [{"text": "you said hello there", "response_type": "ephemeral"}]
    # the app called auth.test (bolt's authorization) and apps.connections.open with the app token
    opened = slack.requests_for("apps.connections.open")[0]
    assert opened.headers["Authorization"] == f"Bearer {slack.config.app_token}"
    assert slack.requests_for("auth.test")
    assert [e.kind for e in slack.log] == ["response"]


async def test_socket_mode_ack_with_text_is_shown(slack: SlackEmulator) -> None:
    app = bolt_app(slack)

    @app.command("/chat")
    async def on_chat(ack: Any) -> None:
        await ack("quick answer")

    async with socket_mode(app, slack):
        run = slack.slash_command(user="bob", channel="random", text="x")
        await slack.wait_for(lambda: run.acked, what="the ack")
    assert run.ack == {"text": "quick answer"}


async def test_message_events_and_bot_echo_ignored(slack: SlackEmulator) -> None:
    app = bolt_app(slack)
    seen = _message_listener(app)
    async with socket_mode(app, slack):
        root = slack.user_says(user="alice", channel="general", text="echo please")
        post = await slack.wait_for_request("chat.postMessage")
        # the bot's own post comes back as an event with bot_id and subtype bot_message ...
        echo = await slack.wait_for(
            lambda: next((p for p in slack.emitted if p["event"].get("bot_id")), None), what="the echo"
        )
        await slack.wait_for(lambda: all(e.acked for e in slack.socket.envelopes), what="all acks")
        reply = slack.user_says(user="bob", channel="general", text="in thread", thread_ts=root.ts)
        await slack.wait_for(lambda: len(seen) == 3, what="the thread reply and its parent's change")
    # ... which bolt drops (IgnoringSelfEvents): only the people's messages reached the listener,
    # then the parent's message_changed a reply causes (thread metadata: reply_count, latest_reply)
    changed = seen.pop()
    assert changed["subtype"] == "message_changed" and changed["message"]["ts"] == root.ts
    assert changed["message"]["reply_count"] == 1 and changed["message"]["latest_reply"] == reply.ts
    assert [e["text"] for e in seen] == ["echo please", "in thread"]
    assert seen[0]["user"] == "U0ALICE001" and seen[0]["channel"] == "C0GENERAL1"
    assert seen[1]["thread_ts"] == root.ts and seen[1]["ts"] == reply.ts
    assert post.json["username"] == "Bridge Person"
    assert echo["event"]["subtype"] == "bot_message"
    assert echo["event"]["bot_id"] == slack.workspace.bot_id
    assert echo["event"]["username"] == "Bridge Person"
    assert [m.text for m in slack.history("general")] == ["echo please", "echo!", "in thread"]
    assert slack.find_message("C0GENERAL1", root.ts) is not None
    assert slack.history("general")[0].reply_count == 1


async def test_edit_delete_events(slack: SlackEmulator) -> None:
    app = bolt_app(slack)
    seen = _message_listener(app)
    async with socket_mode(app, slack):
        msg = slack.user_says(user="carol", channel="cricket", text="first")
        slack.user_edits(channel="cricket", ts=msg.ts, text="second")
        slack.user_deletes(channel="cricket", ts=msg.ts)
        await slack.wait_for(lambda: len(seen) == 3, what="three events")
    by_subtype = {e.get("subtype"): e for e in seen}
    assert by_subtype["message_changed"]["message"]["text"] == "second"
    assert by_subtype["message_changed"]["previous_message"]["text"] == "first"
    assert by_subtype["message_changed"]["message"]["edited"]["user"] == "U0CAROL001"
    assert by_subtype["message_deleted"]["deleted_ts"] == msg.ts
    assert slack.history("cricket") == []
    assert slack.history("cricket", include_deleted=True)[0].deleted


async def test_socket_redelivery_when_not_acked(slack: SlackEmulator) -> None:
    app = bolt_app(slack, process_before_response=True)
    release = asyncio.Event()
    attempts: list[str] = []

    @app.event("message")
    async def slow(event: dict[str, Any], request: Any) -> None:
        attempts.append(request.headers.get("x-slack-retry-num", ["?"])[0])
        if len(attempts) == 1:
            await release.wait()  # the first delivery is not acked in time

    async with socket_mode(app, slack):
        slack.user_says(user="alice", channel="general", text="hi")
        await slack.wait_for(lambda: len(attempts) == 2, what="a redelivery")
        release.set()
        await slack.wait_for(lambda: sum(e.acked for e in slack.socket.envelopes) == 2, what="acks")
    envs = slack.socket.envelopes
    assert [(e.retry_attempt, e.retry_reason) for e in envs] == [(0, ""), (1, "timeout")]
    assert envs[0].event_id == envs[1].event_id
    assert envs[0].envelope_id != envs[1].envelope_id
    assert attempts == ["0", "1"]


async def test_events_wait_for_a_connection(slack: SlackEmulator) -> None:
    app = bolt_app(slack)
    seen = _message_listener(app)
    slack.user_says(user="alice", channel="general", text="sent while offline")
    async with socket_mode(app, slack):
        await slack.wait_for(lambda: seen, what="the queued event")
    assert seen[0]["text"] == "sent while offline"


async def test_events_only_for_channels_the_bot_is_in(slack: SlackEmulator) -> None:
    slack.user_says(user="alice", channel="no-bot", text="private chat")
    slack.user_says(user="alice", channel="general", text="public")
    assert [p["event"]["text"] for p in slack.emitted] == ["public"]


async def test_http_mode_command_event_and_signature(slack_http: SlackEmulator) -> None:
    app = bolt_app(slack_http)
    _chat_command(app)
    seen = _message_listener(app)
    async with http_mode(app, slack_http) as url:
        run = slack_http.slash_command(user="alice", channel="general", text="over http")
        slack_http.user_says(user="bob", channel="general", text="hello http")
        await slack_http.wait_for(lambda: run.responses and seen, what="response and event")
        attempts = list(slack_http.http.attempts)
        # a request with a bad signature is refused by bolt
        body = json.dumps(slack_http.emitted[0]).encode()
        async with aiohttp.ClientSession() as s:
            headers = {"Content-Type": "application/json", **sign("wrong-secret", body)}
            async with s.post(url, data=body, headers=headers) as resp:
                assert resp.status == 401
            headers = {"Content-Type": "application/json", **sign(slack_http.config.signing_secret, body)}
            async with s.post(url, data=body, headers=headers) as resp:
                assert resp.status == 200
    assert run.acked and run.ack_status == 200
    assert run.responses[0]["text"] == "you said over http"
    assert seen[0]["text"] == "hello http"
    assert all(a.ok and a.retry_num == 0 for a in attempts)


async def test_http_mode_wrong_secret_is_refused(slack_http: SlackEmulator) -> None:
    app = AsyncApp(client=web_client(slack_http), signing_secret="another-secret")
    seen = _message_listener(app)
    async with http_mode(app, slack_http):
        slack_http.user_says(user="bob", channel="general", text="never seen")
        await slack_http.wait_for(lambda: len(slack_http.http.attempts) == 4, what="all retries")
    assert seen == []
    assert [a.status for a in slack_http.http.attempts] == [401] * 4
    assert [a.retry_num for a in slack_http.http.attempts] == [0, 1, 2, 3]
    assert slack_http.http.attempts[1].retry_reason == "http_error"


async def test_http_mode_retries_after_timeout(slack_http: SlackEmulator) -> None:
    app = bolt_app(slack_http, process_before_response=True)
    retry_headers: list[tuple[str, str]] = []
    release = asyncio.Event()

    @app.event("message")
    async def slow(request: Any) -> None:
        num = request.headers.get("x-slack-retry-num", ["0"])[0]
        retry_headers.append((num, request.headers.get("x-slack-retry-reason", [""])[0]))
        if num == "0":
            await release.wait()

    async with http_mode(app, slack_http):
        slack_http.user_says(user="alice", channel="general", text="slow one")
        await slack_http.wait_for(lambda: any(a.ok for a in slack_http.http.attempts), what="a 2xx")
        release.set()
    first, second = slack_http.http.attempts[:2]
    assert first.status is None and first.retry_num == 0
    assert second.ok and second.retry_num == 1 and second.retry_reason == "http_timeout"
    assert ("1", "http_timeout") in retry_headers


async def test_url_verification(slack_http: SlackEmulator) -> None:
    app = bolt_app(slack_http)
    async with http_mode(app, slack_http) as url:
        attempt = await slack_http.http.verify_url(url, "chal-123")
    assert attempt.ok and json.loads(attempt.body) == {"challenge": "chal-123"}


async def test_rate_limit_surfaces_as_429_and_retry_handler_waits(slack: SlackEmulator) -> None:
    # one call per 2 s, and Retry-After 2: the calls below get 2 s (not a tight 0.5) to run on a
    # slow machine before the bucket refills, and the patient client needs exactly one retry
    slack.limiter.set_limit("chat.postMessage", RateLimit(limit=1, window=2.0, retry_after=2))
    client = web_client(slack)
    await client.chat_postMessage(channel="C0GENERAL1", text="one")
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C0GENERAL1", text="two")
    assert info.value.response.status_code == 429
    assert info.value.response["error"] == "ratelimited"
    assert info.value.response.headers["Retry-After"] == "2"
    # another channel has its own budget
    await client.chat_postMessage(channel="C0RANDOM01", text="elsewhere")
    patient = web_client(slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    started = time.monotonic()
    resp = await patient.chat_postMessage(channel="C0GENERAL1", text="three")
    assert resp["ok"] and time.monotonic() - started >= 2.0
    assert [m.text for m in slack.history("general")] == ["one", "three"]
    assert slack.throttled == [("chat.postMessage", 429), ("chat.postMessage", 429)]


async def test_web_api_errors(slack: SlackEmulator) -> None:
    client = web_client(slack)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("chat_postMessage", {"channel": "C0GENERAL1", "text": "x" * 40_001}, "msg_too_long"),
        ("chat_postMessage", {"channel": "C0NOPE0000", "text": "x"}, "channel_not_found"),
        ("chat_postMessage", {"channel": "C0NOBOT001", "text": "x"}, "not_in_channel"),
        ("chat_update", {"channel": "C0GENERAL1", "ts": "1.000001", "text": "x"}, "message_not_found"),
        ("chat_delete", {"channel": "C0GENERAL1", "ts": "1.000001"}, "message_not_found"),
        ("users_info", {"user": "U0NOPE0000"}, "user_not_found"),
        ("conversations_info", {"channel": "C0NOPE0000"}, "channel_not_found"),
    ]
    for method, kwargs, error in cases:
        with pytest.raises(SlackApiError) as info:
            await getattr(client, method)(**kwargs)
        assert info.value.response["error"] == error, method
    ok = await client.chat_postMessage(channel="C0GENERAL1", text="x" * 40_000)
    assert ok["ok"]
    person = slack.user_says(user="bob", channel="general", text="mine")
    with pytest.raises(SlackApiError) as info:
        await client.chat_update(channel="C0GENERAL1", ts=person.ts, text="hijack")
    assert info.value.response["error"] == "cant_update_message"
    bad = web_client(slack, token="xoxb-wrong")
    with pytest.raises(SlackApiError) as info:
        await bad.auth_test()
    assert info.value.response["error"] == "invalid_auth"


async def test_web_api_methods(slack: SlackEmulator) -> None:
    client = web_client(slack)
    auth = await client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"]) == ("U0BOT00001", "B0BOT00001", "T0EMULATOR")
    alice = await client.users_info(user="U0ALICE001")
    assert alice["user"]["is_admin"] and alice["user"]["profile"]["display_name"] == "alice"
    info = await client.conversations_info(channel="C0CRICKET1")
    assert info["channel"]["name"] == "cricket" and info["channel"]["is_member"]
    posted = await client.chat_postMessage(channel="C0CRICKET1", text="root")
    reply = await client.chat_postMessage(channel="C0CRICKET1", text="reply", thread_ts=posted["ts"])
    await client.chat_update(channel="C0CRICKET1", ts=reply["ts"], text="edited reply")
    replies = await client.conversations_replies(channel="C0CRICKET1", ts=posted["ts"])
    assert [m["text"] for m in replies["messages"]] == ["root", "edited reply"]
    await client.chat_delete(channel="C0CRICKET1", ts=reply["ts"])
    eph = await client.chat_postEphemeral(channel="C0CRICKET1", user="U0BOB00001", text="psst")
    assert eph["message_ts"]
    dm = await client.conversations_open(users="U0BOB00001")
    again = await client.conversations_open(users="U0BOB00001")
    assert dm["channel"]["id"] == again["channel"]["id"] and again["already_open"]
    await client.chat_postMessage(channel=dm["channel"]["id"], text="you have mail")
    assert [m.text for m in slack.dms_to("bob")] == ["you have mail"]
    kinds = [e.kind for e in slack.log]
    assert kinds == ["post", "post", "update", "delete", "ephemeral", "post"]
    subtypes = [p["event"].get("subtype") for p in slack.emitted]
    # root, reply, the root's metadata change, the reply's edit, its delete, the root's change again, DM
    assert subtypes == [None, None, "message_changed", "message_changed", "message_deleted", "message_changed", None]


async def test_control_routes(slack: SlackEmulator) -> None:
    base = f"{slack.url}/_emulator"
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{base}/messages", json={"user": "alice", "channel": "#general", "text": "hi"}) as r:
            said = await r.json()
        assert said["ok"] and said["channel"] == "C0GENERAL1"
        async with s.post(f"{base}/messages/edit", json={"channel": "general", "ts": said["ts"], "text": "yo"}):
            pass
        async with s.get(f"{base}/messages", params={"channel": "general"}) as r:
            msgs = (await r.json())["messages"]
        assert [m["text"] for m in msgs] == ["yo"]
        async with s.post(f"{base}/messages", json={"user": "nobody", "channel": "general", "text": "x"}) as r:
            assert r.status == 404
        async with s.get(f"{base}/log") as r:
            assert [e["kind"] for e in (await r.json())["entries"]] == ["post", "update"]
        async with s.post(f"{base}/commands", json={"user": "bob", "channel": "general", "text": "help"}) as r:
            run_id = (await r.json())["id"]
        async with s.get(f"{base}/commands/{run_id}") as r:
            assert (await r.json())["command"]["text"] == "help"
        async with s.post(f"{base}/failures", json={"method": "auth.test", "error": "fatal_error"}):
            pass
        async with s.get(f"{base}/state") as r:
            state = await r.json()
        assert state["bot_user_id"] == "U0BOT00001" and not state["socket_connected"]
    with pytest.raises(SlackApiError) as info:
        await web_client(slack).auth_test()
    assert info.value.response["error"] == "fatal_error"
    async with aiohttp.ClientSession() as s, s.get(f"{base}/requests", params={"method": "auth.test"}) as r:
        reqs = (await r.json())["requests"]
    assert len(reqs) == 1 and "Authorization" not in reqs[0]["headers"]


async def test_socket_disconnect_makes_the_app_reconnect(slack: SlackEmulator) -> None:
    app = bolt_app(slack)
    _chat_command(app)
    async with socket_mode(app, slack):
        await slack.socket.disconnect_all()
        await slack.wait_for(lambda: slack.socket.connection_count == 2 and slack.socket.connected, what="a reconnect")
        run = slack.slash_command(user="alice", channel="general", text="still there?")
        await slack.wait_for(lambda: run.responses and run.acked, what="an answer after the reconnect")
    assert len(slack.requests_for("apps.connections.open")) == 2


async def test_custom_workspace(emulator_factory: Any) -> None:
    ws = Workspace(team_id="T0CUSTOM01", team_domain="custom")
    ws.users[ws.bot_user_id] = SlackUser(id=ws.bot_user_id, name="bridge", is_bot=True, bot_id=ws.bot_id)
    ws.add_channel("C0LOBBY001", "lobby")
    dana = ws.add_user("U0DANA0001", "dana", is_admin=True, display_name="Dana Q")
    ws.add_channel("G0SECRET01", "secret", members={dana.id}, private=True)
    emu = await emulator_factory(workspace=ws)
    client = web_client(emu)
    assert (await client.auth_test())["team_id"] == "T0CUSTOM01"
    info = await client.users_info(user="U0DANA0001")
    assert info["user"]["profile"]["display_name"] == "Dana Q" and info["user"]["is_admin"]
    secret = await client.conversations_info(channel="G0SECRET01")
    assert secret["channel"]["is_private"] and secret["channel"]["is_member"]
    lobby = await client.conversations_info(channel="C0LOBBY001")
    assert lobby["channel"]["is_member"] and ws.channels["C0LOBBY001"].members == {ws.bot_user_id}
    emu.user_says(user="dana", channel="secret", text="psst")
    assert emu.emitted[-1]["event"]["channel_type"] == "group"
    assert emu.emitted[-1]["team_id"] == "T0CUSTOM01"
