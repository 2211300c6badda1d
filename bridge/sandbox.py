"""``chatbridge sandbox``: drive the local Discord and Slack emulators that ``make run`` started.

``say`` makes an emulated person post in a channel, ``log`` prints a channel as that platform
stores it (what people there would see), ``slash`` runs a ``/chat`` command as a person and prints
the bridge's answer, ``react`` makes a person add (``--remove``: remove) a reaction on a message.
The emulators' addresses come from ``chatbridge-sandbox.json`` in the data dir.

``say --thread <platform message id>`` posts a reply in the thread of that message (Discord: in the
thread started on it, starting one if needed); ``log --thread <id>`` lists that thread in order.

For scripts, ``say --json`` prints the posted message as one JSON object
(``{"platform", "channel", "id", "user", "text"}``) and ``log --json`` prints one JSON object per
message, oldest first, as the platform stores it::

    {"platform": "slack", "id": "1700000000.000100", "channel": "C0GENERAL",
     "author": {"id": null, "username": "alice", "avatar": "http://...", "bot": true, "bot_id": "B0BRIDGE"},
     "text": "hello", "created_at": "2026-12-01T21:40:00.000100+00:00", "edited": false, "edited_at": null}

``author.id`` is the platform user id of a person; a message the bridge posted as someone (a
Discord webhook, a Slack ``chat.postMessage`` with ``username``/``icon_url``) shows the username and
avatar it used, with ``webhook_id`` (Discord) or ``bot_id`` (Slack).

Extension point (files, threads, reactions): a key that only some messages have is added with
:func:`extra_key`, one reader per platform taking the raw stored message (Discord's message object,
Slack's message as ``conversations.history`` answers it) and returning the key's value, or ``None``
to leave the key out::

    extra_key("files", discord=lambda m: [a["url"] for a in m.get("attachments", [])] or None,
              slack=lambda m: [f["url_private"] for f in m.get("files", [])] or None)

Register at import time of a module that ``bridge.sandbox`` imports (or in this module, below the
built-in keys). What a reader needs that the stored message lacks comes from the emulator's control
routes (extend the ``/_emulator`` answer, not this module's requests).

When the bridge or its emulators are not running, every command says so in one line on stderr and
exits with :data:`EXIT_NOT_RUNNING` (never a traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bridge.config import SANDBOX_FILE
from bridge.core.commands.builtin import builtin_commands
from bridge.core.commands.registry import parse_args
from bridge.errors import ConfigError, UserError
from bridge.formatting.emoji import slack_to_unicode, unicode_to_slack

EXIT_NOT_RUNNING = 4
Reader = Callable[[dict[str, Any]], Any]
EXTRA_KEYS: dict[str, dict[str, Reader]] = {}
"""key -> platform -> reader; see :func:`extra_key`."""
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)


class NotRunning(Exception):
    """The bridge or an emulator does not answer: one line for the operator."""


def extra_key(name: str, *, discord: Reader | None = None, slack: Reader | None = None) -> None:
    """Add ``name`` to ``log --json`` objects of the platforms given a reader for."""
    readers = EXTRA_KEYS.setdefault(name, {})
    if discord is not None:
        readers["discord"] = discord
    if slack is not None:
        readers["slack"] = slack


def _received(m: dict[str, Any]) -> Any:
    return m.get("received_files") or None


extra_key("files", discord=_received, slack=_received)
"""``files``: [{"name", "size", "content_type", "sha256"}] of the bytes the emulator holds for the
message's files (both emulators' ``/_emulator`` message listings add ``received_files``)."""


def _slack_thread(m: dict[str, Any]) -> Any:
    ts, thread_ts = m.get("ts"), m.get("thread_ts")
    return {"thread_ts": thread_ts} if thread_ts and thread_ts != ts else None


extra_key("thread", discord=lambda m: m.get("in_thread"), slack=_slack_thread)
"""``thread``: on Slack ``{"thread_ts"}`` of a reply (absent for a root and a plain message); on
Discord ``{"id", "parent_id", "name"}`` of the thread channel the message is in (absent in the
channel itself; the Discord emulator's listings add ``in_thread``)."""


def _reacted(m: dict[str, Any]) -> Any:
    return m.get("reacted_by") or None


extra_key("reactions", discord=_reacted, slack=_reacted)
"""``reactions``: [{"emoji", "count", "users"}] in the platform's own form (Slack: the shortcode name
without colons, ``wave::skin-tone-3``; Discord: the Unicode character, or ``name:id`` of a custom
emoji), users by name (both emulators' ``/_emulator`` message listings add ``reacted_by``)."""


def add_parser(sub: Any) -> None:
    sb = sub.add_parser("sandbox", help="drive the local Discord/Slack emulators of `make run`")
    verbs = sb.add_subparsers(dest="verb", required=True)
    say = verbs.add_parser("say", help="an emulated person posts a message")
    say.add_argument("platform", choices=("discord", "slack"))
    say.add_argument("user", help="emulated user (Discord: alice, bob, carol; Slack: see `sandbox users`)")
    say.add_argument("text", nargs="*", help="the message (optional with --file)")
    say.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="PATH",
        help="attach this file (repeatable; uploaded as the person)",
    )
    say.add_argument("--channel", default="general")
    say.add_argument(
        "--thread",
        metavar="ID",
        help="reply in the thread of this platform message (Discord: started on it if needed)",
    )
    say.add_argument("--json", action="store_true", help="print the posted message as one JSON object")
    log = verbs.add_parser("log", help="print a channel as the platform shows it")
    log.add_argument("platform", choices=("discord", "slack"))
    log.add_argument("--channel", default="general")
    log.add_argument("-n", type=int, default=20)
    log.add_argument("--thread", metavar="ID", help="only the thread of this platform message, in order")
    log.add_argument("--json", action="store_true", help="one JSON object per message, oldest first")
    slash = verbs.add_parser("slash", help="run a /chat command as an emulated person")
    slash.add_argument("platform", choices=("discord", "slack"))
    slash.add_argument("user")
    slash.add_argument("line", nargs="+")
    slash.add_argument("--channel", default="general")
    react = verbs.add_parser("react", help="an emulated person adds (or removes) a reaction")
    react.add_argument("platform", choices=("discord", "slack"))
    react.add_argument("user")
    react.add_argument("message_id", help="the platform's message id (Discord id, Slack ts)")
    react.add_argument("emoji", help="Unicode (👍) or a :shortcode: (:+1:, :wave::skin-tone-3:, a custom :name:)")
    react.add_argument("--remove", action="store_true", help="remove the reaction instead")
    react.add_argument("--channel", default="general", help="Slack: the channel the message is in")
    react.add_argument("--json", action="store_true", help="print the message's reactions as JSON")
    users = verbs.add_parser("users", help="list the emulated people and channels")
    users.add_argument("platform", choices=("discord", "slack"))


