"""The parts of a Web API answer that every method shares: scope checks, ``response_metadata`` and
warnings (called from ``webapi.call``).

Slack's answer format (api.slack.com/web, "Evaluating responses"): ``ok``; on failure ``error``, a
short machine-readable code; "In the case of problematic calls that could still be completed
successfully, ok will be true and the warning property will contain a short machine-readable
warning code (or comma-separated list of them)". Details travel in ``response_metadata``:
``{"messages": ["[ERROR] …"]}`` for what exactly was wrong (e.g. ``invalid_blocks``,
``invalid_arguments``) and ``{"warnings": [...]}`` beside ``warning``.

Warnings every method page lists (e.g. api.slack.com/methods/chat.postMessage, "Warnings"):
``missing_charset`` — a POST whose non-form Content-Type (JSON) names no charset;
``superfluous_charset`` — a charset that is not ``utf-8`` / ``iso-8859-1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.emulators.slack import scopes
from bridge.emulators.slack.state import RecordedRequest

if TYPE_CHECKING:
    from bridge.emulators.slack.server import SlackEmulator

APP_SCOPES = ("connections:write",)
"""The app-level token's scopes (the token Socket Mode opens its URL with)."""
CHARSETS = ("utf-8", "iso-8859-1")


def conversation_type(emu: SlackEmulator, args: dict[str, Any]) -> str | None:
    """``public``, ``private`` or ``im`` for the conversation a call names (None: none or unknown)."""
    ref = args.get("channel") or args.get("channel_id")
    channel = emu.workspace.channel(str(ref)) if ref else None
    if channel is None:
        return None
    if channel.is_im:
        return "im"
    return "private" if channel.is_private else "public"


def granted(emu: SlackEmulator, method: str) -> tuple[str, ...]:
    return APP_SCOPES if method == "apps.connections.open" else tuple(emu.config.scopes)


def scope_refusal(emu: SlackEmulator, method: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """Slack's ``missing_scope`` answer when the token lacks the method's scope, else None."""
    return scopes.refusal(method, conversation_type(emu, args), granted(emu, method))


def scope_headers(emu: SlackEmulator, method: str) -> dict[str, str]:
    return scopes.headers(method, granted(emu, method))


def metadata(messages: tuple[str, ...] = (), warnings: list[str] | None = None) -> dict[str, Any]:
    """``response_metadata`` (and ``warning``) for an answer; {} when there is nothing to say."""
    out: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    if messages:
        meta["messages"] = list(messages)
    if warnings:
        meta["warnings"] = list(warnings)
        out["warning"] = ",".join(warnings)
    if meta:
        out["response_metadata"] = meta
    return out


def request_warnings(req: RecordedRequest) -> list[str]:
    """The charset warnings a request earns (see the module docstring)."""
    if req.http_method != "POST":
        return []
    ctype = next((v for k, v in req.headers.items() if k.lower() == "content-type"), "")
    main, _, params = ctype.partition(";")
    charset = ""
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset":
            charset = value.strip().strip('"').lower()
    if charset and charset not in CHARSETS:
        return ["superfluous_charset"]
    if main.strip().lower() == "application/json" and not charset:
        return ["missing_charset"]
    return []
