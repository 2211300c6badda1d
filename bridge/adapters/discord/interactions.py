"""Running a ``/chat`` subcommand: build the :class:`Invocation`, call the core, answer in Discord.

The core is called in a task. If it answers within ``defer_after`` seconds of the interaction's
creation (its snowflake timestamp, where Discord's 3 s deadline counts from) the reply goes out as
the interaction response, ephemeral unless ``Reply.ephemeral`` is False. Otherwise the interaction
is deferred (ephemeral "thinking…") and the reply follows as a followup; a public reply after a
deferral is posted as a separate followup and the thinking message says where it went. Long replies
are split into several messages. Nothing here can raise into discord.py: failures are logged with
the command, user, guild and channel, and the person gets a short apology when Discord still
accepts one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import discord

from bridge import formatting
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef, Invocation, Reply
from bridge.tasks import TaskSet

from .config import DiscordConfig
from .member_names import platform_user
from .text import split, to_discord

log = logging.getLogger(__name__)
NO_PINGS = discord.AllowedMentions.none()
APOLOGY = "Sorry, something went wrong on our side; it has been logged."


def invocation(interaction: discord.Interaction, config: DiscordConfig) -> Invocation:
    workspace = str(interaction.guild_id) if interaction.guild_id else "dm"
    is_admin = False
    if isinstance(interaction.user, discord.Member):
        perms = interaction.permissions
        roles = {role.id for role in interaction.user.roles}
        is_admin = perms.manage_channels or perms.administrator or bool(roles & set(config.admin_role_ids))
    channel = ChannelRef("discord", workspace, str(interaction.channel_id)) if interaction.channel_id else None
    where = interaction.channel
    parent = ChannelRef("discord", workspace, str(where.parent_id)) if isinstance(where, discord.Thread) else None
    name = getattr(interaction.channel, "name", None)
    if isinstance(where, discord.Thread) and isinstance(where.parent, discord.ForumChannel):
        # a forum (or media) channel takes no messages, so no command is typed there: its posts are
        # where people type, and a post is part of the forum's room (thread_places), so a command
        # typed in a post acts on the forum (`link` links the forum, `--backfill` reads its posts)
        channel, parent, name = parent, None, where.parent.name
    return Invocation(
        "discord",
        user=platform_user(workspace, interaction.user),
        is_admin=is_admin,
        channel=channel,
        channel_name=name,
        thread_of=parent,
    )


def _context(interaction: discord.Interaction, name: str) -> str:
    return f"/{name} user={interaction.user.id} guild={interaction.guild_id} channel={interaction.channel_id}"


class CommandHandler:
    def __init__(self, *, chat: Chat, config: DiscordConfig) -> None:
        self.chat = chat
        self.config = config
        self._running: TaskSet[Reply] = TaskSet()
        """Commands in flight (a strong reference: a command whose answer failed still completes)."""

    async def complete(self, kind: str, prefix: str) -> list[str]:
        if kind not in ("channel", "user"):
            return []
        return await self.chat.commands.complete("channel" if kind == "channel" else "user", prefix, 25)

    async def run(self, interaction: discord.Interaction, name: str, args: Mapping[str, str | int | None]) -> None:
        try:
            if self.config.guild_ids and interaction.guild_id not in self.config.guild_ids:
                reply = Reply(text="chatbridge is not enabled in this server.", ok=False, error_code="forbidden")
                await self._respond(interaction, reply, deferred=False)
                return
            task = self._running.spawn(self._execute(interaction, name, args))
            deferred = True  # defer_after 0: always defer
            budget = self.config.defer_after - interaction_age(interaction)
            if budget > 0:
                done, _ = await asyncio.wait({task}, timeout=budget)
                deferred = task not in done
            if deferred:
                await interaction.response.defer(ephemeral=True, thinking=True)
            await self._respond(interaction, await task, deferred=deferred)
        except discord.HTTPException as err:
            log.error("could not answer %s: HTTP %s %s", _context(interaction, name), err.status, err.text)
        except Exception:
            log.exception("command handling failed for %s", _context(interaction, name))
            await self._apologise(interaction)

    async def _execute(
        self, interaction: discord.Interaction, name: str, args: Mapping[str, str | int | None]
    ) -> Reply:
        clean = {k: formatting.sanitize_text(v) if isinstance(v, str) else v for k, v in args.items()}
        try:
            return await self.chat.commands.execute_args(invocation(interaction, self.config), name, clean)
        except Exception:
            log.exception("core command failed for %s args=%r", _context(interaction, name), dict(args))
            return Reply(text=APOLOGY, ok=False, error_code="internal")

    async def _respond(self, interaction: discord.Interaction, reply: Reply, *, deferred: bool) -> None:
        text, _ = to_discord(reply.text if reply.ok else f"⚠️ {reply.text}")
        parts = split(text)
        public = not reply.ephemeral
        followup = interaction.followup
        if not deferred:
            await interaction.response.send_message(parts[0], ephemeral=not public, allowed_mentions=NO_PINGS)
            rest = parts[1:]
        elif not public:
            rest = parts  # the first ephemeral followup replaces the "thinking…" message
        else:
            await interaction.edit_original_response(content="Done: the answer is posted in this channel.")
            rest = parts
        for part in rest:
            await followup.send(part, ephemeral=not public, allowed_mentions=NO_PINGS, wait=True)

    async def _apologise(self, interaction: discord.Interaction) -> None:
        try:
            if interaction.response.is_done():
                await interaction.followup.send(APOLOGY, ephemeral=True)
            else:
                await interaction.response.send_message(APOLOGY, ephemeral=True)
        except Exception as err:  # the interaction may have expired; the log above has the details
            log.warning("could not apologise for interaction %s: %s", interaction.id, err)


def interaction_age(interaction: discord.Interaction) -> float:
    """Seconds since Discord created the interaction (its snowflake's timestamp): the 3 s for the
    initial response run from then, not from when the handler started (the gateway, the event loop
    and discord.py's parsing have already used some of them)."""
    return max(0.0, (discord.utils.utcnow() - interaction.created_at).total_seconds())
