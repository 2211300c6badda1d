"""Changing permissions on demand, as a server admin would (tests, the sandbox, the soak).

Python API (``emu.permissions``)::

    await emu.permissions.revoke("general", "MANAGE_WEBHOOKS")            # the bot's member overwrite
    await emu.permissions.revoke("general", "SEND_MESSAGES", who="@everyone")  # a role overwrite
    await emu.permissions.grant("general", "MANAGE_WEBHOOKS")              # back (an allow)
    await emu.permissions.reset("general")                                 # the bot's overwrite removed
    await emu.permissions.set_role("chatbridge", ["VIEW_CHANNEL", ...])    # a role's guild permissions
    await emu.permissions.add_role("bot", "Moderators")                    # a member's roles
    await emu.permissions.remove_role("bot", "Moderators")
    emu.permissions.of("general")                                          # what the bot may do there

Control routes (JSON; ``channel`` an id or a name, ``who`` "bot" (default), a role's name or id
(``@everyone``, ``chatbridge``, ``Moderators``) or a person's username or id, permissions a list of
names such as ``MANAGE_WEBHOOKS`` or an integer):

- ``GET  /_emulator/permissions?channel=&who=``  → ``{permissions, names, overwrites}``
- ``POST /_emulator/permissions``  ``{channel, who?, grant?, revoke?, reset?}`` → the same
- ``PUT  /_emulator/roles/{role}`` ``{permissions}`` → the role
- ``PUT|DELETE /_emulator/members/{who}/roles/{role}`` → the member (as Add/Remove Guild Member Role)

Each change sends the gateway event Discord sends (events/gateway-events.mdx): CHANNEL_UPDATE with
the channel's new ``permission_overwrites``, GUILD_ROLE_UPDATE with the role, GUILD_MEMBER_UPDATE
with the member's new ``roles``, so a client's cache (discord.py's ``permissions_for``) follows.
GUILD_MEMBER_UPDATE needs the GUILD_MEMBERS intent, except that it "is sent for current-user
updates regardless of whether the GUILD_MEMBERS intent is set" (events/gateway.mdx "Caveats").

Losing and regaining the view of a channel (topics/threads.mdx "Channel Access"): "When an app
loses access to a channel, the Gateway does **not** send it Thread Delete event (or any equivalent
thread-specific event). Instead, the app will receive the event that caused its permissions on the
channel to change" — so a loss is only the causing event above (the channel stays in the client's
cache, no CHANNEL_DELETE), and from then on the channel's MESSAGE_* are not dispatched to the bot
(``gateway.message_shape``). "When an app gains access to a channel ... a Thread List Sync event is
sent" (its ``channel_ids`` the channels whose threads are synced, events/gateway-events.mdx "Thread
List Sync"): after the causing event, one THREAD_LIST_SYNC for every channel the change made
viewable, with their active threads. No CHANNEL_CREATE either way: bots get every channel of the
guild in GUILD_CREATE, viewable or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import api_errors as errors
from . import payloads
from . import permissions as perms
from .intents import INTENT_GUILD_MEMBERS
from .rest import reply
from .state import Channel, Member, Role

if TYPE_CHECKING:
    from .server import DiscordEmulator


class PermissionControl:
    def __init__(self, emulator: DiscordEmulator) -> None:
        self.emu = emulator
        self.world = emulator.world
        self.changes = 0
        """How many permission changes were made (the soak reports it)."""

    def _target(self, who: str) -> tuple[str, int]:
        """(id, overwrite type) of ``who``."""
        if who == "bot":
            return self.world.bot.id, perms.MEMBER
        role = self.role(who, missing_ok=True)
        if role is not None:
            return role.id, perms.ROLE
        return self.emu.user(who).id, perms.MEMBER

    def role(self, which: str, *, missing_ok: bool = False) -> Role | None:
        for role in self.world.roles.values():
            if which in (role.id, role.name):
                return role
        if missing_ok:
            return None
        raise KeyError(f"no role {which!r}")

    def of(self, channel: str, who: str = "bot") -> int:
        target = self.world.bot.id if who == "bot" else self.emu.user(who).id
        return perms.in_channel(self.world, target, self.emu.channel(channel))

    async def grant(self, channel: str, *names: str, who: str = "bot") -> int:
        return await self._change(channel, who, grant=perms.parse(list(names)))

    async def revoke(self, channel: str, *names: str, who: str = "bot") -> int:
        return await self._change(channel, who, revoke=perms.parse(list(names)))

    async def reset(self, channel: str, who: str = "bot") -> int:
        return await self._change(channel, who, reset=True)

    async def _change(self, channel: str, who: str, *, grant: int = 0, revoke: int = 0, reset: bool = False) -> int:
        chan = self.emu.channel(channel)
        if chan.guild_id is None or chan.thread is not None:
            raise ValueError("overwrites belong to guild channels (a thread has its parent's)")
        target, kind = self._target(who)
        viewable = self.viewable()
        if reset:
            chan.overwrites.pop(target, None)
        perms.overwrite(chan, target, kind, grant=grant, revoke=revoke)
        await self._channel_update(chan)
        await self._sync_gained(viewable)
        return self.of(chan.id)

    async def _channel_update(self, channel: Channel) -> None:
        self.changes += 1
        await self.emu.gateway.dispatch("CHANNEL_UPDATE", payloads.channel(self.world, channel))

    def viewable(self) -> set[str]:
        """The guild channels (not threads: they follow their parent) the bot can view now."""
        return {
            c.id
            for c in self.world.guild_channels()
            if perms.in_channel(self.world, self.world.bot.id, c) & perms.VIEW_CHANNEL
        }

    async def _sync_gained(self, before: set[str]) -> None:
        """After the event that changed permissions: THREAD_LIST_SYNC for the channels it made
        viewable (topics/threads.mdx "Gaining Access to Channels"); nothing for those it hid."""
        gained = sorted(self.viewable() - before, key=int)
        if gained:
            await self.emu.backend.threads.list_sync(gained)

    async def set_role(self, which: str, permissions: Any) -> Role:
        role = self.role(which)
        assert role is not None
        viewable = self.viewable()
        role.permissions = perms.parse(permissions)
        self.changes += 1
        event = {"guild_id": self.world.guild_id, "role": payloads.role(role)}
        await self.emu.gateway.dispatch("GUILD_ROLE_UPDATE", event)
        await self._sync_gained(viewable)
        return role

    async def add_role(self, who: str, role: str) -> Member:
        """Give ``who`` (``bot``, a username or an id) the role ``role`` (name or id)."""
        return await self._member_roles(who, role, add=True)

    async def remove_role(self, who: str, role: str) -> Member:
        return await self._member_roles(who, role, add=False)

    async def _member_roles(self, who: str, which: str, *, add: bool) -> Member:
        """Add/Remove Guild Member Role (resources/guild.mdx), then GUILD_MEMBER_UPDATE (its fields:
        ``guild_id``, ``roles``, ``user``, ``nick``, ``joined_at``, … — events/gateway-events.mdx)."""
        role = self.role(which)
        assert role is not None
        if role.id == self.world.guild_id:
            raise ValueError("everyone has @everyone: it cannot be added or removed")
        user_id = self.world.bot.id if who == "bot" else self.emu.user(who).id
        member = self.world.members.get(user_id)
        if member is None:
            raise KeyError(f"{who!r} is not a member of the guild")
        viewable = self.viewable()
        if add and role.id not in member.roles:
            member.roles.append(role.id)
        elif not add and role.id in member.roles:
            member.roles.remove(role.id)
        self.changes += 1
        event = {"guild_id": self.world.guild_id, **payloads.member(self.world, member)}
        bot_id = self.world.bot.id

        def members_intent(session: Any, data: dict[str, Any]) -> dict[str, Any] | None:
            # events/gateway.mdx "Caveats": the current user's update comes without GUILD_MEMBERS too
            return data if user_id == bot_id or session.intents & INTENT_GUILD_MEMBERS else None

        await self.emu.gateway.dispatch("GUILD_MEMBER_UPDATE", event, shape=members_intent)
        if user_id == bot_id:
            await self._sync_gained(viewable)
        return member

    def describe(self, channel: str, who: str = "bot") -> dict[str, Any]:
        """The answer of the control routes: what ``who`` may do in ``channel``; for a role (an overwrite
        of ``@everyone`` or ``Moderators``) what the bot may do there, since a role has no member."""
        member = "bot" if who != "bot" and self.role(who, missing_ok=True) is not None else who
        bits = self.of(channel, member)
        chan = self.emu.channel(channel)
        return {
            "permissions": str(bits),
            "names": perms.names(bits),
            "overwrites": [o.payload() for o in chan.overwrites.values()],
        }


GATEWAY_ONLY = (
    "joined_at",
    "large",
    "member_count",
    "members",
    "channels",
    "threads",
    "voice_states",
    "presences",
    "stage_instances",
    "guild_scheduled_events",
    "soundboard_sounds",
    "unavailable",
)
"""GUILD_CREATE keys that the REST guild object does not have (events/gateway-events.mdx, Guild Create)."""


def rest_routes(emulator: DiscordEmulator, prefix: str) -> list[web.RouteDef]:
    """``GET /guilds/{id}`` (resources/guild.mdx Get Guild: the guild with its ``roles``) and
    ``GET /guilds/{id}/roles`` (Get Guild Roles): what a client needs to compute permissions."""
    world = emulator.world

    def guild(request: web.Request) -> None:
        if request.match_info["guild_id"] != world.guild_id:
            raise errors.APIError(403, 50001, "Missing Access")

    async def get_guild(request: web.Request) -> web.Response:
        guild(request)
        full = payloads.guild_create(world)
        return reply({k: v for k, v in full.items() if k not in GATEWAY_ONLY})

    async def get_roles(request: web.Request) -> web.Response:
        guild(request)
        return reply([payloads.role(r) for r in world.roles.values()])

    return [
        web.get(f"{prefix}/guilds/{{guild_id}}", get_guild),
        web.get(f"{prefix}/guilds/{{guild_id}}/roles", get_roles),
    ]


def control_routes(emulator: DiscordEmulator) -> list[web.RouteDef]:
    control = emulator.permissions

    def guarded(handler: Any) -> Any:
        async def run(request: web.Request) -> web.Response:
            try:
                response: web.Response = await handler(request)
                return response
            except (KeyError, ValueError, TypeError) as err:
                return reply({"message": str(err).strip("'\""), "code": 0}, 400)

        return run

    async def read(request: web.Request) -> web.Response:
        channel = request.query.get("channel") or ""
        return reply(control.describe(channel, request.query.get("who") or "bot"))

    async def change(request: web.Request) -> web.Response:
        body = await _object(request)
        channel, who = str(body["channel"]), str(body.get("who") or "bot")
        grant, revoke = perms.parse(body.get("grant") or 0), perms.parse(body.get("revoke") or 0)
        await control._change(channel, who, grant=grant, revoke=revoke, reset=bool(body.get("reset")))
        return reply(control.describe(channel, who))

    async def put_role(request: web.Request) -> web.Response:
        body = await _object(request)
        role = await control.set_role(request.match_info["role"], body["permissions"])
        return reply(payloads.role(role))

    async def member_role(request: web.Request) -> web.Response:
        who, role = request.match_info["who"], request.match_info["role"]
        change = control.add_role if request.method == "PUT" else control.remove_role
        return reply(payloads.member(emulator.world, await change(who, role)))

    return [
        web.get("/_emulator/permissions", guarded(read)),
        web.post("/_emulator/permissions", guarded(change)),
        web.put("/_emulator/roles/{role}", guarded(put_role)),
        web.put("/_emulator/members/{who}/roles/{role}", guarded(member_role)),
        web.delete("/_emulator/members/{who}/roles/{role}", guarded(member_role)),
    ]


async def _object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body
