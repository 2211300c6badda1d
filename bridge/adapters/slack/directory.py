"""What the Slack adapter needs from the core (a structural type), and a small cache of Slack people.

:class:`ChatPort` is the part of :class:`bridge.core.chat.Chat` the adapter calls, so the adapter
depends on behaviour, not on the core's construction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge.adapters.slack.pacing import Pacer
from bridge.core.ports import (
    ChannelRef,
    InboundEvent,
    IngestResult,
    Invocation,
    PlatformUser,
    ReactionEvent,
    Reply,
)

log = logging.getLogger(__name__)


class CommandsPort(Protocol):
    async def execute(self, inv: Invocation, line: str) -> Reply: ...


class ChatPort(Protocol):
    @property
    def commands(self) -> CommandsPort: ...

    async def ingest(self, event: InboundEvent) -> IngestResult: ...

    async def ingest_many(self, events: Sequence[InboundEvent]) -> list[IngestResult | Exception]: ...

    async def react(self, event: ReactionEvent) -> IngestResult: ...

    async def resolve_user(self, user: PlatformUser) -> str: ...

    async def find_username(self, platform: str, workspace: str, user_id: str) -> str | None: ...

    async def channel_for(self, ref: ChannelRef) -> str | None: ...

    async def thread_home(self, dest: ChannelRef, root_id: str) -> str | None: ...

    async def set_thread_home(self, dest: ChannelRef, root_id: str, where: str) -> None: ...


@dataclass(frozen=True)
class SlackPerson:
    user_id: str
    name: str
    display_name: str
    avatar_url: str | None
    is_admin: bool
    is_bot: bool


LOOKUP_WAIT_S = 0.5
"""The longest a lookup waits for its ``users.info`` slot: it runs before an event is acked, which
Slack wants within 3 s (api.slack.com/apis/events-api), so past this the fallback answers."""


class Directory:
    """``users.info`` answers cached for ``ttl`` seconds (names, avatars, admin flags).

    A lookup runs before its event is acked: it never sleeps out a rate limit. When Tier 4's pace
    (``pacing.py``) or a 429's ``Retry-After`` would hold it past ``LOOKUP_WAIT_S``, the profile
    already known (or the bare id) answers instead, and no call is made."""

    def __init__(self, *, client: AsyncWebClient, ttl: float, pacer: Pacer | None = None) -> None:
        self._client = client
        self._ttl = ttl
        self._pacer = pacer or Pacer()
        self._people: dict[str, tuple[float, SlackPerson]] = {}

    async def person(self, user_id: str) -> SlackPerson:
        hit = self._people.get(user_id)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        fallback = hit[1] if hit is not None else SlackPerson(user_id, user_id, user_id, None, False, False)
        wait = self._pacer.delay("users_info", take=False)
        if wait > LOOKUP_WAIT_S:  # rate limited: the profile we had (or the id) is better than a late ack
            log.info("users.info %s not called: its rate limit frees in %.1fs", user_id, wait)
            return fallback
        await self._pacer.wait("users_info")
        try:
            resp = await self._client.users_info(user=user_id)
        except SlackApiError as err:
            log.warning("users.info %s failed: %s", user_id, err.response.get("error"))
            if getattr(err.response, "status_code", 0) == 429:
                self._pacer.blocked("users_info", None, _retry_after(err))
            return fallback  # rate limited or down: the profile we had is better than the id
        person = _person(resp.data["user"] if isinstance(resp.data, dict) else {})
        self._people[user_id] = (now, person)
        return person

    async def platform_user(self, team_id: str, user_id: str) -> PlatformUser:
        p = await self.person(user_id)
        return PlatformUser("slack", team_id, user_id, p.display_name, p.avatar_url)


def _retry_after(err: SlackApiError) -> float:
    try:
        return max(0.0, float(err.response.headers.get("Retry-After") or 1))
    except (TypeError, ValueError):
        return 1.0


def _person(data: Mapping[str, object]) -> SlackPerson:
    profile = data.get("profile")
    prof: Mapping[str, object] = profile if isinstance(profile, dict) else {}
    uid = str(data.get("id") or "")
    name = str(data.get("name") or uid)
    display = str(prof.get("display_name") or prof.get("real_name") or data.get("real_name") or name)
    avatar = prof.get("image_72") or prof.get("image_48")
    return SlackPerson(
        user_id=uid,
        name=name,
        display_name=display,
        avatar_url=str(avatar) if avatar else None,
        is_admin=bool(data.get("is_admin") or data.get("is_owner") or data.get("is_primary_owner")),
        is_bot=bool(data.get("is_bot")),
    )
