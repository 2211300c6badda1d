"""``chatbridge run``: the composition root.

Starts (or connects to) Redis, the chat core, the adapters whose credentials are set, the local
Discord and Slack emulators for the sides that have none (sandbox), the mirroring worker, the
notifier (DMs) and the health/metrics HTTP server; stops them all cleanly on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge import logs
from bridge.adapters.file_transfer import FileHub
from bridge.adapters.linkstate import Supervised
from bridge.config import SANDBOX_FILE, Config
from bridge.core.backfill_jobs import BackfillRunner, Tell
from bridge.core.chat import Chat
from bridge.core.notify import Notification, Notifier
from bridge.core.ports import ChannelRef, Destination, HistorySource, OutboundMessage, PlatformUser, as_platform
from bridge.health_server import HealthServer
from bridge.runtime import Runtime, open_runtime
from bridge.store import keys
from bridge.store.connection import blocking_client

log = logging.getLogger(__name__)
Closer = Callable[[], Awaitable[None]]
STARTUP_WAIT_S = 30.0
"""How long ``run`` waits for the adapters to connect before going on without the missing ones."""


@dataclass
class Running:
    destinations: dict[str, Destination] = field(default_factory=dict)
    adapters: dict[str, Supervised] = field(default_factory=dict)
    """Each started adapter, by platform (their ``health()`` feeds ``/healthz``)."""
    closers: list[Closer] = field(default_factory=list)
    sandbox: dict[str, Any] = field(default_factory=dict)
    emulators: dict[str, Any] = field(default_factory=dict)
    backfill: BackfillRunner | None = None
    """The emulator objects of the sandbox sides (tests drive them directly)."""
    history: dict[str, HistorySource] = field(default_factory=dict)
    """Each adapter's history reader, for ``link --backfill`` (:mod:`bridge.core.backfill_jobs`)."""
    files: FileHub = field(default_factory=FileHub)
    """Shared by the adapters: each downloads its own platform's files for the others, and tells
    its own senders when a file could not cross."""


def configure_notices(running: Running, cfg: Config) -> None:
    """Apply ``files.notices_per_user`` / ``files.notice_window_s`` to every adapter's notices."""
    for notices in running.files.notices.values():
        notices.gate.burst = cfg.files.notices_per_user
        notices.gate.window_s = cfg.files.notice_window_s


async def start_discord(rt: Runtime, cfg: Config, running: Running, *, sandbox: bool) -> None:
    from bridge.adapters.discord.client import DiscordAdapter
    from bridge.adapters.discord.config import DiscordConfig

    settings = dict(cfg.discord)
    token = os.environ.get(str(settings.get("token_env", "DISCORD_TOKEN")), "")
    if sandbox or not token:
        from bridge.emulators.discord.server import DiscordEmulator

        emu = DiscordEmulator()
        await emu.start()
        running.closers.append(emu.stop)
        running.emulators["discord"] = emu
        settings |= {"api_base": emu.api_base, "gateway_url": emu.gateway_url, "guild_ids": [int(emu.guild_id)]}
        token = emu.token
        general = emu.channel("general")
        running.sandbox["discord"] = {"url": emu.base_url, "guild": emu.guild_id, "general": general.id}
        await _sandbox_link(rt.chat, ChannelRef("discord", emu.guild_id, general.id))
    logs.add_secret(token)
    running.files.max_bytes = cfg.files.max_bytes
    adapter = DiscordAdapter(chat=rt.chat, config=DiscordConfig.load(settings), files=running.files)
    configure_notices(running, cfg)
    adapter.launch(token)  # never raises: an unreachable Discord is retried in the background
    running.closers.insert(0, adapter.close)
    running.destinations["discord"] = adapter.destination
    running.history["discord"] = adapter.history
    running.adapters["discord"] = adapter
    if "discord" in running.sandbox:  # the local emulator answers at once: be connected before going on
        await adapter.link.wait_up(STARTUP_WAIT_S)


