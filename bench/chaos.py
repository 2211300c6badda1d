"""The soak's chaos schedule: a seeded random injector over every fault the emulators offer.

Each :class:`Injector` is one kind of failure (a Discord gateway close, a Slack 429, a host
refusing connections...). It is driven through the emulator's own control plane (the
``/_emulator/...`` routes ``chatbridge sandbox`` and other processes use), and only where that
emulator has it: :func:`available` asks the emulator's router for the route (or, for a fault with
no route yet, the emulator object for the method), so the soak runs with whatever the emulators on
main offer and picks up new injectors without a change here beyond their entry in :data:`CATALOG`.

:class:`Chaos` picks injections from a shuffled bag (every available kind once per round, in a
seeded random order) at seeded random intervals, one at a time (each injection starts its fault and
ends it after a few seconds), and logs each with its time, so every message the soak sends can be
attributed to the injection that was active (or last) when it was sent.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp


class InjectionFailed(RuntimeError):
    """The emulator refused a control request (its answer is the message)."""


@dataclass
class Target:
    """One emulator as the chaos sees it: its object (for capability checks) and its control URL."""

    platform: str
    emulator: Any
    base_url: str
    http: aiohttp.ClientSession

    def has_route(self, method: str, path: str) -> bool:
        runner = getattr(self.emulator, "_runner", None)
        app = getattr(runner, "app", None)
        if app is None:
            return False
        for route in app.router.routes():
            resource = route.resource
            if resource is not None and route.method == method and resource.canonical == path:
                return True
        return False

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        async with self.http.request(method, self.base_url + path, json=body) as response:
            answer: dict[str, Any] = await response.json(content_type=None)
            if response.status >= 300 or answer.get("ok") is False:
                raise InjectionFailed(f"{method} {path} {body}: {response.status} {answer}")
            return answer

    async def lasting(
        self, seconds: float, path: str, body: dict[str, Any] | None, end: tuple[str, str, dict[str, Any] | None]
    ) -> dict[str, Any]:
        """POST ``body`` to ``path`` (a fault starts), and end it with the ``end`` request (method,
        path, body) ``seconds`` later, whatever happens meanwhile."""
        answer = await self.call("POST", path, body)
        try:
            await asyncio.sleep(seconds)
        finally:
            await self.call(*end)
        return answer


Inject = Callable[[Target, random.Random], Awaitable[str]]
CHANNELS = ("general", "random", "cricket")
"""The channels the soak links on both sides (faults that hit one channel pick one of them)."""


@dataclass(frozen=True)
class Injector:
    kind: str
    platform: str
    needs: tuple[str, str]
    """The control route (method, path) the injection uses."""
    inject: Inject
    """Start the fault, end it (after a few seconds for a lasting one); returns what was done."""
    probe: Callable[[Target], Awaitable[bool]] | None = None
    """A further check, where the route serves several faults (the gateway's list of its faults)."""

    async def available(self, target: Target) -> bool:
        return target.has_route(*self.needs) and (self.probe is None or await self.probe(target))


@dataclass
class Injection:
    at: float
    """Seconds since the chaos started."""
    kind: str
    detail: str = ""
    ended: float | None = None
    error: str = ""


# -- the catalog -------------------------------------------------------------------------------------


async def _gateway_close(t: Target, rng: random.Random) -> str:
    before = await _gateway_sessions(t)
    answer = await t.call("POST", "/_emulator/gateway/close", {"code": 4000})
    return f"close 4000 (resumable), {answer.get('closed')} socket(s){await _gateway_back(t, before)}"


async def _gateway_sessions(t: Target) -> int | None:
    """IDENTIFYs + RESUMEs the gateway has seen (None: the emulator does not say)."""
    if not t.has_route("GET", "/_emulator/gateway"):
        return None
    state = await t.call("GET", "/_emulator/gateway")
    return int(state["identifies"]) + int(state["resumes"])


async def _gateway_back(t: Target, before: int | None, limit_s: float = 150.0) -> str:
    """Wait until the client has identified or resumed again and is connected, so that one gateway
    fault is over before the next injection (a zombie lasts until the client notices it); says how
    long it took."""
    if before is None:
        return ""
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        state = await t.call("GET", "/_emulator/gateway")
        if int(state["identifies"]) + int(state["resumes"]) > before and int(state["connected"]) > 0:
            return f", back in {time.monotonic() - start:.1f} s"
        await asyncio.sleep(0.2)
    return f", NOT back after {limit_s:.0f} s"


async def _outage(t: Target, rng: random.Random) -> str:
    seconds = rng.uniform(1.0, 4.0)
    answer = await t.lasting(seconds, "/_emulator/outage", None, ("DELETE", "/_emulator/outage", None))
    return f"websockets dropped ({answer.get('closed')}) and refused for {seconds:.1f} s"


async def _refuse(t: Target, rng: random.Random) -> str:
    seconds = rng.uniform(1.0, 4.0)
    await t.call("POST", "/_emulator/network", {"mode": "refuse", "seconds": seconds})
    await asyncio.sleep(seconds + 0.2)
    return f"host refusing connections for {seconds:.1f} s"


async def _five_xx(t: Target, rng: random.Random) -> str:
    seconds = rng.uniform(1.0, 3.0)
    status = rng.choice([500, 502, 503])
    await t.call("POST", "/_emulator/network", {"mode": "error", "status": status, "seconds": seconds})
    await asyncio.sleep(seconds + 0.2)
    return f"every request answered {status} for {seconds:.1f} s"


async def _discord_webhook_429(t: Target, rng: random.Random) -> str:
    retry_after, times = round(rng.uniform(0.2, 1.5), 2), rng.randint(1, 4)
    body = {"method": "POST", "path_regex": r"/webhooks/\d+/[^/]+", "retry_after": retry_after, "times": times}
    await t.call("POST", "/_emulator/rate_limits", body)
    return f"next {times} webhook execute(s) 429, retry_after {retry_after} s"


async def _discord_global_429(t: Target, rng: random.Random) -> str:
    retry_after, times = round(rng.uniform(0.2, 1.0), 2), rng.randint(1, 3)
    body = {"method": "POST", "path_regex": r"/.*", "retry_after": retry_after, "times": times, "global": True}
    await t.call("POST", "/_emulator/rate_limits", body)
    return f"next {times} POST(s) global 429, retry_after {retry_after} s"


async def _slack_post_429(t: Target, rng: random.Random) -> str:
    count = rng.randint(1, 4)
    body = {"method": "chat.postMessage", "error": "ratelimited", "status": 429, "retry_after": 1, "count": count}
    await t.call("POST", "/_emulator/failures", body)
    return f"next {count} chat.postMessage 429 ratelimited, Retry-After 1"


def _socket_disconnect(reason: str) -> Inject:
    """A Socket Mode ``disconnect`` frame (``POST /_emulator/socket/disconnect``); ``link_disabled``
    (Socket Mode turned off for the app) is turned on again by an admin a few seconds later."""

    async def inject(t: Target, rng: random.Random) -> str:
        if reason != "link_disabled":
            answer = await t.call("POST", "/_emulator/socket/disconnect", {"reason": reason})
            return f"disconnect {reason} to {answer.get('connections')}"
        seconds = rng.uniform(3.0, 8.0)
        on = ("DELETE", "/_emulator/socket/link_disabled", None)
        await t.lasting(seconds, "/_emulator/socket/disconnect", {"reason": reason}, on)
        return f"disconnect link_disabled, Socket Mode on again after {seconds:.1f} s"

    return inject


def _gateway_fault(fault: str, what: str) -> tuple[Inject, Callable[[Target], Awaitable[bool]]]:
    """One of the gateway's own faults (``POST /_emulator/gateway/faults``; the emulator lists the
    ones it has in ``GET /_emulator/gateway``)."""

    async def inject(t: Target, rng: random.Random) -> str:
        before = await _gateway_sessions(t)
        answer = await t.call("POST", "/_emulator/gateway/faults", {"fault": fault})
        return f"{what}, {answer.get('sessions')} session(s){await _gateway_back(t, before)}"

    async def probe(t: Target) -> bool:
        if not t.has_route("GET", "/_emulator/gateway"):
            return False
        return fault in (await t.call("GET", "/_emulator/gateway")).get("faults", {})

    return inject, probe


async def _permission_flip(t: Target, rng: random.Random) -> str:
    """An admin takes a permission away from the bot (or from @everyone) in one linked channel and
    gives it back a few seconds later."""
    channel = rng.choice(CHANNELS)
    permission, who = rng.choice(
        [("SEND_MESSAGES", "bot"), ("SEND_MESSAGES", "@everyone"), ("MANAGE_WEBHOOKS", "bot"), ("VIEW_CHANNEL", "bot")]
    )
    seconds = rng.uniform(2.0, 6.0)
    back = ("POST", "/_emulator/permissions", {"channel": channel, "who": who, "reset": True})
    await t.lasting(seconds, "/_emulator/permissions", {"channel": channel, "who": who, "revoke": [permission]}, back)
    return f"{permission} revoked from {who} in #{channel} for {seconds:.1f} s"


async def _slack_kicked(t: Target, rng: random.Random) -> str:
    """The app is removed from a linked public channel (its next post there: ``not_in_channel``, and
    the bridge joins again by itself); an admin adds it back a few seconds later in any case."""
    channel = rng.choice(CHANNELS)
    seconds = rng.uniform(2.0, 6.0)
    back = ("POST", "/_emulator/membership", {"channel": channel, "member": True})
    await t.lasting(seconds, "/_emulator/membership", {"channel": channel, "member": False}, back)
    return f"app removed from #{channel}, put back after {seconds:.1f} s"


async def _slack_kicked_no_join(t: Target, rng: random.Random) -> str:
    """The same without the ``channels:join`` scope, so the bridge cannot join again and holds the
    room until an admin adds the app back (and the scope) a few seconds later."""
    channel = rng.choice(CHANNELS)
    seconds = rng.uniform(3.0, 8.0)
    await t.call("POST", "/_emulator/scopes", {"remove": ["channels:join"]})
    try:
        back = ("POST", "/_emulator/membership", {"channel": channel, "member": True})
        await t.lasting(seconds, "/_emulator/membership", {"channel": channel, "member": False}, back)
    finally:
        await t.call("POST", "/_emulator/scopes", {"add": ["channels:join"]})
    return f"app removed from #{channel} without channels:join, put back after {seconds:.1f} s"


async def _cloudflare_ban(t: Target, rng: random.Random) -> str:
    seconds = round(rng.uniform(2.0, 6.0), 1)
    body = rng.choice(["text", "json"])
    await t.call("POST", "/_emulator/rate_limits/cloudflare", {"seconds": seconds, "body": body})
    await asyncio.sleep(seconds)
    return f"Cloudflare ban (429 without Via, {body} body) for {seconds} s"


async def _discord_random_429s(t: Target, rng: random.Random) -> str:
    seconds, probability = rng.uniform(4.0, 10.0), round(rng.uniform(0.05, 0.3), 2)
    body = {"probability": probability, "kinds": ["route", "global", "cloudflare"], "retry_after": 1.0}
    body |= {"cloudflare_s": 2.0, "seed": rng.randrange(1 << 30)}
    await t.lasting(seconds, "/_emulator/rate_limits/chaos", body, ("DELETE", "/_emulator/rate_limits/chaos", None))
    return f"{probability:.0%} of requests 429 (route, global or a 2 s Cloudflare ban) for {seconds:.1f} s"


async def _slack_random_429s(t: Target, rng: random.Random) -> str:
    seconds, probability = rng.uniform(4.0, 10.0), round(rng.uniform(0.05, 0.3), 2)
    body = {"probability": probability, "retry_after": 1}
    await t.lasting(seconds, "/_emulator/rate_limits/chaos", body, ("DELETE", "/_emulator/rate_limits/chaos", None))
    return f"{probability:.0%} of Web API calls 429 ratelimited for {seconds:.1f} s"


GATEWAY_FAULTS = {
    "reconnect": "op 7 reconnect",
    "invalid_resumable": "op 9 resumable",
    "invalid_session": "op 9 not resumable",
    "close_4009": "close 4009",
    "zombie": "zombie (no heartbeat ACK)",
}

CATALOG: tuple[Injector, ...] = (
    Injector("discord gateway close 4000 (resume)", "discord", ("POST", "/_emulator/gateway/close"), _gateway_close),
    Injector("discord gateway outage", "discord", ("POST", "/_emulator/outage"), _outage),
    Injector("discord host refusing", "discord", ("POST", "/_emulator/network"), _refuse),
    Injector("discord 5xx", "discord", ("POST", "/_emulator/network"), _five_xx),
    Injector("discord webhook 429", "discord", ("POST", "/_emulator/rate_limits"), _discord_webhook_429),
    Injector("discord global 429", "discord", ("POST", "/_emulator/rate_limits"), _discord_global_429),
    *(
        Injector(f"slack socket {why}", "slack", ("POST", "/_emulator/socket/disconnect"), _socket_disconnect(why))
        for why in ("warning", "refresh_requested", "too_many_websockets", "link_disabled")
    ),
    Injector("slack socket outage", "slack", ("POST", "/_emulator/outage"), _outage),
    Injector("slack host refusing", "slack", ("POST", "/_emulator/network"), _refuse),
    Injector("slack 5xx", "slack", ("POST", "/_emulator/network"), _five_xx),
    Injector("slack chat.postMessage 429", "slack", ("POST", "/_emulator/failures"), _slack_post_429),
    *(
        Injector(f"discord gateway {what}", "discord", ("POST", "/_emulator/gateway/faults"), *_gateway_fault(f, what))
        for f, what in GATEWAY_FAULTS.items()
    ),
    Injector("discord Cloudflare ban", "discord", ("POST", "/_emulator/rate_limits/cloudflare"), _cloudflare_ban),
    Injector("discord random 429s", "discord", ("POST", "/_emulator/rate_limits/chaos"), _discord_random_429s),
    Injector("slack random 429s", "slack", ("POST", "/_emulator/rate_limits/chaos"), _slack_random_429s),
    Injector("discord permission flip", "discord", ("POST", "/_emulator/permissions"), _permission_flip),
    Injector("slack app removed from channel", "slack", ("POST", "/_emulator/membership"), _slack_kicked),
    Injector("slack app removed, no channels:join", "slack", ("POST", "/_emulator/scopes"), _slack_kicked_no_join),
)


async def available(targets: dict[str, Target]) -> tuple[list[Injector], list[Injector]]:
    """(the injectors these emulators offer, the ones they do not)."""
    have, missing = [], []
    for injector in CATALOG:
        target = targets.get(injector.platform)
        (have if target is not None and await injector.available(target) else missing).append(injector)
    return have, missing


@dataclass
class Chaos:
    targets: dict[str, Target]
    injectors: list[Injector]
    rng: random.Random
    every_s: float
    """Mean seconds from the end of one injection to the start of the next."""
    log: list[Injection] = field(default_factory=list)
    started: float = 0.0
    started_wall: float = 0.0
    """When the chaos started (``time.monotonic()``, ``time.time()``)."""

    def active_at(self, offset: float) -> Injection | None:
        """The injection active (or the last one started) ``offset`` seconds into the chaos."""
        last = None
        for injection in self.log:
            if injection.at > offset:
                break
            last = injection
        return last

    async def run(self, stop: asyncio.Event) -> None:
        self.started, self.started_wall = time.monotonic(), time.time()
        bag: list[Injector] = []
        while not stop.is_set():
            gap = self.rng.uniform(0.5, 1.5) * self.every_s
            try:
                await asyncio.wait_for(stop.wait(), gap)
                return
            except TimeoutError:
                pass
            if not bag:
                bag = list(self.injectors)
                self.rng.shuffle(bag)
            injector = bag.pop()
            injection = Injection(round(time.monotonic() - self.started, 2), injector.kind)
            self.log.append(injection)
            try:
                injection.detail = await injector.inject(self.targets[injector.platform], self.rng)
            except (InjectionFailed, aiohttp.ClientError, OSError) as err:  # OSError: TimeoutError too
                injection.error = str(err)[:200]
            injection.ended = round(time.monotonic() - self.started, 2)
            print(
                f"  [+{injection.at:7.1f} s] {injection.kind}: {injection.detail or 'FAILED ' + injection.error}",
                file=sys.stderr,
                flush=True,
            )

    async def restore(self) -> None:
        """End every lasting fault (the soak's drain runs on healthy platforms)."""
        for target in self.targets.values():
            if target.has_route("POST", "/_emulator/network"):
                await target.call("POST", "/_emulator/network", {"mode": "none"})
            if target.has_route("DELETE", "/_emulator/outage"):
                await target.call("DELETE", "/_emulator/outage")