def _info(data_dir: Path) -> dict[str, Any]:
    path = data_dir / SANDBOX_FILE
    if not path.exists():
        raise NotRunning(f"no sandbox is running ({path} is missing): start one with `make run`")
    try:
        info: dict[str, Any] = json.loads(path.read_text())
    except ValueError:
        raise NotRunning(f"{path} is not readable JSON: restart the sandbox with `make run`") from None
    return info


async def sandbox(args: argparse.Namespace, data_dir: Path) -> int:
    """Run one sandbox command; a bridge or emulator that does not answer is one line and exit 4."""
    try:
        return await _sandbox(args, data_dir)
    except NotRunning as err:
        print(f"chatbridge sandbox: {err}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    except ConfigError as err:
        print(f"chatbridge sandbox: {err}", file=sys.stderr)
        return 2
    except UserError as err:
        print(f"chatbridge sandbox: {err}", file=sys.stderr)
        return 1


async def _sandbox(args: argparse.Namespace, data_dir: Path) -> int:
    info = _info(data_dir)
    side = info.get(args.platform)
    if side is None:
        raise ConfigError(f"the running bridge uses the real {args.platform}, not its emulator")
    base = str(side["url"]).rstrip("/") + "/_emulator"
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as http:
        await _bridge_alive(http, str(info.get("http", "")))
        try:
            return await _verb(http, base, args)
        except (aiohttp.ClientConnectionError, TimeoutError) as err:
            raise NotRunning(
                f"the {args.platform} emulator at {side['url']} does not answer ({type(err).__name__}): "
                "is `chatbridge run` still running?"
            ) from None


async def _bridge_alive(http: aiohttp.ClientSession, url: str) -> None:
    """Any HTTP answer from the bridge's health endpoint means it runs (503 included)."""
    if not url:
        return
    try:
        async with http.get(f"{url}/healthz", timeout=aiohttp.ClientTimeout(total=5)) as resp:
            await resp.read()
    except (aiohttp.ClientConnectionError, TimeoutError):
        raise NotRunning(
            f"the bridge is not running (nothing answers at {url}; the sandbox file is left from a run that "
            "ended): start it with `make run`"
        ) from None


async def _verb(http: aiohttp.ClientSession, base: str, args: argparse.Namespace) -> int:
    if args.verb == "users":
        state = await _get(http, f"{base}/state")
        print(json.dumps({k: state.get(k) for k in ("users", "channels")}, indent=2)[:6000])
        return 0
    if args.verb == "say":
        return await _say(http, base, args)
    if args.verb == "log":
        return await _log(http, base, args)
    if args.verb == "react":
        return await _react(http, base, args)
    return await _slash(http, base, args)


def platform_emoji(platform: str, text: str) -> str:
    """What the emulated person reacts with, in the platform's form: Discord takes the Unicode
    character (a ``:shortcode:`` of a standard emoji is converted; any other name is a custom emoji
    of the guild), Slack the shortcode name (Unicode is converted)."""
    raw = text.strip()
    if not raw:
        raise UserError("react with what? give an emoji (👍) or a :shortcode:")
    name = raw[1:-1] if len(raw) > 2 and raw.startswith(":") and raw.endswith(":") else None
    if platform == "discord":
        return (slack_to_unicode(name) or name) if name is not None else raw
    if name is not None:
        return name
    found = unicode_to_slack(raw)
    if found is None:
        raise UserError(f"{raw!r} is no emoji Slack knows; give a :shortcode:")
    return found


async def _react(http: aiohttp.ClientSession, base: str, args: argparse.Namespace) -> int:
    emoji = platform_emoji(args.platform, args.emoji)
    if args.platform == "discord":
        body: dict[str, Any] = {"user": args.user, "message_id": args.message_id, "emoji": emoji}
    else:
        body = {"user": args.user, "channel": args.channel, "ts": args.message_id, "name": emoji}
    body["remove"] = bool(args.remove)
    async with http.post(f"{base}/reactions", json=body) as resp:
        answer = await resp.json(content_type=None)
    if resp.status >= 300:
        print(f"the emulator refused it: {json.dumps(answer)}", file=sys.stderr)
        return 1
    reactions = answer if isinstance(answer, list) else answer.get("reactions", [])
    if args.json:
        print(json.dumps({"platform": args.platform, "id": args.message_id, "reactions": reactions}))
    else:
        done = "removed" if args.remove else "added"
        print(f"{args.user} {done} {emoji} on {args.message_id} ({args.platform})")
    return 0


async def _post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> Any:
    """A control-route call; a refusal (unknown user or channel, bad request) is one clear line."""
    async with http.post(url, json=body) as resp:
        answer = await resp.json(content_type=None)
        if resp.status >= 300:
            detail = answer.get("error") if isinstance(answer, dict) else None
            raise UserError(f"the emulator refused it ({resp.status}): {detail or json.dumps(answer)[:500]}")
        return answer


async def _get(http: aiohttp.ClientSession, url: str, **params: str) -> Any:
    async with http.get(url, params=params) as resp:
        answer = await resp.json(content_type=None)
        if resp.status >= 300:
            raise UserError(f"the emulator answered {resp.status}: {json.dumps(answer)[:500]}")
        return answer


def _files(paths: list[str]) -> list[dict[str, str]]:
    """``--file`` arguments as the emulators' control routes take them (name + base64 bytes)."""
    out = []
    for raw in paths:
        path = Path(raw)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise UserError(f"cannot read {raw}: {err.strerror or err}") from None
        out.append({"name": path.name, "data_b64": base64.b64encode(data).decode("ascii")})
    return out


async def _say(http: aiohttp.ClientSession, base: str, args: argparse.Namespace) -> int:
    text = " ".join(args.text)
    files = _files(args.file)
    if not text and not files:
        raise UserError("say what? give a text, a --file PATH, or both")
    key = "content" if args.platform == "discord" else "text"
    body: dict[str, Any] = {"user": args.user, "channel": args.channel, key: text}
    if args.thread:
        body["thread" if args.platform == "discord" else "thread_ts"] = args.thread
    if files:
        body["files"] = files
    async with http.post(f"{base}/messages", json=body) as resp:
        answer = await resp.json(content_type=None)
    if resp.status >= 300:
        print(f"the emulator refused it: {json.dumps(answer)}")
        return 1
    posted_id = answer.get("id") or answer.get("ts")
    channel = answer.get("channel_id") or answer.get("channel")
    if args.json:
        posted = {"platform": args.platform, "channel": channel, "id": posted_id, "user": args.user, "text": text}
        print(json.dumps(posted))
    else:
        print(f"{args.user} said it in #{args.channel} on {args.platform} (message {posted_id})")
    return 0


async def _log(http: aiohttp.ClientSession, base: str, args: argparse.Namespace) -> int:
    if args.platform == "discord":
        if args.thread:
            data = await _get(http, f"{base}/threads/{args.thread}/messages")
        else:
            data = await _get(http, f"{base}/channels/{args.channel}/messages", threads="1")
        rows = data if isinstance(data, list) else data.get("messages", [])
    elif args.thread:
        state = await _get(http, f"{base}/state")
        chan = next((c["id"] for c in state["channels"] if args.channel in (c["name"], c["id"])), args.channel)
        rows = (await _get(http, f"{base}/thread", channel=chan, ts=args.thread))["messages"]
    else:
        state = await _get(http, f"{base}/state")
        chan = next((c["id"] for c in state["channels"] if args.channel in (c["name"], c["id"])), args.channel)
        rows = [m for m in (await _get(http, f"{base}/messages", channel=chan))["messages"] if not m.get("deleted")]
    for raw in rows[-args.n :] if args.n > 0 else []:
        view = message_view(args.platform, raw)
        print(json.dumps(view) if args.json else _line(view))
    return 0


def message_view(platform: str, raw: dict[str, Any]) -> dict[str, Any]:
    """One stored message as ``log --json`` prints it (see the module docstring)."""
    view = _discord_view(raw) if platform == "discord" else _slack_view(raw)
    for key, readers in EXTRA_KEYS.items():
        reader = readers.get(platform)
        value = reader(raw) if reader is not None else None
        if value is not None:
            view[key] = value
    return view


def _discord_view(m: dict[str, Any]) -> dict[str, Any]:
    author = m.get("author") or {}
    webhook = m.get("webhook_id")
    who: dict[str, Any] = {
        "id": None if webhook else author.get("id"),
        "username": author.get("username"),
        "avatar": m.get("avatar_url") or author.get("avatar"),
        "bot": bool(author.get("bot")),
    }
    if webhook:
        who["webhook_id"] = webhook
    edited = m.get("edited_timestamp")
    return {
        "platform": "discord",
        "id": m.get("id"),
        "channel": m.get("channel_id"),
        "author": who,
        "text": m.get("content", ""),
        "created_at": m.get("timestamp"),
        "edited": edited is not None,
        "edited_at": edited,
    }


def _slack_view(m: dict[str, Any]) -> dict[str, Any]:
    bot_id = m.get("bot_id")
    who: dict[str, Any] = {
        "id": m.get("user") if not (bot_id and m.get("username")) else None,
        "username": m.get("username"),
        "avatar": (m.get("icons") or {}).get("image_48"),
        "bot": bool(bot_id),
    }
    if bot_id:
        who["bot_id"] = bot_id
    edited = m.get("edited") or None
    return {
        "platform": "slack",
        "id": m.get("ts"),
        "channel": m.get("channel"),
        "author": who,
        "text": m.get("text", ""),
        "created_at": _slack_time(m.get("ts")),
        "edited": edited is not None,
        "edited_at": _slack_time(edited.get("ts")) if edited else None,
    }


def _slack_time(ts: Any) -> str | None:
    """A Slack ``ts`` (unix seconds with microseconds) as ISO 8601 UTC."""
    try:
        return datetime.fromtimestamp(float(ts), UTC).isoformat()
    except (TypeError, ValueError):
        return None


def _line(view: dict[str, Any]) -> str:
    who = view["author"]
    name = who.get("username") or who.get("id") or "?"
    tag = " [webhook]" if who.get("webhook_id") else " [bot]" if who.get("bot") and who.get("username") else ""
    edited = " (edited)" if view["edited"] else ""
    files = "".join(f" 📎 {f['name']} ({f['size']} bytes)" for f in view.get("files") or [])
    thread = view.get("thread") or {}
    where = f" (in thread {thread.get('name') or thread.get('thread_ts')})" if thread else ""
    reactions = "".join(f" [{r['emoji']} {r['count']}]" for r in view.get("reactions") or [])
    return f"{view['id']} {name}{tag}{where}: {view['text']}{files}{edited}{reactions}"


async def _slash(http: aiohttp.ClientSession, base: str, args: argparse.Namespace) -> int:
    line = " ".join(args.line)
    if args.platform == "slack":
        body = {"user": args.user, "channel": args.channel, "text": line}
        run_id = (await _post(http, f"{base}/commands", body))["id"]
        return await _poll(http, f"{base}/commands/{run_id}", lambda d: d["command"].get("responses"))
    name, _, rest = line.partition(" ")
    spec = next((c for c in builtin_commands() if c.name == name), None)
    if spec is None:
        print(f"unknown command {name!r}")
        return 1
    try:
        options = {k: v for k, v in parse_args(spec, rest).items() if v is not None}
    except UserError as err:
        print(err)
        return 1
    body = {"user": args.user, "channel": args.channel, "command": f"chat {name}", "options": options}
    inter = await _post(http, f"{base}/interactions", body)
    return await _poll(http, f"{base}/interactions/{inter['id']}", _discord_answer)


def _discord_answer(data: dict[str, Any]) -> list[str] | None:
    """The answer as the person sees it: the followups when the bridge deferred (the first one
    replaces the "thinking" message), else the direct callback's content."""
    followups = [f.get("content") for f in data.get("followups") or [] if f.get("content")]
    if followups:
        return followups
    direct = [(c.get("data") or {}).get("content") for c in data.get("callbacks") or []]
    found = [t for t in direct if t]
    return found or None


async def _poll(http: aiohttp.ClientSession, url: str, pick: Any) -> int:
    try:
        async with asyncio.timeout(15.0):
            while True:
                async with http.get(url) as resp:
                    found = pick(await resp.json())
                if found:
                    for item in found:
                        print(item if isinstance(item, str) else json.dumps(item, indent=1))
                    return 0
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise UserError("the bridge did not answer the command within 15 s (see its log)") from None