async def start_slack(rt: Runtime, cfg: Config, running: Running, *, sandbox: bool) -> None:
    from bridge.adapters.slack.adapter import SlackAdapter
    from bridge.adapters.slack.config import SlackConfig, SlackSecrets

    settings = dict(cfg.slack)
    if sandbox or not os.environ.get("SLACK_BOT_TOKEN"):
        from bridge.emulators.slack.config import EmulatorConfig
        from bridge.emulators.slack.server import SlackEmulator

        ecfg = EmulatorConfig()
        emu = SlackEmulator(config=ecfg)
        await emu.start()
        running.closers.append(emu.stop)
        running.emulators["slack"] = emu
        settings |= {"api_base_url": emu.api_url, "mode": "socket"}
        secrets = SlackSecrets(bot_token=ecfg.bot_token, app_token=ecfg.app_token, signing_secret=ecfg.signing_secret)
        team = ecfg.workspace.team_id
        general = ecfg.workspace.channel("general")
        assert general is not None
        running.sandbox["slack"] = {"url": emu.url, "team": team, "general": general.id}
        await _sandbox_link(rt.chat, ChannelRef("slack", team, general.id))
    else:
        config = SlackConfig.model_validate(settings)
        secrets = SlackSecrets.from_env(config.mode)
    for secret in (secrets.bot_token, secrets.app_token, secrets.signing_secret):
        logs.add_secret(secret)
    running.files.max_bytes = cfg.files.max_bytes
    adapter = SlackAdapter(
        chat=rt.chat, config=SlackConfig.model_validate(settings), secrets=secrets, files=running.files
    )
    configure_notices(running, cfg)
    adapter.launch()  # never raises: an unreachable Slack is retried in the background
    running.closers.insert(0, adapter.stop)
    running.destinations["slack"] = adapter.destination
    running.history["slack"] = adapter.history
    running.adapters["slack"] = adapter
    if "slack" in running.sandbox:
        await adapter.link.wait_up(STARTUP_WAIT_S)


async def wait_for_adapters(running: Running, timeout: float) -> None:  # noqa: ASYNC109 (a plain bound)
    """Wait (at most ``timeout`` seconds, together) until each adapter has connected or failed once;
    one that is not connected is named and keeps retrying in the background while the rest of the
    bridge runs."""
    links = {name: adapter.link for name, adapter in running.adapters.items()}
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(link.settled.wait() for link in links.values())), timeout)
    for name, link in links.items():
        where = " (emulator)" if name in running.sandbox else ""
        if link.ok:
            log.info("%s adapter ready%s", name, where)
        else:
            log.warning("%s is not connected yet (%s); the bridge runs and keeps retrying", name, link.detail)


async def _sandbox_link(chat: Chat, ref: ChannelRef) -> None:
    """Link the emulator's #general to the core #general. Emulators get new ids every run, so the
    link a previous sandbox run made for this platform is removed first (no deliveries to a channel
    that no longer exists)."""
    previous = (await chat.get_state("sandbox", "links")).get(ref.platform)
    if previous and previous != ref.key() and await chat.channels.route(ChannelRef.parse(previous)):
        await chat.channels.unlink(ChannelRef.parse(previous))
    if not await chat.channels.exists("general"):
        await chat.channels.create("general")
    if await chat.channels.route(ref) is None:
        await chat.channels.link("general", ref)
    await chat.set_state("sandbox", "links", {ref.platform: ref.key()})


def backfill_teller(running: Running) -> Tell:
    """A backfill's progress, as a DM to the person who typed ``link --backfill`` on a platform."""

    async def tell(job: Mapping[str, str], text: str) -> None:
        dest = running.destinations.get(job.get("by_platform", ""))
        if dest is not None:
            who = PlatformUser(dest.platform, job.get("by_workspace", ""), job["by_user"], job.get("by_name", ""))
            await dest.direct_message(who, text)

    return tell


def notification_sender(chat: Chat, running: Running) -> Callable[[Notification], Awaitable[None]]:
    """DM each of the subscriber's linked platform accounts."""

    async def deliver(note: Notification) -> None:
        text = f"New in #{note.channel} from {note.author}: {note.text[:500]}"
        for where, user_id in (await chat.users.identities(note.username)).items():
            platform, _, workspace = where.partition(":")
            dest = running.destinations.get(platform)
            if dest is not None:
                person = PlatformUser(as_platform(platform), workspace, user_id, note.username)
                await dest.direct_message(person, text)

    return deliver


