"""The app manifest asks for every scope the adapter's Web API calls need.

The calls are read from the adapter's source (every ``AsyncWebClient`` method it names, by
``call("name")`` or as an attribute); slack_sdk says which Web API method each one is; the vendored
spec (``security.slackAuth`` of each method) says which scopes allow it. A method the adapter adds
without its scope in ``BOT_SCOPES`` fails here, before a real workspace answers ``missing_scope``."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import spec_kit
from slack_sdk.web.async_client import AsyncWebClient

from bridge.adapters.slack.manifest import BOT_SCOPES

ADAPTER = Path(spec_kit.__file__).resolve().parents[2] / "bridge" / "adapters" / "slack"
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
}


def adapter_methods() -> dict[str, str]:
    """Web API method -> the AsyncWebClient attribute the adapter uses for it."""
    names: set[str] = set()
    for path in ADAPTER.glob("*.py"):
        text = path.read_text()
        names.update(re.findall(r"call\(\s*\"([a-z]+_[A-Za-z_]+)\"", text))  # _call("chat_update", …)
        names.update(re.findall(r"\.([a-z]+_[A-Za-z_]+)\b", text))  # client.users_info(…), …reactions_add
    out = {}
    for name in sorted(names):
        member = getattr(AsyncWebClient, name, None)
        if member is None or not callable(member):
            continue
        found = re.search(r"api_call\(\s*\"([A-Za-z.]+)\"", inspect.getsource(member))
        assert found, f"slack_sdk's {name} names no Web API method"
        out[found.group(1)] = name
    return out


def allowed_scopes(method: str) -> tuple[str, ...]:
    if method in NOT_IN_SPEC:
        return NOT_IN_SPEC[method]
    op = spec_kit.slack_operation(method)
    assert op is not None, f"{method}: neither in the spec nor in NOT_IN_SPEC"
    scopes = [s for rule in op.get("security", []) for s in rule.get("slackAuth", [])]
    return tuple(LEGACY.get(s, s) for s in scopes if s != "none")


def test_the_adapter_calls_the_methods_we_expect() -> None:
    methods = adapter_methods()
    for expected in ("chat.postMessage", "chat.update", "chat.delete", "users.info", "auth.test"):
        assert expected in methods, sorted(methods)


def test_every_called_method_has_a_scope_in_the_manifest() -> None:
    missing = {}
    for method in adapter_methods():
        scopes = allowed_scopes(method)
        if scopes and not set(scopes) & set(BOT_SCOPES):
            missing[method] = scopes
    assert not missing, f"the manifest lacks a scope for: {missing}"


def test_the_check_fails_for_a_method_without_its_scope() -> None:
    assert not set(allowed_scopes("conversations.join")) & set(BOT_SCOPES)  # channels:write, not asked
