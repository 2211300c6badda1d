"""``chatbridge``: run the bridge, run any chat command, and operate it.

Exit codes: 0 ok, 1 the command answered with an error, 2 bad usage or configuration,
3 Redis or its search module unavailable, 4 (`sandbox`) the bridge or its emulators are not running.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bridge import __version__, config, logs
from bridge.core.ports import Invocation
from bridge.errors import ConfigError, StoreError, UserError
from bridge.runtime import open_runtime

EXIT_OK, EXIT_REPLY_ERROR, EXIT_USAGE, EXIT_STORE = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatbridge", description="Discord ⇄ Redis chat core ⇄ Slack.")
    parser.add_argument("--version", action="version", version=f"chatbridge {__version__}")
    parser.add_argument("-c", "--config", help="config file (default: ./config.yaml if present)")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="-v: the bridge's logs at DEBUG; -vv: the libraries' too"
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="log lines on stderr as text (default) or one JSON object per line",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the bridge (embedded Redis, adapters, worker)")
    run.add_argument("--sandbox", action="store_true", help="force the local Discord/Slack emulators")

    ex = sub.add_parser("exec", help="run one chat command, e.g. exec --as ada 'history tech 5'")
    ex.add_argument("--as", dest="username", help="core username to act as")
    ex.add_argument("--admin", action="store_true", help="run with admin rights (operator)")
    ex.add_argument("--json", action="store_true", help="print the reply's data as JSON")
    ex.add_argument("line", nargs="+", help="the command line")

    sub.add_parser("reindex", help="index user:* and message:* hashes written by other tools")
    arch = sub.add_parser("archive", help="export history older than the retention to JSON Lines, drop it from Redis")
    arch.add_argument("--days", type=int, help="keep the last N days (default: retention.days)")
    arch.add_argument("--keep", type=int, help="keep the newest N entries per channel (retention.messages_per_channel)")
    arch.add_argument("--dir", help="archive directory (default: retention.archive_dir)")
    imp = sub.add_parser("import", help="bring archived JSON Lines back (files or directories)")
    imp.add_argument("paths", nargs="+", help="*.jsonl files, or directories holding them")
    sub.add_parser("seed", help="add the Redis chat guide's sample users, channels and messages")
    sub.add_parser("doctor", help="check Redis, the search module, tokens and scopes")
    sub.add_parser("check-config", help="validate the config file and exit")
    manifest = sub.add_parser("slack-manifest", help="print the Slack app manifest (YAML) for api.slack.com/apps")
    manifest.add_argument("--request-url", help="public URL of the events endpoint (HTTP mode only)")
    invite = sub.add_parser("discord-invite", help="print the Discord invite URL with the scopes and permissions")
    invite.add_argument("--application-id", help="defaults to discord.application_id from the config")
    dlq = sub.add_parser("dlq", help="dead letters: list, retry or drop")
    dlq.add_argument("action", choices=("list", "retry", "drop"))
    dlq.add_argument("entry", nargs="?", default="all", help="dead-letter entry id, or all")

    from bridge.sandbox import add_parser as add_sandbox

    add_sandbox(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(verbose=args.verbose, fmt=args.log_format)
    try:
        cfg = config.load(args.config)
        if args.command == "check-config":
            print("config OK")
            return EXIT_OK
        return asyncio.run(_dispatch(args, cfg))
    except ConfigError as err:
        print(f"configuration error:\n{err}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as err:
        print(f"redis error: {err}", file=sys.stderr)
        return EXIT_STORE
    except (RedisConnectionError, RedisTimeoutError) as err:
        # Redis went away after the command started (it was reachable when the runtime opened)
        print(f"redis error: Redis became unavailable: {err}", file=sys.stderr)
        return EXIT_STORE
    except KeyboardInterrupt:
        return EXIT_OK


async def _archive(args: argparse.Namespace, cfg: config.Config) -> int:
    from bridge.core.archive import Archive, RetentionPolicy

    ret = cfg.retention
    directory = Path(getattr(args, "dir", None) or ret.archive_dir)
    async with open_runtime(cfg) as rt:
        arch = Archive(rt.chat.ctx, directory)
        if args.command == "import":
            summary = await arch.import_files([Path(p) for p in args.paths])
            for line in summary.failed[:20]:
                print(f"refused {line}", file=sys.stderr)
            return EXIT_REPLY_ERROR if summary.failed else EXIT_OK
        try:
            days = args.days if args.days is not None else ret.days
            keep = args.keep if args.keep is not None else ret.messages_per_channel
            policy = RetentionPolicy(days=days, messages_per_channel=keep)
        except UserError as err:
            print(f"archive: {err} (--days / --keep, or retention: in the config)", file=sys.stderr)
            return EXIT_USAGE
        await arch.export(policy)
    return EXIT_OK


async def _dispatch(args: argparse.Namespace, cfg: config.Config) -> int:
    if args.command == "exec":
        return await _exec(args, cfg)
    if args.command == "reindex":
        from bridge.store.reindex import reindex

        async with open_runtime(cfg) as rt:
            summary = await reindex(rt.chat.ctx.redis, rt.chat.ctx.module)
        for line in summary.skipped[:20]:
            print(f"skipped {line}", file=sys.stderr)
        return EXIT_OK
    if args.command in ("archive", "import"):
        return await _archive(args, cfg)
    if args.command == "seed":
        from bridge.core.seed import seed

        async with open_runtime(cfg) as rt:
            added = await seed(rt.chat)
        print(f"added {added['users']} users, {added['channels']} channels, {added['messages']} messages")
        return EXIT_OK
    if args.command == "doctor":
        from bridge.doctor import doctor

        return await doctor(cfg)
    if args.command == "sandbox":
        from bridge.sandbox import sandbox

        return await sandbox(args, cfg.redis.data_dir)
    if args.command == "slack-manifest":
        from bridge.adapters.slack.manifest import render_manifest, slack_manifest

        command = str(cfg.slack.get("command", "/chat"))
        if cfg.slack.get("mode") == "http":
            manifest = slack_manifest(command=command, mode="http", request_url=args.request_url)
        else:
            manifest = slack_manifest(command=command, mode="socket")
        print(render_manifest(manifest))
        return EXIT_OK
    if args.command == "discord-invite":
        from bridge.adapters.discord.invite import invite_url

        print(invite_url(cfg, args.application_id))
        return EXIT_OK
    if args.command == "dlq":
        return await _dlq(args, cfg)
    if args.command == "run":
        from bridge.app import run_app

        return await run_app(cfg, sandbox=args.sandbox)
    raise ConfigError(f"unknown command {args.command}")


async def _dlq(args: argparse.Namespace, cfg: config.Config) -> int:
    from bridge.mirror import dlq

    async with open_runtime(cfg) as rt:
        if args.action == "list":
            rows = await dlq.list_dead(rt.redis, 100)
            for row in rows:
                print(json.dumps(row))
            print(f"{len(rows)} dead letter(s)", file=sys.stderr)
        elif args.action == "retry":
            print(f"re-queued {await dlq.retry_dead(rt.redis, args.entry)}")
        else:
            print(f"dropped {await dlq.drop_dead(rt.redis, args.entry)}")
    return EXIT_OK


async def _exec(args: argparse.Namespace, cfg: config.Config) -> int:
    line = " ".join(args.line)
    async with open_runtime(cfg) as rt:
        inv = Invocation(platform="cli", username=args.username.lower() if args.username else None, is_admin=args.admin)
        reply = await rt.chat.commands.execute(inv, line)
        if reply.ok and isinstance(reply.data, dict) and isinstance(reply.data.get("backfill"), dict):
            print(reply.text)  # then the progress of the backfill it queued, as it goes
            from bridge.core.backfill_jobs import Ticket, follow

            ticket = Ticket(**reply.data["backfill"])
            final = await follow(rt.redis, ticket, lambda text: print(text, file=sys.stderr, flush=True))
            reply = replace(reply, data={**reply.data, "backfill": {**reply.data["backfill"], "state": dict(final)}})
            if not args.json:
                return EXIT_OK if final.get("status") != "error" else EXIT_REPLY_ERROR
    if args.json:
        print(json.dumps({"ok": reply.ok, "text": reply.text, "data": reply.data, "error": reply.error_code}, indent=2))
    else:
        print(reply.text)
    return EXIT_OK if reply.ok else EXIT_REPLY_ERROR
