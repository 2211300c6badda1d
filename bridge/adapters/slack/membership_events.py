"""What Slack says about the app's own membership of linked channels (bot events, manifest
``member_joined_channel``, ``channel_left``, ``group_left``; scopes ``channels:read`` /
``groups:read``, which the app has).

- https://api.slack.com/events/member_joined_channel (``user``, ``channel``, ``channel_type``,
  ``team``, ``inviter`` when someone added the member, ``event_ts``), for the app's own bot user in
  a linked channel: the app is back. The room's hold is lifted (``ChannelAccess.readmitted``) and
  the channel is caught up at once (``catch_up``), in a task: the event is acknowledged now, not
  after a read of the channel's history. A join without ``inviter`` right after the app's own
  ``conversations.join`` is that join (its catch-up ran then): nothing more is read. A ``message``
  said in a held channel after it was held does the same as this event
  (:meth:`MembershipEvents.back`, called by the adapter's ``message`` listener): Slack does not
  promise which of the two arrives first.
- https://api.slack.com/events/channel_left / https://api.slack.com/events/group_left (``channel``,
  ``actor_id``): someone removed the app from a linked channel. The room is held as a refused call
  holds it (``ChannelAccess.removed``: WARNING, ``chatbridge_slack_rooms_held{reason="channel_left"}``,
  ``/healthz``, a DM to each ``slack.admin_users``), at once, before anything fails on it. A
  channel where nothing was taken in yet gets the event's ``event_ts`` as its anchor: the gap
  starts there.

Anyone else joining or leaving, and channels that are not linked, change nothing here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from bridge.adapters.slack.catch_up import SlackCatchUp
from bridge.adapters.slack.channel_access import ChannelAccess
from bridge.adapters.slack.directory import ChatPort
from bridge.adapters.slack.inbound import RoomTraffic
from bridge.core.ports import ChannelRef

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]


class MembershipEvents:
    def __init__(
        self,
        *,
        chat: ChatPort,
        rooms: RoomTraffic,
        access: ChannelAccess,
        catch_up: SlackCatchUp | None,
        spawn: Spawn,
    ) -> None:
        self.chat = chat
        self.rooms = rooms
        self.access = access
        self.catch_up = catch_up
        self.spawn = spawn
        self.readmitted: list[str] = []
        """Linked channels Slack said the app is back in (for tests and health)."""
        self.removed: list[str] = []
        """Linked channels Slack said the app was removed from."""

    async def _linked(self, body: dict[str, Any], event: dict[str, Any]) -> str | None:
        channel = str(event.get("channel") or "")
        team = str(body.get("team_id") or event.get("team") or "")
        if not channel or await self.chat.channel_for(ChannelRef("slack", team, channel)) is None:
            return None
        return channel

    async def on_member_joined(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """Bolt listener for ``member_joined_channel``."""
        if not self.rooms.bot_user_id or event.get("user") != self.rooms.bot_user_id:
            return  # someone else joined: nothing to take in
        channel = await self._linked(body, event)
        if channel is None:
            return
        if not event.get("inviter") and self.access.joined_itself(channel):
            self.access.readmitted(channel)
            log.info("slack: channel %s: the app's own join, caught up when it joined", channel)
            return
        self.back(channel, f"added by {event['inviter']}" if event.get("inviter") else "joined")

    def back(self, channel: str, how: str) -> None:
        """The app is in ``channel`` again: its hold is lifted and a catch-up starts (live messages
        of the channel wait for it from now on)."""
        self.readmitted.append(channel)
        del self.readmitted[:-100]
        lifted = ", its hold lifted" if self.access.readmitted(channel) else ""
        log.info("slack: the app is in channel %s again (%s)%s: catching up what it missed", channel, how, lifted)
        if self.catch_up is not None:
            self.spawn(self.catch_up.soon(channel))

    async def on_left(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """Bolt listener for ``channel_left`` and ``group_left``."""
        channel = await self._linked(body, event)
        if channel is None:
            return
        self.removed.append(channel)
        del self.removed[:-100]
        if self.catch_up is not None and event.get("event_ts"):
            # nothing taken in there yet: the gap starts now, by Slack's own clock
            await self.catch_up.last_seen.start_at(self.catch_up.team, channel, str(event["event_ts"]))
        # in a task: the admins' DM must not hold the event's ack
        self.spawn(self.access.removed(channel, str(event.get("actor_id") or "") or None))
