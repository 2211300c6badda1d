"""The OAuth scope every emulated Web API method needs, and Slack's answer when the token lacks it.

Each entry comes from the method's page, "Required scopes", bot token column
(``https://api.slack.com/methods/<method>``, mirrored at ``docs.slack.dev/reference/methods/<method>``):

- ``auth.test``: none.
- ``apps.connections.open``: ``connections:write`` on the app-level token (not a bot scope).
- ``chat.postMessage`` / ``chat.update`` / ``chat.delete`` / ``chat.postEphemeral``: ``chat:write``.
- ``conversations.info``: ``channels:read`` / ``groups:read`` / ``im:read`` / ``mpim:read``, the one
  of the conversation's type; ``conversations.history`` / ``conversations.replies``: ``*:history``
  alike; ``conversations.open``: ``im:write`` (a 1:1 DM; ``mpim:write`` for a group DM).
- ``conversations.join``: ``channels:join`` (bot tokens; user tokens use ``channels:write``).
- ``users.info``: ``users:read``.
- ``reactions.add`` / ``reactions.remove``: ``reactions:write``; ``reactions.get``: ``reactions:read``.
- ``emoji.list``: ``emoji:read``.
- ``files.getUploadURLExternal`` / ``files.completeUploadExternal`` / ``files.delete``:
  ``files:write``; ``files.info``: ``files:read``.

A call without the scope answers HTTP 200 ``{"ok": false, "error": "missing_scope", "needed":
"<scope>", "provided": "<granted, comma separated>"}`` (``missing_scope`` in every method's error
table; the ``needed``/``provided`` fields are what python-slack-sdk's ``SlackApiError`` shows and
what the Node SDK's ``WebAPICallResult`` types). Every answer carries ``x-oauth-scopes`` (what the
token has) and ``x-accepted-oauth-scopes`` (what the method accepts): "Slack returns the scopes of a
token in the ``X-OAuth-Scopes`` header" (api.slack.com/authentication/oauth-v2, "Checking scopes").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

ByType = dict[str, str]
"""Conversation type (``public``, ``private``, ``im``, ``mpim``) -> the scope it needs."""


def _by_type(verb: str) -> ByType:
    return {"public": f"channels:{verb}", "private": f"groups:{verb}", "im": f"im:{verb}", "mpim": f"mpim:{verb}"}


REQUIRED: dict[str, str | ByType | None] = {
    "auth.test": None,
    "apps.connections.open": "connections:write",
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "chat.postEphemeral": "chat:write",
    "conversations.info": _by_type("read"),
    "conversations.history": _by_type("history"),
    "conversations.replies": _by_type("history"),
    "conversations.open": "im:write",
    "conversations.join": "channels:join",
    "users.info": "users:read",
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "reactions.get": "reactions:read",
    "emoji.list": "emoji:read",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "files.delete": "files:write",
    "files.info": "files:read",
}


def needed(method: str, conversation_type: str | None) -> str | None:
    """The scope ``method`` needs on a conversation of that type (None: no scope needed).

    Raises ``KeyError`` for a method this table does not know: every emulated method must say
    which scope it needs (tests/contract/test_slack_scopes.py checks the table covers them all)."""
    rule = REQUIRED[method]
    if isinstance(rule, dict):
        return rule.get(conversation_type or "public", rule["public"])
    return rule


def accepted(method: str) -> list[str]:
    """Every scope that can allow ``method`` (the ``x-accepted-oauth-scopes`` header)."""
    rule = REQUIRED.get(method)
    if isinstance(rule, dict):
        return list(rule.values())
    return [rule] if rule else []


def refusal(method: str, conversation_type: str | None, granted: Iterable[str]) -> dict[str, Any] | None:
    """Slack's ``missing_scope`` answer, or None when the granted scopes allow the call."""
    scope = needed(method, conversation_type)
    have = list(granted)
    if scope is None or scope in have:
        return None
    return {"ok": False, "error": "missing_scope", "needed": scope, "provided": ",".join(have)}


def headers(method: str, granted: Iterable[str]) -> dict[str, str]:
    return {"x-oauth-scopes": ",".join(granted), "x-accepted-oauth-scopes": ",".join(accepted(method))}
