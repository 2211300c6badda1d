"""When a linked Slack channel stops accepting the app: join it again, or hold its room for an admin.

Slack answers a Web API call on a channel the app is not in with ``not_in_channel`` (a public
channel: someone removed the app) or ``channel_not_found`` (a private channel the app is not in does
not exist for it; also a deleted channel). Neither is this message's fault, and retrying cannot fix
it, but an admin can:

- ``not_in_channel`` → ``conversations.join`` (bot scope ``channels:join``,
  api.slack.com/methods/conversations.join) and the call again, once. Slack refuses the join for a
  private channel (``method_not_supported_for_channel_type``) and without the scope
  (``missing_scope``); then the room is held as below.
- a refused join or ``channel_not_found`` → the room is **held**: the call raises a
  :class:`~bridge.errors.DeliveryError` with ``needs_admin`` and ``retry_after = hold_s``, which the
  delivery lane waits out without counting an attempt (``bridge.mirror.delivery``: booked as held,
  lane state ``held``, not as a 429), so the backlog stays queued, in order, never dead-lettered,
  and is delivered by the first attempt after the fix. The hold is told
  once per channel (until it clears): a WARNING line, the ``chatbridge_slack_rooms_held`` gauge,
  ``rooms_held`` in the adapter's ``/healthz`` info, a DM to each ``slack.admin_users`` and a notice
  to the sender of the held message on their platform (``FileHub.tell_sender``, the path the other
  per-message notices take). The first call that succeeds on the channel clears it (INFO line).

Slack also says so itself (``membership_events``): ``channel_left`` / ``group_left`` when someone removes the
app (:meth:`ChannelAccess.removed`: the same hold and notices at once, before any call fails) and
``member_joined_channel`` of the app's own user when it is back (:meth:`ChannelAccess.readmitted`:
the hold is lifted at once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Gauge
from slack_sdk.errors import SlackApiError

from bridge import metrics
from bridge.errors import DeliveryError

log = logging.getLogger(__name__)

ROOMS_HELD = Gauge(
    "chatbridge_slack_rooms_held",
    "1 while a linked Slack channel refuses the app (not a member, private, gone) and its room's "
    "backlog waits for an admin; by reason (the Slack error).",
    ["channel", "reason"],
    registry=metrics.REGISTRY,
)
JOINABLE = "not_in_channel"
HELD_ERRORS = frozenset({"not_in_channel", "channel_not_found"})
Call = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Hold:
    channel: str
    reason: str
    """The Slack error that holds the room (not_in_channel after a refused join, channel_not_found)."""
    detail: str
    since: float
    lifted: asyncio.Event = field(default_factory=asyncio.Event, compare=False)
    """Set when the hold is lifted (the lane waiting it out tries again at once)."""


def error_code(err: SlackApiError) -> str:
    data = err.response.data if isinstance(err.response.data, dict) else {}
    return str(data.get("error") or "")


class RoomHeld(DeliveryError):
    """A held room: the lane waits ``retry_after`` without counting an attempt, then tries again;
    ``needs_admin``: it is booked as held for an admin (lane state ``held``), not as rate limited."""

    def __init__(self, hold: Hold, retry_after: float) -> None:
        super().__init__(hold.detail, retry_after=retry_after, needs_admin=True, fixed=hold.lifted)
        self.hold = hold


class ChannelAccess:
    def __init__(self, *, join: Call, hold_s: float = 300.0) -> None:
        self._join = join
        """``AsyncWebClient.conversations_join``."""
        self.hold_s = hold_s
        self.held: dict[str, Hold] = {}
        self.joined: list[str] = []
        """Channels the app joined again by itself (for tests and health)."""
        self._joined_at: dict[str, float] = {}
        """When (monotonic) the app last joined a channel by itself (its catch-up ran then)."""
        self.tell_admins: Callable[[str], Awaitable[None]] | None = None
        """Set by the adapter: DMs ``slack.admin_users`` (best effort)."""
        self.on_rejoined: Callable[[str], Awaitable[None]] | None = None
        """Set by the adapter: takes in what was said while the app was out (``catch_up``), after the
        app joined again by itself or after a held room's call works again (an admin invited it back)."""

    async def call(self, method: Call, kwargs: Mapping[str, Any]) -> Any:
        """``method(**kwargs)``; a ``not_in_channel`` answer makes the app join and try once more;
        an answer that needs an admin raises :class:`RoomHeld`."""
        channel = str(kwargs.get("channel") or "")
        if not channel or channel.startswith("D"):  # a DM: not a linked room
            return await method(**kwargs)
        rejoined = False
        while True:
            try:
                resp = await method(**kwargs)
            except SlackApiError as err:
                code = error_code(err)
                if code not in HELD_ERRORS:
                    raise
                if code == JOINABLE and not rejoined:
                    refused = await self._rejoin(channel)
                    if refused is None:
                        rejoined = True
                        continue
                    raise await self._hold(channel, code, refused) from err
                raise await self._hold(channel, code, None) from err
            # an admin let the app back in (after a join of its own the catch-up ran already)
            if self._clear(channel) and not rejoined and self.on_rejoined is not None:
                await self.on_rejoined(channel)
            return resp

    async def _rejoin(self, channel: str) -> str | None:
        """Join ``channel``; None when joined, else Slack's reason."""
        try:
            await self._join(channel=channel)
        except SlackApiError as err:
            return error_code(err) or "refused"
        log.warning("slack: the app was not in channel %s any more: it joined it again", channel)
        self.joined.append(channel)
        del self.joined[:-100]
        self._joined_at[channel] = time.monotonic()
        if self.on_rejoined is not None:
            await self.on_rejoined(channel)
        return None

    def joined_itself(self, channel: str, *, within: float = 120.0) -> bool:
        """The app joined ``channel`` by itself in the last ``within`` seconds (``member_joined_channel``
        without ``inviter`` is then that join of its own)."""
        at = self._joined_at.get(channel)
        return at is not None and time.monotonic() - at < within

    async def removed(self, channel: str, actor: str | None) -> None:
        """Slack said someone removed the app (``channel_left`` / ``group_left``): the room is held now,
        told as a refused call would be (WARNING, gauge, ``/healthz``, the admins' DM)."""
        await self._hold(channel, "channel_left", actor)

    def readmitted(self, channel: str) -> bool:
        """Slack said the app is a member again (``member_joined_channel``): the hold is lifted;
        True when there was one."""
        return self._clear(channel)

    async def _hold(self, channel: str, code: str, context: str | None) -> RoomHeld:
        """Hold ``channel`` for ``code``; ``context``: Slack's refusal of the join (``not_in_channel``)
        or who removed the app (``channel_left``)."""
        if code == "channel_left":
            by = f" by Slack user {context}" if context else ""
            detail = (
                f"the app was removed from Slack channel {channel}{by}: invite it back (/invite @chatbridge); "
                "its messages wait, and what is said there meanwhile is read back once it is in again"
            )
        elif code == "channel_not_found":
            detail = (
                f"Slack channel {channel} answers channel_not_found: it is private and the app is not in it "
                "(or it was deleted); invite the app there (/invite @chatbridge) or unlink it; its messages wait"
            )
        else:
            why = {
                "method_not_supported_for_channel_type": "it is private",
                "missing_scope": "the app lacks the channels:join scope (reinstall it: `chatbridge slack-manifest`)",
            }.get(context or "", f"Slack refused to let it join ({context})")
            detail = (
                f"the app is not in Slack channel {channel} and cannot join it: {why}; "
                "invite it there (/invite @chatbridge); its messages wait"
            )
        known = self.held.get(channel)
        if known is None or known.reason != code:
            hold = Hold(channel, code, detail, time.time())
            self.held[channel] = hold
            ROOMS_HELD.labels(channel=channel, reason=code).set(1)
            log.warning("slack: room held: %s", detail)
            if self.tell_admins is not None:
                try:
                    await self.tell_admins(f"chatbridge: {detail}.")
                except Exception:  # a notice is best effort: the hold is on record already
                    log.warning("could not tell the Slack admins about %s", channel, exc_info=True)
        return RoomHeld(self.held[channel], self.hold_s)

    def _clear(self, channel: str) -> bool:
        """Lift ``channel``'s hold; True when there was one (the app was out and is back)."""
        hold = self.held.pop(channel, None)
        if hold is not None:
            hold.lifted.set()
            ROOMS_HELD.labels(channel=channel, reason=hold.reason).set(0)
            log.info("slack: channel %s accepts the app again: its held messages go out", channel)
        return hold is not None

    def info(self) -> dict[str, Any]:
        """For ``/healthz``: each held channel and why."""
        if not self.held:
            return {}
        return {"rooms_held": {c: h.detail for c, h in self.held.items()}}
