"""Changing permissions on demand, as a server admin would (tests, the sandbox, the soak).

Python API (``emu.permissions``)::

    await emu.permissions.revoke("general", "MANAGE_WEBHOOKS")            # the bot's member overwrite
    await emu.permissions.revoke("general", "SEND_MESSAGES", who="@everyone")  # a role overwrite
    await emu.permissions.grant("general", "MANAGE_WEBHOOKS")              # back (an allow)
    await emu.permissions.reset("general")                                 # the bot's overwrite removed
    await emu.permissions.set_role("chatbridge", ["VIEW_CHANNEL", ...])    # a role's guild permissions
    emu.permissions.of("general")                                          # what the bot may do there

Control routes (JSON; ``channel`` an id or a name, ``who`` "bot" (default), a role's name or id
(``@everyone``, ``chatbridge``, ``Moderators``) or a person's username or id, permissions a list of
names such as ``MANAGE_WEBHOOKS`` or an integer):

- ``GET  /_emulator/permissions?channel=&who=``  → ``{permissions, names, overwrites}``
- ``POST /_emulator/permissions``  ``{channel, who?, grant?, revoke?, reset?}`` → the same
- ``PUT  /_emulator/roles/{role}`` ``{permissions}`` → the role

Each change sends the gateway event Discord sends (events/gateway-events.mdx): CHANNEL_UPDATE with
the channel's new ``permission_overwrites``, GUILD_ROLE_UPDATE with the role, so a client's cache
(discord.py's ``permissions_for``) follows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import api_errors as errors
from . import payloads
from . import permissions as perms
from .rest import reply
from .state import Channel, Role

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
        if reset:
            chan.overwrites.pop(target, None)
        perms.overwrite(chan, target, kind, grant=grant, revoke=revoke)
        await self._channel_update(chan)
        return self.of(chan.id)

    async def _channel_update(self, channel: Channel) -> None:
        self.changes += 1
        await self.emu.gateway.dispatch("CHANNEL_UPDATE", payloads.channel(self.world, channel))

    async def set_role(self, which: str, permissions: Any) -> Role:
        role = self.role(which)
        assert role is not None
        role.permissions = perms.parse(permissions)
        self.changes += 1
        event = {"guild_id": self.world.guild_id, "role": payloads.role(role)}
        await self.emu.gateway.dispatch("GUILD_ROLE_UPDATE", event)
        return role

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

    return [
        web.get("/_emulator/permissions", guarded(read)),
        web.post("/_emulator/permissions", guarded(change)),
        web.put("/_emulator/roles/{role}", guarded(put_role)),
    ]


async def _object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ValueError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body
