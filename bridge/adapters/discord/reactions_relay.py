"""Reactions on Discord: raw reaction events in (→ ``Chat.react``), the bot's reactions out.

In: ``on_raw_reaction_add`` / ``_remove`` (discord.py's raw events work for messages not in its
cache; they need the GUILD_MESSAGE_REACTIONS intent). The bot's own reactions (the mirror of
someone else's) are not recorded. ``_clear`` / ``_clear_emoji`` (a moderator removing every
reaction) are recorded as each cleared person removing theirs, for the people the core knows.
Each event takes the channel's inbound lock, so it is recorded after the message it is about.

Out: ``PUT``/``DELETE …/reactions/{emoji}/@me`` as the bot, paced to one call per
``reaction_interval_s`` per channel (Discord: about one reaction per 0.25 s per channel, above it
429). A custom emoji from Slack is used when a guild emoji (or an application emoji) of that name
exists; otherwise Discord has no such emoji and the caller is told (``False``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import discord

from bridge import metrics
from bridge.core.ports import ChannelRef, PlatformUser, ReactionEvent
from bridge.formatting.emoji import DiscordCustom, from_discord_reaction, to_discord_reaction

from .member_names import platform_user
from .outbound import UNKNOWN_MESSAGE, to_delivery_error
from .webhook_limits import Throttled

if TYPE_CHECKING:
    from bridge.core.chat import Chat

    from .inbound import Inbound

log = logging.getLogger(__name__)
UNKNOWN_EMOJI = 10014


class DiscordReactions:
    def __init__(self, *, client: discord.Client, chat: Chat, inbound: Inbound, interval_s: float = 0.25) -> None:
        self.client = client
        self.chat = chat
        self.inbound = inbound
        self.interval_s = interval_s
        self._pace: dict[str, tuple[asyncio.Lock, list[float]]] = {}

    # -- in ------------------------------------------------------------------------------------------
    async def on_raw(self, payload: discord.RawReactionActionEvent, kind: str) -> None:
        room = self.inbound._room_of(payload.channel_id)
        what = f"reaction {kind} on {payload.message_id}"
        await self.inbound._held(room, lambda p: self._record(p, kind), payload, what)

    async def _record(self, payload: discord.RawReactionActionEvent, kind: str) -> None:
        me = self.client.user
        if not self.inbound.guild_allowed(payload.guild_id) or (me is not None and payload.user_id == me.id):
            return  # the bot's own reaction is the mirror of someone else's
        metrics.inbound_event("discord", "reaction")
        emoji = from_discord_reaction(payload.emoji.name, str(payload.emoji.id) if payload.emoji.id else None)
        if emoji is None:
            metrics.inbound_dropped(
                "discord", "unknown_emoji", "reaction on %s: an emoji Discord no longer names", payload.message_id
            )
            return
        assert payload.guild_id is not None
        # a thread is part of its parent channel's room (messages in it are recorded under the parent)
        room = await self.inbound.threads.parent_of(payload.channel_id) or payload.channel_id
        ref = ChannelRef("discord", str(payload.guild_id), str(room))
        if room != payload.channel_id:
            await self.inbound.threads.remember(ref, str(payload.message_id), payload.channel_id)
        user = await self._user(str(payload.guild_id), payload.user_id, payload.member)
        event = ReactionEvent(
            kind="add" if kind == "add" else "remove",
            channel=ref,
            message_id=str(payload.message_id),
            emoji=emoji,
            user=user,
            at=time.time(),
        )
        result = await self.chat.react(event)
        self.inbound._note(result)

    async def _user(self, guild_id: str, user_id: int, member: discord.Member | None) -> PlatformUser:
        """The reacting person (the add event carries the member; a remove only the id)."""
        if member is not None:
            return platform_user(guild_id, member)
        found = await self.inbound.members.user(guild_id, str(user_id))  # no member cache without the intents
        if found is not None:
            return found
        username = await self.chat.find_username("discord", guild_id, str(user_id))
        return PlatformUser("discord", guild_id, str(user_id), username or str(user_id))

    async def on_clear(self, channel_id: int, guild_id: int | None, message_id: int, emoji: str | None) -> None:
        """A moderator removed every reaction (or every one of ``emoji``): those people's reactions
        are removed in the core too (the copies then lose the bot's mirror of them)."""
        if guild_id is None or not self.inbound.guild_allowed(guild_id):
            return
        room = await self.inbound.threads.parent_of(channel_id) or channel_id
        ref = ChannelRef("discord", str(guild_id), str(room))
        core_id = await self.chat.reactions.core_id_of(ref, str(message_id))
        if core_id is None:
            log.debug("reactions cleared on %s in %s: a message the bridge does not know", message_id, ref.key())
            return
        for reactor in await self.chat.reactions.standing(core_id):
            if reactor.channel != ref.key() or (emoji is not None and reactor.emoji != emoji):
                continue
            user = PlatformUser("discord", str(guild_id), reactor.user_id, reactor.username)
            event = ReactionEvent("remove", ref, str(message_id), reactor.emoji, user, time.time())
            self.inbound._note(await self.chat.react(event))

    # -- out -----------------------------------------------------------------------------------------
    def _custom(self, guild_id: str) -> dict[str, DiscordCustom]:
        found: dict[str, DiscordCustom] = {}
        guild = self.client.get_guild(int(guild_id)) if guild_id.isdigit() else None
        for e in [*self.client.emojis, *(guild.emojis if guild else ())]:
            found[e.name] = DiscordCustom(e.name, str(e.id), e.animated)
        return found

    async def react(self, channel: ChannelRef, message_id: str, emoji: str, *, add: bool) -> bool:
        route = to_discord_reaction(emoji, self._custom(channel.workspace))
        if route is None:
            return False
        lock, last = self._pace.setdefault(channel.channel_id, (asyncio.Lock(), [0.0]))
        async with lock:
            wait = last[0] + self.interval_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # Discord's reaction rate limit per channel
            try:
                if add:
                    await self.client.http.add_reaction(channel.channel_id, message_id, route)
                else:
                    await self.client.http.remove_own_reaction(channel.channel_id, message_id, route)
            except discord.HTTPException as err:
                if err.code == UNKNOWN_EMOJI:
                    return False
                if err.code == UNKNOWN_MESSAGE:
                    return True  # the copy is gone: nothing left to react on
                raise to_delivery_error(err, f"reaction {emoji} on {message_id}") from err
            except (TimeoutError, OSError, discord.RateLimited, Throttled) as err:
                raise to_delivery_error(err, f"reaction {emoji} on {message_id}") from err
            finally:
                last[0] = time.monotonic()
        return True
