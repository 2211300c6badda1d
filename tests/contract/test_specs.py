"""Contract tests: what the emulators answer, what discord.py and slack_sdk send, validated against the
official OpenAPI specs (``spec_kit``; known spec defects are in ``spec_kit.ALLOWED``, each with why).

Traffic: both real adapters, both emulators and the worker (``both_sides``): messages, edits,
deletes and replies both ways, slash commands on both platforms. Every JSON request and answer of
the Discord REST API and every Slack Web API call recorded in that run is checked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import spec_kit
from both_sides import Both, both_sides
from waiting import until

from bridge.core.chat import Chat


@pytest.fixture
async def traffic(chat: Chat, redis_url: str) -> AsyncIterator[Both]:
    async with both_sides(chat, redis_url) as b:
        first = await b.discord.say("alice", "general", "hello from **Discord**")
        await until(lambda: any("hello" in m.text for m in b.slack.history("general")), what="Discord → Slack")
        b.slack.user_says(user="bob", channel="general", text="hi from _Slack_")
        await until(lambda: any("hi from" in t for t in b.discord_texts()), what="Slack → Discord")
        await b.discord.edit("general", first["id"], "hello again from Discord")
        await until(lambda: any("hello again" in m.text for m in b.slack.history("general")), what="the edit")
        b.slack.user_says(user="bob", channel="general", text="to be deleted")
        copy = await until(lambda: next((m for m in b.discord.messages("general") if "deleted" in m["content"]), None))
        posted = next(m for m in b.slack.history("general") if m.text == "to be deleted")
        b.slack.user_deletes(channel="general", ts=posted.ts)
        await until(lambda: copy["id"] not in [m["id"] for m in b.discord.messages("general")], what="delete")
        inter = await b.discord.slash("alice", "general", "chat history", {"channel": "general"})
        await b.discord.wait_for_reply(inter, timeout=10)
        run = b.slack.slash_command(user="bob", channel="general", text="history general")
        await b.slack.wait_for(lambda: run.responses, within=10, what="the /chat answer")
        yield b


def test_discord_requests_and_answers_match_the_spec(traffic: Both) -> None:
    checked, problems = 0, []
    for r in traffic.discord.requests:
        if r.method == "GET" and r.path == "/gateway":
            continue
        where = f"discord request {r.method} {r.path}"
        if r.json is not None:
            problems += [f"{where}: {p}" for p in spec_kit.real_problems(where, spec_kit.discord_request_problems(
                r.method, r.path, r.json))]  # fmt: skip
        where = f"discord {r.method} {r.path} -> {r.status}"
        answer = spec_kit.discord_response_problems(r.method, r.path, r.status, r.answer)
        problems += [f"{where}: {p}" for p in spec_kit.real_problems(where, answer)]
        checked += 1
    assert checked >= 10
    assert not problems, "\n".join(problems[:60])


def test_slack_requests_and_answers_match_the_spec(traffic: Both) -> None:
    checked, problems = 0, []
    for r in traffic.slack.requests:
        if r.api_method is None or r.answer is None:
            continue
        where = f"slack request {r.api_method}"
        problems += [f"{where}: {p}" for p in spec_kit.real_problems(where, spec_kit.slack_request_problems(
            r.api_method, r.args))]  # fmt: skip
        where = f"slack {r.api_method} -> {'ok' if r.answer.get('ok') else 'error'}"
        answer = spec_kit.slack_response_problems(r.api_method, r.answer)
        problems += [f"{where}: {p}" for p in spec_kit.real_problems(where, answer)]
        checked += 1
    assert checked >= 5
    assert not problems, "\n".join(problems[:60])


def test_slack_event_envelopes_match_the_wrapper_schema(traffic: Both) -> None:
    problems = []
    for payload in traffic.slack.emitted:
        where = f"slack event {payload['event']['type']}"
        problems += [f"{where}: {p}" for p in spec_kit.real_problems(where, spec_kit.slack_event_problems(payload))]
    assert len(traffic.slack.emitted) >= 3
    assert not problems, "\n".join(problems[:40])
