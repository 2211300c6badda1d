"""``chatbridge sandbox``: drive the local Discord and Slack emulators that ``make run`` started.

``say`` makes an emulated person post in a channel, ``log`` prints a channel as that platform
stores it (what people there would see), ``slash`` runs a ``/chat`` command as a person and prints
the bridge's answer. The emulators' addresses come from ``chatbridge-sandbox.json`` in the data dir.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp

from bridge.app import SANDBOX_FILE
from bridge.core.commands.builtin import builtin_commands
from bridge.core.commands.registry import parse_args
from bridge.errors import ConfigError, UserError


def add_parser(sub: Any) -> None:
    sb = sub.add_parser("sandbox", help="drive the local Discord/Slack emulators of `make run`")
    verbs = sb.add_subparsers(dest="verb", required=True)
    say = verbs.add_parser("say", help="an emulated person posts a message")
    say.add_argument("platform", choices=("discord", "slack"))
    say.add_argument("user", help="emulated user (Discord: alice, bob, carol; Slack: see `sandbox users`)")
    say.add_argument("text", nargs="+")
    say.add_argument("--channel", default="general")
    log = verbs.add_parser("log", help="print a channel as the platform shows it")
    log.add_argument("platform", choices=("discord", "slack"))
    log.add_argument("--channel", default="general")
    log.add_argument("-n", type=int, default=20)
    slash = verbs.add_parser("slash", help="run a /chat command as an emulated person")
    slash.add_argument("platform", choices=("discord", "slack"))
    slash.add_argument("user")
    slash.add_argument("line", nargs="+")
    slash.add_argument("--channel", default="general")
    users = verbs.add_parser("users", help="list the emulated people and channels")
    users.add_argument("platform", choices=("discord", "slack"))


def _info(data_dir: Path) -> dict[str, Any]:
    path = data_dir / SANDBOX_FILE
    if not path.exists():
        raise ConfigError(f"no sandbox is running ({path} is missing): start one with `make run`")
    info: dict[str, Any] = json.loads(path.read_text())
    return info


async def sandbox(args: argparse.Namespace, data_dir: Path) -> int:
    info = _info(data_dir)
    side = info.get(args.platform)
    if side is None:
        raise ConfigError(f"the running bridge uses the real {args.platform}, not its emulator")
    base = str(side["url"]).rstrip("/") + "/_emulator"
    async with aiohttp.ClientSession() as http:
        if args.verb == "users":
            async with http.get(f"{base}/state") as resp:
                state = await resp.json()
            print(json.dumps({k: state.get(k) for k in ("users", "channels")}, indent=2)[:6000])
            return 0
        if args.verb == "say":
            text = " ".join(args.text)
            if args.platform == "discord":
                body = {"user": args.user, "channel": args.channel, "content": text}
            else:
                body = {"user": args.user, "channel": args.channel, "text": text}
            async with http.post(f"{base}/messages", json=body) as resp:
                answer = await resp.json()
            if resp.status >= 300:
                print(f"the emulator refused it: {json.dumps(answer)}")
                return 1
            posted_id = answer.get("id") or answer.get("ts")
            print(f"{args.user} said it in #{args.channel} on {args.platform} (message {posted_id})")
            return 0
        if args.verb == "log":
            return await _log(http, base, args)
        return await _slash(http, base, args)


async def _log(http: aiohttp.ClientSession, base: str, args: argparse.Namespace) -> int:
    if args.platform == "discord":
        async with http.get(f"{base}/channels/{args.channel}/messages") as resp:
            data = await resp.json()
        rows = data if isinstance(data, list) else data.get("messages", [])
        for m in rows[-args.n :]:
            who = (m.get("author") or {}).get("username", "?")
            tag = " [webhook]" if m.get("webhook_id") else ""
            print(f"{m.get('id')} {who}{tag}: {m.get('content')}")
    else:
        async with http.get(f"{base}/state") as resp:
            state = await resp.json()
        chan = next((c["id"] for c in state["channels"] if c["name"] == args.channel), args.channel)
        async with http.get(f"{base}/messages", params={"channel": chan}) as resp:
            rows = (await resp.json())["messages"]
        for m in rows[-args.n :]:
            who = m.get("username") or m.get("user") or "?"
            thread = f" (thread {m['thread_ts']})" if m.get("thread_ts") and m.get("thread_ts") != m.get("ts") else ""
            print(f"{m.get('ts')} {who}{thread}: {m.get('text')}")
    return 0


async def _slash(http: aiohttp.ClientSession, base: str, args: argparse.Namespace) -> int:
    line = " ".join(args.line)
    if args.platform == "slack":
        body = {"user": args.user, "channel": args.channel, "text": line}
        async with http.post(f"{base}/commands", json=body) as resp:
            run_id = (await resp.json())["id"]
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
    async with http.post(f"{base}/interactions", json=body) as resp:
        inter = await resp.json()
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
    async with asyncio.timeout(15.0):
        while True:
            async with http.get(url) as resp:
                found = pick(await resp.json())
            if found:
                for item in found:
                    print(item if isinstance(item, str) else json.dumps(item, indent=1))
                return 0
            await asyncio.sleep(0.1)
