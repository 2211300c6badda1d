"""The app manifest asks for every scope the bridge's Web API calls need — at every call site.

Three nets, each able to fail on its own:

1. **The source.** Every ``AsyncWebClient`` method the bridge's code names (``_call("name")``,
   ``client.users_info(…)``, ``.api_call("x.y")``), in ``bridge/`` outside the emulators, plus the
   calls the libraries make for it (slack-bolt's ``auth.test``, the Socket Mode client's
   ``apps.connections.open``); slack_sdk says which Web API method each one is; the vendored spec
   (``security.slackAuth``) or, where the spec is out of date, the method's docs page says which
   scopes allow it. A call whose scope is not in ``BOT_SCOPES`` fails here.
2. **The emulator.** It enforces a scope on every method it emulates (``bridge/emulators/slack/
   scopes.py``, from the docs pages), its table covers every method the source calls and agrees
   with the spec, and its default grant is exactly the manifest's scopes: so every test in the
   suite that drives the adapter against it (unit, mirror, e2e) runs with the manifest's scopes, and
   a call site this scan missed answers ``missing_scope`` in whichever test reaches it.
3. **Recorded calls.** A run of the real adapter through its main paths (post, split, thread, edit,
   delete, files, reactions, DM, commands) records the Web API methods the emulator saw; each one
   must be one the scan found (else the scan is blind to a call site) and none may have been
   answered ``missing_scope``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import spec_kit
from both_sides import both_sides
from slack_sdk.web.async_client import AsyncWebClient
from waiting import until

from bridge.adapters.slack.manifest import BOT_SCOPES
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.emulators.slack import EmulatorConfig, scopes

ROOT = Path(spec_kit.__file__).resolve().parents[2] / "bridge"
LEGACY = {"chat:write:bot": "chat:write", "chat:write:user": "chat:write", "files:write:user": "files:write"}
"""The 2021 spec names some scopes by their pre-granular-bot names (api.slack.com/scopes lists the
bot token forms chat:write and files:write)."""
NOT_IN_SPEC = {
    # api.slack.com/methods/files.getUploadURLExternal, .../files.completeUploadExternal: files:write
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    # api.slack.com/methods/apps.connections.open: app-level token with connections:write (not a bot
    # scope: the manifest cannot grant it, README step 1 says to create the token)
    "apps.connections.open": (),
    # api.slack.com/methods/conversations.join: bot tokens need channels:join (the 2021 spec lists
    # only the user token's channels:write)
    "conversations.join": ("channels:join",),
}
LIBRARY_CALLS = {
    # slack-bolt's single-workspace authorization runs auth.test (slack_bolt/authorization/
    # async_authorize.py); the Socket Mode client opens its URL (slack_sdk/socket_mode/async_client.py)
    "auth.test": "auth_test",
    "apps.connections.open": "apps_connections_open",
}


def methods_in(texts: list[str]) -> dict[str, str]:
    """Web API method -> the AsyncWebClient attribute (or api_call name) used for it in ``texts``."""
    names: set[str] = set()
    out: dict[str, str] = {}
    for text in texts:
        names.update(re.findall(r"call\(\s*\"([a-z]+_[A-Za-z_]+)\"", text))  # _call("chat_update", …)
        names.update(re.findall(r"\.([a-z]+_[A-Za-z_]+)\b", text))  # client.users_info(…), …reactions_add
        for method in re.findall(r"api_call\(\s*\"([a-z]+\.[A-Za-z.]+)\"", text):  # raw api_call("x.y")
            out[method] = method
    for name in sorted(names):
        member = getattr(AsyncWebClient, name, None)
        if member is None or not callable(member) or name == "api_call":
            continue
        found = re.search(r"api_call\(\s*\"([A-Za-z.]+)\"", inspect.getsource(member))
        assert found, f"slack_sdk's {name} names no Web API method"
        out[found.group(1)] = name
    return out


def bridge_sources() -> list[str]:
    return [p.read_text() for p in sorted(ROOT.rglob("*.py")) if "emulators" not in p.parts]


def bridge_methods() -> dict[str, str]:
    return {**methods_in(bridge_sources()), **LIBRARY_CALLS}


def allowed_scopes(method: str) -> tuple[str, ...]:
    if method in NOT_IN_SPEC:
        return NOT_IN_SPEC[method]
    op = spec_kit.slack_operation(method)
    assert op is not None, f"{method}: neither in the spec nor in NOT_IN_SPEC"
    found = [s for rule in op.get("security", []) for s in rule.get("slackAuth", [])]
    return tuple(LEGACY.get(s, s) for s in found if s != "none")


def lacking(methods: dict[str, str]) -> dict[str, tuple[str, ...]]:
    missing = {}
    for method in methods:
        allowed = allowed_scopes(method)
        if allowed and not set(allowed) & set(BOT_SCOPES):
            missing[method] = allowed
    return missing


def test_the_scan_finds_the_call_sites() -> None:
    methods = bridge_methods()
    for expected in (
        "chat.postMessage", "chat.update", "chat.delete", "chat.postEphemeral", "users.info", "auth.test",
        "conversations.open", "conversations.join", "conversations.history", "reactions.add", "emoji.list",
        "files.getUploadURLExternal", "files.completeUploadExternal", "files.info", "files.delete",
    ):  # fmt: skip
        assert expected in methods, sorted(methods)


def test_every_called_method_has_a_scope_in_the_manifest() -> None:
    assert not lacking(bridge_methods()), f"the manifest lacks a scope for: {lacking(bridge_methods())}"


def test_the_check_fails_for_a_call_site_without_its_scope() -> None:
    new_code = 'await self._call("usergroups_create", name=n)\nawait client.api_call("pins.add")'
    found = methods_in([new_code])
    assert set(found) == {"usergroups.create", "pins.add"}
    assert set(lacking(found)) == {"usergroups.create", "pins.add"}  # usergroups:write / pins:write: not asked


def test_the_emulator_enforces_a_scope_on_every_method_the_bridge_calls() -> None:
    unknown = sorted(set(bridge_methods()) - set(scopes.REQUIRED))
    assert not unknown, f"the emulator has no scope rule for {unknown}"
    for method in bridge_methods():
        emulated = scopes.accepted(method)
        if method != "apps.connections.open":  # the app token's scope, not a bot scope
            assert set(emulated) <= set(allowed_scopes(method)), (method, emulated)


def test_the_emulator_grants_exactly_the_manifest_scopes() -> None:
    assert sorted(EmulatorConfig().scopes) == sorted(BOT_SCOPES)


@pytest.fixture
async def recorded(chat: Chat, redis_url: str) -> AsyncIterator[list[tuple[str, str]]]:
    """(method, error or "") of every Web API call the Slack emulator saw while the real bridge ran
    its main paths: post, file, edit, reaction both ways, delete, a channel that dropped the app,
    a slash command."""
    async with both_sides(chat, redis_url) as b:
        slack = b.slack
        await chat.channels.link("general", ChannelRef("slack", slack.workspace.team_id, "C0NOBOT001"))
        first = await b.discord.say("alice", "general", "hello", files=[("notes.txt", b"some notes")])
        await until(lambda: [m for m in slack.history("no-bot") if m.files or m.blocks], what="the file on Slack")
        await b.discord.edit("general", first["id"], "hello again")
        await until(lambda: any("hello again" in m.text for m in slack.history("general")), what="the edit")
        await b.discord.react("bob", "general", first["id"], "👍")
        await until(lambda: slack.requests_for("reactions.add"), what="the reaction on Slack")
        own = slack.user_says(user="bob", channel="general", text="from Slack")
        copy = await until(lambda: next((m for m in b.discord.messages("general") if m["content"] == "from Slack"), 0))
        slack.user_reacts(user="bob", channel="general", ts=own.ts, name="wave")
        await until(lambda: b.discord.reactions_of(copy["id"]), what="the reaction on Discord")
        await b.discord.delete("general", first["id"])
        await until(lambda: slack.requests_for("chat.delete"), what="the delete on Slack")
        run = slack.slash_command(user="bob", channel="general", text="history general")
        await slack.wait_for(lambda: run.responses, within=10, what="the /chat answer")
        yield [(str(r.api_method), str((r.answer or {}).get("error") or "")) for r in slack.requests if r.api_method]


async def test_the_recorded_calls_are_all_found_by_the_scan(recorded: list[tuple[str, str]]) -> None:
    seen = {method for method, _ in recorded}
    assert {"chat.postMessage", "chat.update", "chat.delete", "reactions.add", "conversations.join"} <= seen
    blind = sorted(seen - set(bridge_methods()))
    assert not blind, f"the bridge called {blind}, which the source scan did not find"
    refused = sorted({method for method, error in recorded if error == "missing_scope"})
    assert not refused, f"the manifest's scopes do not allow {refused}"
