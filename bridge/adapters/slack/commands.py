"""The ``/chat`` slash command: ack at once, run the core command after, answer through ``respond()``.

The Slack text (``/chat search match in:cricket``) goes to ``CommandLayer.execute`` after its Slack
syntax is converted (``<@U…|name>`` → ``@username``, ``<#C…|name>`` → ``#channel``, entities
decoded). Replies are ephemeral unless the core says they are meant for the room (``in_channel``).
Admin commands get ``Invocation.is_admin`` when the caller is a workspace admin/owner or is listed in
``SlackConfig.admin_users``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond

from bridge.adapters.slack import text as slack_text
from bridge.adapters.slack.config import SlackConfig
from bridge.adapters.slack.directory import ChatPort, Directory
from bridge.adapters.slack.inbound import convert_text
from bridge.core.ports import ChannelRef, Invocation, Reply

log = logging.getLogger(__name__)

RESPONSE_PARTS = 5
"""Slack accepts at most five answers per ``response_url``."""


class SlashCommands:
    def __init__(
        self,
        *,
        chat: ChatPort,
        config: SlackConfig,
        directory: Directory,
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
    ) -> None:
        self._chat = chat
        self._config = config
        self._directory = directory
        self._spawn = spawn
        self.counters: collections.Counter[str] = collections.Counter()
        """Commands by outcome: ok, refused (a user error), failed (a bug or an outage)."""

    async def on_command(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any], respond: AsyncRespond) -> None:
        """Bolt listener: acknowledge within Slack's 3 s, do the work in a task."""
        await ack()
        self._spawn(self.run(body, respond))

    async def run(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        try:
            reply = await self.execute(body)
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception(
                "slack command failed (ref %s, team=%s, channel=%s, user=%s, text=%r)",
                ref,
                body.get("team_id"),
                body.get("channel_id"),
                body.get("user_id"),
                str(body.get("text", ""))[:200],
            )
            reply = Reply(f"Sorry, something went wrong on our side (ref `{ref}`).", ok=False, error_code="internal")
        outcome = "ok" if reply.ok else "failed" if reply.error_code == "internal" else "refused"
        self.counters[outcome] += 1
        await self.answer(respond, reply)

    async def execute(self, body: dict[str, Any]) -> Reply:
        team = str(body.get("team_id") or "")
        user_id = str(body.get("user_id") or "")
        channel_id = str(body.get("channel_id") or "")
        raw = str(body.get("text") or "")
        line = await convert_text(self._chat, team=team, text=raw)
        user = await self._directory.platform_user(team, user_id)
        # the users.info answer is cached, so knowing the admin flag costs nothing more
        is_admin = user_id in self._config.admin_users or (await self._directory.person(user_id)).is_admin
        channel_name = body.get("channel_name")
        inv = Invocation(
            platform="slack",
            user=user,
            is_admin=is_admin,
            channel=ChannelRef("slack", team, channel_id) if channel_id else None,
            channel_name=str(channel_name) if channel_name else None,
        )
        return await self._chat.commands.execute(inv, line)

    async def answer(self, respond: AsyncRespond, reply: Reply) -> None:
        text = slack_text.to_slack(reply.text or ("Done." if reply.ok else "That did not work."))
        parts = slack_text.split(text, self._config.max_message_chars)
        if len(parts) > RESPONSE_PARTS:
            parts = [*parts[: RESPONSE_PARTS - 1], "_…cut: the answer is too long for Slack; use the CLI._"]
        response_type = "ephemeral" if reply.ephemeral else "in_channel"
        for part in parts:
            try:
                await respond(text=part, response_type=response_type, replace_original=False)
            except Exception:
                log.exception("slack respond() failed (response_type=%s)", response_type)
                return
