"""Reactions on Slack: ``reaction_added`` / ``reaction_removed`` in (→ ``Chat.react``), the bot's
``reactions.add`` / ``reactions.remove`` out.

In: the bot's own reactions (the mirror of someone else's) and reactions on anything but a
message (files, file comments) are not recorded; a reaction that arrives before its message was
recorded (Slack does not order events) is handed back for redelivery while the message is recent,
like an early edit. The event's ``event_ts`` orders add/remove of the same reaction.

Out: ``already_reacted`` (add) and ``no_reaction`` (remove) mean the state is already right and
count as done; ``invalid_name`` means Slack has no such emoji (a Discord custom emoji the
workspace lacks: the caller is told, nothing is retried); ``message_not_found`` means the copy is
gone. Which custom emoji exist comes from ``emoji.list`` (cached; aliases included).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bridge import metrics
from bridge.adapters.slack.channel_access import ChannelAccess
from bridge.adapters.slack.directory import ChatPort, Directory
from bridge.adapters.slack.inbound import LAST_RETRY, RetryLater, RoomTraffic, retry_num
from bridge.adapters.slack.outbound import delivery_error
from bridge.adapters.slack.pacing import Pacer
from bridge.core.ports import ChannelRef, ReactionEvent
from bridge.formatting.emoji import from_slack_reaction, to_slack_reaction

log = logging.getLogger(__name__)
DONE_ERRORS = {"add": "already_reacted", "remove": "no_reaction"}


class SlackReactions:
    def __init__(
        self,
        *,
        chat: ChatPort,
        directory: Directory,
        rooms: RoomTraffic,
        client: AsyncWebClient,
        emoji_ttl: float = 300.0,
        pacer: Pacer | None = None,
    ) -> None:
        self.pacer = pacer or Pacer()
        self._chat = chat
        self._directory = directory
        self._rooms = rooms
        self._client = client
        self._emoji_ttl = emoji_ttl
        self._custom: tuple[float, frozenset[str]] | None = None
        self._custom_lock = asyncio.Lock()
        self.access: ChannelAccess | None = None
        """The destination's channel access (set by the adapter): a channel that dropped the app is
        joined again, or the room held, for reactions as for posts (``channel_access``)."""

    # -- in ------------------------------------------------------------------------------------------
    async def on_reaction(self, body: dict[str, Any], event: dict[str, Any], request: Any = None) -> None:
        """Bolt listener for ``reaction_added`` and ``reaction_removed``."""
        item = event.get("item") or {}
        user = str(event.get("user") or "")
        metrics.inbound_event("slack", "reaction")
        if user and user == self._rooms.bot_user_id:
            return  # the bot's own reaction is the mirror of someone else's
        if item.get("type") != "message" or not item.get("channel") or not item.get("ts"):
            log.debug("slack reaction on a %s, not a message: not mirrored", item.get("type"))
            return
        team = str(body.get("team_id") or event.get("team") or "")
        ref = ChannelRef("slack", team, str(item["channel"]))
        name = str(event.get("reaction") or "")
        if not name or not user:
            metrics.inbound_dropped(
                "slack", "malformed", "reaction event %s without name or user", body.get("event_id")
            )
            return
        try:
            at = float(event.get("event_ts") or 0) or time.time()
        except ValueError:
            at = time.time()
        order = self._rooms.order  # in the channel's order: a reaction never overtakes its message
        turn = order.enter(ref.channel_id)
        try:
            person = await self._directory.platform_user(team, user)
        except BaseException:
            order.skip(ref.channel_id, turn)
            raise
        reaction = ReactionEvent(
            kind="add" if event.get("type") == "reaction_added" else "remove",
            channel=ref,
            message_id=str(item["ts"]),
            emoji=from_slack_reaction(name),
            user=person,
            at=at,
        )
        result = await order.run(ref.channel_id, turn, lambda: self._chat.react(reaction))
        if result.status == "ignored" and result.reason == "unknown_message" and self._rooms._recent(str(item["ts"])):
            if retry_num(request) < LAST_RETRY:  # Slack delivers it again (see inbound: early edits)
                raise RetryLater(f"reaction on {item['ts']} arrived before the message")
            metrics.inbound_dropped(
                "slack", "early_edit", "reaction %s on %s in %s (event %s): its message had not arrived by "
                "Slack's last retry", name, item["ts"], ref.key(), body.get("event_id"),
            )  # fmt: skip

    # -- out -----------------------------------------------------------------------------------------
    async def custom_names(self) -> frozenset[str]:
        """The workspace's custom emoji names (``emoji.list``, cached ``emoji_ttl`` seconds)."""
        async with self._custom_lock:
            now = time.monotonic()
            if self._custom is not None and now - self._custom[0] < self._emoji_ttl:
                return self._custom[1]
            try:
                resp = await self._client.emoji_list()
                names = frozenset(str(n) for n in (resp.get("emoji") or {}))
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as err:
                log.warning("slack emoji.list failed (custom emoji unknown for now): %s", err)
                names = self._custom[1] if self._custom else frozenset()
            self._custom = (now, names)
            return names

    async def react(self, channel: ChannelRef, message_id: str, emoji: str, *, add: bool) -> bool:
        name = to_slack_reaction(emoji, await self.custom_names())
        if name is None:
            return False
        action = "add" if add else "remove"
        call = self._client.reactions_add if add else self._client.reactions_remove
        await self.pacer.wait(f"reactions_{action}")
        try:
            args = {"channel": channel.channel_id, "timestamp": message_id, "name": name}
            await (self.access.call(call, args) if self.access is not None else call(**args))
        except SlackApiError as err:
            code = str(err.response.get("error") or "")
            if getattr(err.response, "status_code", 0) == 429:
                self.pacer.blocked(f"reactions_{action}", None, delivery_error(action, err).retry_after or 1.0)
            if code == DONE_ERRORS[action] or code == "message_not_found":
                return True
            if code == "invalid_name":
                return False
            raise delivery_error(f"reactions.{action}", err) from err
        except (aiohttp.ClientError, TimeoutError) as err:
            raise delivery_error(f"reactions.{action}", err) from err
        return True
