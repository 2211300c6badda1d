"""``chatbridge doctor``: what works and what does not, one line each, with the fix."""

from __future__ import annotations

import os

from bridge.config import Config
from bridge.errors import BridgeError
from bridge.runtime import open_runtime
from bridge.store import keys


async def doctor(cfg: Config) -> int:
    problems = 0

    def line(ok: bool, what: str, fix: str = "") -> None:
        nonlocal problems
        problems += 0 if ok else 1
        print(f"[{'ok' if ok else '!!'}] {what}" + (f" — {fix}" if fix and not ok else ""))

    try:
        async with open_runtime(cfg) as rt:
            info = await rt.redis.info("server")
            line(
                True,
                f"redis {info.get('redis_version')} at {rt.url}" + (" (embedded)" if rt.embedded else ""),
            )
            module = rt.chat.ctx.module
            line(
                True,
                f"{module.label} ({'explicit FT.ADDHASH indexing' if module.explicit else 'prefix indexing'})",
            )
            for index in (keys.IDX_USERS, keys.IDX_MESSAGES):
                data = await rt.redis.execute_command("FT.INFO", index)
                pairs = dict(zip(data[::2], data[1::2], strict=False))
                line(True, f"{index}: {pairs.get('num_docs', '?')} documents")
            aof = (await rt.redis.config_get("appendonly")).get("appendonly")
            line(aof == "yes", "AOF persistence on", "set appendonly yes so a Redis restart loses nothing")
    except BridgeError as err:
        line(False, "redis", str(err))
    for env, what in (
        ("DISCORD_TOKEN", "Discord bot token"),
        ("SLACK_BOT_TOKEN", "Slack bot token"),
        ("SLACK_APP_TOKEN", "Slack app token (Socket Mode)"),
    ):
        present = bool(os.environ.get(env))
        print(
            f"[{'ok' if present else '--'}] {what} ({env}) "
            + ("set" if present else "not set: that side runs on its emulator")
        )
    return 0 if problems == 0 else 1
