"""The Slack Web API methods the bridge calls, answered like Slack answers them.

Every method answers HTTP 200 with ``{"ok": false, "error": ...}`` on failure, except rate limits:
HTTP 429, a ``Retry-After`` header (whole seconds) and ``{"ok": false, "error": "ratelimited"}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bridge.emulators.slack import answers, external_upload, history_pages
from bridge.emulators.slack.payloads import channel_object, user_object
from bridge.emulators.slack.state import RecordedRequest, SlackChannel
from bridge.emulators.slack.threads import is_tombstone, valid_ts

if TYPE_CHECKING:
    from bridge.emulators.slack.server import SlackEmulator

Args = dict[str, Any]
Method = Callable[["SlackEmulator", Args], dict[str, Any]]


class ApiError(Exception):
    """A Web API error; ``messages`` go in ``response_metadata.messages`` (see ``answers``)."""

    def __init__(self, error: str, *messages: str) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _channel(emu: SlackEmulator, args: Args, *, member: bool = True) -> SlackChannel:
    ref = args.get("channel")
    if not ref:
        raise ApiError("channel_not_found")
    channel = emu.workspace.channel(str(ref))
    if channel is None:
        raise ApiError("channel_not_found")
    if emu.workspace.bot_user_id not in channel.members and (member or channel.is_private):
        # a private channel the app is not in does not exist for it: channel_not_found, not
        # not_in_channel (what real workspaces answer; shared/notes/platform-realities.md, Slack)
        raise ApiError("channel_not_found" if channel.is_private else "not_in_channel")
    if member and channel.archived:
        raise ApiError("is_archived")
    return channel


def _text(emu: SlackEmulator, args: Args) -> str:
    text = args.get("text")
    if not text and not args.get("blocks") and not args.get("attachments"):
        raise ApiError("no_text")
    text = str(text or "")
    if len(text) > emu.config.max_text_chars:
        raise ApiError("msg_too_long")
    return text


def auth_test(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    ws = emu.workspace
    return {
        "url": f"https://{ws.team_domain}.slack.invalid/",
        "team": ws.team_name,
        "user": ws.bot_name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def apps_connections_open(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    return {"url": emu.socket.issue_url(emu.ws_url)}


def _block_files(emu: SlackEmulator, blocks: Any) -> list[str]:
    """Ids of the files ``image`` blocks show through ``slack_file: {"id"}``; an unknown, unfinished
    or non-image file makes the blocks invalid (reference/block-kit/blocks/image-block: the file
    must be an image the poster can access)."""
    ids: list[str] = []
    for n, block in enumerate(blocks if isinstance(blocks, list) else []):
        if not isinstance(block, dict) or block.get("type") != "image":
            continue
        where = f"[json-pointer:/blocks/{n}"  # Slack names the failing block in response_metadata
        ref = block.get("slack_file")
        if ref is None:
            if not block.get("image_url"):
                raise ApiError("invalid_blocks", f"[ERROR] must provide image_url or slack_file {where}]")
            continue
        file_id = str(ref.get("id") or "") if isinstance(ref, dict) else ""
        item = emu.files.files.get(file_id)
        if item is None or item.deleted or not item.complete or not item.mimetype.startswith("image/"):
            raise ApiError("invalid_blocks", f"[ERROR] invalid slack file {where}/slack_file]")
        if not block.get("alt_text"):
            raise ApiError("invalid_blocks", f"[ERROR] must provide alt_text {where}/alt_text]")
        ids.append(file_id)
    return ids


def chat_post_message(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    channel = _channel(emu, args)
    text = _text(emu, args)
    _block_files(emu, _blocks(args))
    thread_ts = args.get("thread_ts") or None
    if thread_ts and not valid_ts(str(thread_ts)):
        raise ApiError("invalid_thread_ts")  # a ts that matches no parent is ok:true, shown nowhere (threads.py)
    msg = emu.post_as_bot(
        channel=channel.id,
        text=text,
        username=args.get("username") or None,
        icon_url=args.get("icon_url") or None,
        thread_ts=str(thread_ts) if thread_ts else None,
        blocks=_blocks(args),
        reply_broadcast=_truthy(args.get("reply_broadcast")),
    )
    msg.metadata = _metadata(args)
    return {"channel": channel.id, "ts": msg.ts, "message": msg.to_api()}


def _metadata(args: Args) -> dict[str, Any] | None:
    """``metadata`` of chat.postMessage: a JSON object (or its JSON text in a form post) with a
    string ``event_type`` and an object ``event_payload`` (docs.slack.dev/messaging/message-metadata:
    "metadata": {"event_type": "...", "event_payload": {...}}); anything else is ``invalid_metadata_format``."""
    raw = args.get("metadata")
    if raw in (None, ""):
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ApiError("invalid_metadata_format") from None
    if not (
        isinstance(raw, dict) and isinstance(raw.get("event_type"), str) and isinstance(raw.get("event_payload"), dict)
    ):
        raise ApiError("invalid_metadata_format")
    return {"event_type": raw["event_type"], "event_payload": raw["event_payload"]}


def _listed(message: dict[str, Any], args: Args) -> dict[str, Any]:
    """conversations.history/replies leave message metadata out unless ``include_all_metadata`` is
    true ("Return all metadata associated with this message", the method's argument)."""
    if not _truthy(args.get("include_all_metadata")):
        message.pop("metadata", None)
    return message


def _blocks(args: Args) -> list[Any] | None:
    """``blocks`` as a list (slack_sdk sends it JSON-encoded in form posts, as a list in JSON posts)."""
    raw = args.get("blocks")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ApiError("invalid_blocks", "[ERROR] blocks is not valid JSON") from None
    return raw if isinstance(raw, list) else None


def chat_update(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    channel = _channel(emu, args)
    ts = str(args.get("ts") or "")
    msg = emu.find_message(channel.id, ts)
    if msg is None or is_tombstone(msg):
        raise ApiError("message_not_found")
    if msg.bot_id != emu.workspace.bot_id:
        raise ApiError("cant_update_message")
    text = _text(emu, args)
    blocks = _blocks(args)
    _block_files(emu, blocks)
    # docs.slack.dev reference/methods/chat.update, `blocks`: given, they replace the old ones; absent,
    # the previous blocks are kept; an empty array removes them
    # Does chat.update keep a custom username/icon? The docs do not say (chat.update lists neither
    # argument). ``update_keeps_persona`` picks the answer: kept, or reset to the app's own name
    # unless the call sends them again; an update that sends them sets them either way.
    if not emu.config.update_keeps_persona:
        msg.username, msg.icon_url = None, None
    if args.get("username"):
        msg.username = str(args["username"])
    if args.get("icon_url"):
        msg.icon_url = str(args["icon_url"])
    emu.edit_message(channel=channel.id, ts=ts, text=text, blocks=blocks)
    return {"channel": channel.id, "ts": ts, "text": text, "message": msg.to_api()}


def chat_delete(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    channel = _channel(emu, args)
    ts = str(args.get("ts") or "")
    msg = emu.find_message(channel.id, ts)
    if msg is None or is_tombstone(msg):
        raise ApiError("message_not_found")
    if msg.bot_id != emu.workspace.bot_id:
        raise ApiError("cant_delete_message")
    emu.remove_message(channel=channel.id, ts=ts)
    return {"channel": channel.id, "ts": ts}


def chat_post_ephemeral(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    channel = _channel(emu, args)
    user = emu.workspace.user(str(args.get("user") or ""))
    if user is None:
        raise ApiError("user_not_found")
    if user.id not in channel.members:
        raise ApiError("user_not_in_channel")
    text = _text(emu, args)
    ts = emu.post_ephemeral(channel=channel.id, user=user.id, text=text)
    return {"message_ts": ts}


def conversations_info(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    channel = _channel(emu, args, member=False)
    return {"channel": channel_object(emu.workspace, channel, viewer=emu.workspace.bot_user_id)}


def conversations_open(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    users = [u for u in str(args.get("users") or "").split(",") if u]
    if len(users) != 1:
        raise ApiError("users_list_not_supplied" if not users else "not_supported")
    user = emu.workspace.user(users[0])
    if user is None or user.deleted:
        raise ApiError("user_not_found")
    channel, existed = emu.open_im(user.id)
    out: dict[str, Any] = {"channel": channel_object(emu.workspace, channel, viewer=emu.workspace.bot_user_id)}
    if existed:
        out["already_open"] = True
    return out


def _paged(answer: Callable[[], dict[str, Any]], args: Args) -> dict[str, Any]:
    """A page of history_pages (cursor pagination as Slack documents it) with messages listed."""
    try:
        out = answer()
    except history_pages.PageError as err:
        raise ApiError(err.error) from None
    out["messages"] = [_listed(m.to_api(), args) for m in out["messages"]]
    return out


def conversations_history(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    channel = _channel(emu, args)
    return _paged(lambda: history_pages.history_page(emu, channel.id, args), args)


def conversations_replies(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    channel = _channel(emu, args)
    ts = str(args.get("ts") or "")
    return _paged(lambda: history_pages.replies_page(emu, channel.id, ts, args), args)


def users_info(emu: SlackEmulator, args: Args) -> dict[str, Any]:
    user = emu.workspace.user(str(args.get("user") or ""))
    if user is None or not str(args.get("user") or "").startswith(("U", "W")):
        raise ApiError("user_not_found")
    return {"user": user_object(emu.workspace, user)}


METHODS: dict[str, Method] = {
    "auth.test": auth_test,
    "apps.connections.open": apps_connections_open,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "chat.postEphemeral": chat_post_ephemeral,
    "conversations.info": conversations_info,
    "conversations.open": conversations_open,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "users.info": users_info,
}
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


def _json(body: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _token(req: RecordedRequest) -> str | None:
    auth = req.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    token = req.args.get("token")
    return str(token) if token else None


def call(emu: SlackEmulator, req: RecordedRequest) -> web.Response:
    """Answer one recorded Web API request."""
    name = req.api_method or ""
    method = METHODS.get(name) or external_upload.METHODS.get(name)
    if method is None:
        return _json({"ok": False, "error": "unknown_method"}, status=404)
    token = _token(req)
    expected = emu.config.app_token if name in APP_TOKEN_METHODS else emu.config.bot_token
    if not token:
        return _json({"ok": False, "error": "not_authed"})
    if emu.network.mode == "revoked" and token == expected:
        # a revoked token answers token_revoked (https://api.slack.com/methods/auth.test: errors)
        return _json({"ok": False, "error": "token_revoked"})
    if token != expected:
        wrong_kind = token in (emu.config.app_token, emu.config.bot_token)
        return _json({"ok": False, "error": "not_allowed_token_type" if wrong_kind else "invalid_auth"})
    args = req.args
    refused = answers.scope_refusal(emu, name, args)  # every method's scope (scopes.py)
    if refused is not None:
        return _json(refused, headers=answers.scope_headers(emu, name))
    failure = emu.limiter.check(name, str(args.get("channel") or "") or None)
    if failure is not None:
        wait = failure.retry_after
        headers = {"Retry-After": f"{wait:g}"} if wait is not None else None
        emu.note_throttled(name, failure.status)
        return _json({"ok": False, "error": failure.error}, status=failure.status, headers=headers)
    try:
        result = method(emu, args)
    except (ApiError, external_upload.FileError) as err:
        meta = answers.metadata(getattr(err, "messages", ()), answers.request_warnings(req))
        return _json({"ok": False, "error": err.error, **meta}, headers=answers.scope_headers(emu, name))
    warned = answers.metadata(warnings=[*answers.request_warnings(req), *result.pop("_warnings", [])])
    if "response_metadata" in warned and "response_metadata" in result:  # a next_cursor beside warnings
        warned["response_metadata"] = {**result["response_metadata"], **warned["response_metadata"]}
    return _json({"ok": True, **result, **warned}, headers=answers.scope_headers(emu, name))
