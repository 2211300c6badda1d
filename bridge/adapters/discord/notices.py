"""Telling a Discord sender that their message (or a file of it) did not cross.

Discord has no ephemeral message outside interactions, so the choice is both: a ⚠️ reaction on
their message (visible where it happened, to everyone: "this one did not make it") and a DM with
the reason and a jump link (only they read it). A failed reaction (no Add Reactions permission) does
not stop the DM; a closed DM (error 50007, they block DMs from server members) leaves the reaction.
"""

from __future__ import annotations

import logging

import discord

from bridge.adapters.sender_notices import NoticeGate, SenderNotices

from .endpoints import jump_url

log = logging.getLogger(__name__)
WARNING_EMOJI = "\N{WARNING SIGN}\N{VARIATION SELECTOR-16}"


def discord_notices(client: discord.Client, gate: NoticeGate | None = None) -> SenderNotices:
    async def deliver(channel_id: str, message_id: str, user_id: str, text: str) -> None:
        reacted = True
        try:
            await client.http.add_reaction(int(channel_id), int(message_id), WARNING_EMOJI)
        except (discord.HTTPException, ValueError) as err:
            reacted = False
            log.info("could not add the ⚠️ reaction to %s in %s: %s", message_id, channel_id, err)
        channel = client.get_channel(int(channel_id))
        guild = getattr(channel, "guild", None)
        link = jump_url(str(guild.id), channel_id, message_id) if guild is not None else ""
        try:
            user = client.get_user(int(user_id)) or await client.fetch_user(int(user_id))
            dm = await user.create_dm()
            await dm.send(f"{text}\n{link}".strip(), allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException:
            if not reacted:
                raise

    return SenderNotices("discord", deliver, gate)