async def run_app(cfg: Config, *, sandbox: bool = False) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_runtime(cfg, own_server=True) as rt:
        running = Running()
        tasks: list[asyncio.Task[None]] = []
        healthy = True
        try:
            await start_discord(rt, cfg, running, sandbox=sandbox)
            await start_slack(rt, cfg, running, sandbox=sandbox)
            await wait_for_adapters(running, STARTUP_WAIT_S)
            worker = _make_worker(rt, cfg, running)
            tasks.append(asyncio.create_task(worker.run(stop), name="mirror-worker"))
            blocking = blocking_client(rt.url)
            running.closers.append(blocking.aclose)
            notifier = Notifier(rt.redis, blocking, notification_sender(rt.chat, running))
            tasks.append(asyncio.create_task(notifier.run(stop), name="notifier"))
            if cfg.worker.index == 0:  # one process runs the queued backfills (link --backfill)
                runner = BackfillRunner(rt.chat, running.history, tell=backfill_teller(running))
                running.backfill = runner
                tasks.append(asyncio.create_task(runner.run(stop), name="backfill-runner"))
            health = HealthServer(
                rt=rt,
                worker=worker,
                adapters=running.adapters,
                host=cfg.http.host,
                port=cfg.http.port,
                grace_s=cfg.health.grace_s,
                poll_s=cfg.health.poll_s,
                stopping=stop,
            )
            await health.start()
            running.closers.insert(0, health.stop)
            if running.sandbox:
                _announce_sandbox(cfg, rt, running, health.port)
            log.info("chatbridge is running (Ctrl-C stops it)")
            healthy = await _until_stopped(stop, tasks)
        finally:
            stop.set()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, 10)
            for close in running.closers:
                try:
                    await close()
                except Exception:
                    log.exception("error while stopping")
            (cfg.redis.data_dir / SANDBOX_FILE).unlink(missing_ok=True)
    return 0 if healthy else 1


async def _until_stopped(stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> bool:
    """Wait for a stop signal or for a task to end; False when a task died (the exit status then
    tells a supervisor to restart the bridge)."""
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    healthy = True
    for task in done:
        if task is not waiter:
            healthy = False
            log.error("%s stopped unexpectedly: %r", task.get_name(), task.exception())
    return healthy


def _make_worker(rt: Runtime, cfg: Config, running: Running) -> Any:
    from bridge.mirror.worker import Worker

    opts = cfg.worker
    return Worker(
        chat=rt.chat,
        redis_url=rt.url,
        destinations=running.destinations,
        worker_index=opts.index,
        workers=opts.workers,
        max_attempts=opts.max_attempts,
        outage_hold_s=opts.outage_hold_s,
        call_timeout_s=opts.call_timeout_s,
        on_dead=dead_letter_notice(rt.chat, running),
    )


def dead_letter_notice(chat: Chat, running: Running) -> Callable[[ChannelRef, dict[str, str], str], Awaitable[None]]:
    """After a message was dead-lettered for a destination: tell its sender on the origin platform
    (the operator sees it in ``chatbridge dlq list`` and the WARNING log already)."""

    async def tell(destination: ChannelRef, job: dict[str, str], error: str) -> None:
        core = job.get("core", "")
        body = await chat.ctx.redis.hgetall(keys.message(core)) if core else {}
        if not body.get("origin_channel") or not body.get("origin_id"):
            return
        where = f"#{body.get('channel') or job.get('channel', '')} on {destination.platform.capitalize()}"
        message = OutboundMessage(
            core_id=core,
            channel=body.get("channel", ""),
            text=body.get("message", ""),
            author_name=body.get("username", ""),
            origin_channel=body["origin_channel"],
            origin_id=body["origin_id"],
            username=body.get("username", ""),
        )
        text = f"Your message could not be delivered to {where}: {error[:300]}"
        await running.files.tell_sender(message, text, reason=f"dead:{destination.key()}")

    return tell


def _announce_sandbox(cfg: Config, rt: Runtime, running: Running, http_port: int) -> None:
    info = {**running.sandbox, "redis": rt.url, "http": f"http://{cfg.http.host}:{http_port}"}
    (cfg.redis.data_dir / SANDBOX_FILE).write_text(json.dumps(info))
    if logs.is_json():
        log.info("sandbox is up (local Discord and Slack emulators, #general linked on both): %s", json.dumps(info))
        return
    print(
        "\n  chatbridge sandbox is up: local Discord and Slack emulators, #general linked on both.\n"
        "  In another terminal:\n"
        "    .venv/bin/chatbridge sandbox say discord alice 'hello from Discord'\n"
        "    .venv/bin/chatbridge sandbox log slack            # see it arrive on Slack\n"
        "    .venv/bin/chatbridge sandbox say slack bob 'and back'\n"
        "    .venv/bin/chatbridge sandbox slash discord alice 'search hello'\n"
        "    .venv/bin/chatbridge exec 'history general 10'     # any command, from the CLI\n"
        f"  Health: {info['http']}/healthz   metrics: {info['http']}/metrics\n",
        flush=True,
    )
