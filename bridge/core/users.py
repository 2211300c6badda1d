"""Accounts, profiles, platform identities and account linking (the guide's user use cases)."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import unicodedata

from bridge.core import validation
from bridge.core.context import CoreContext
from bridge.core.models import Profile
from bridge.core.ports import PlatformUser
from bridge.errors import Conflict, InvalidInput, NotFound, StoreError
from bridge.store import keys
from bridge.store.scripts import run
from bridge.store.search import index_hash

_NOT_NAME = re.compile(r"[^a-z0-9._-]+")


class Users:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx

    async def exists(self, name: str) -> bool:
        return bool(await self.ctx.redis.sismember(keys.USERNAMES, name))

    async def require(self, name: str) -> str:
        clean = validation.username(name)
        if not await self.exists(clean):
            raise NotFound(f"There is no user `{clean}`.")
        return clean

    async def register(self, name: str, fields: dict[str, str]) -> Profile:
        """The guide's flow: SISMEMBER usernames, HSET user:<name>, SADD usernames (one script)."""
        clean = validation.username(name)
        values = {f: validation.profile_field(f, v) for f, v in fields.items() if v}
        flat = [x for pair in values.items() for x in pair]
        created = await run(self.ctx.scripts.register, clean, self.ctx.index_flag, *flat)
        if not int(created):
            raise Conflict(f"The username `{clean}` is taken.")
        return await self.profile(clean)

    async def profile(self, name: str) -> Profile:
        clean = validation.username(name)
        data: dict[str, str] = await self.ctx.redis.hgetall(keys.user(clean))
        if not data:
            raise NotFound(f"There is no user `{clean}`.")
        return Profile.from_hash(clean, data)

    async def set_fields(self, name: str, updates: dict[str, str]) -> Profile:
        """Set profile fields (firstname, lastname, city, country, hobbies, location) and re-index."""
        clean = await self.require(name)
        values: dict[str, str] = {}
        for field, raw in updates.items():
            if field == "hobbies":
                values[field] = validation.hobbies(raw)
            elif field == "location":
                lat, lon = validation.location(raw)
                values[field] = f"{lon:.6f},{lat:.6f}"
            elif field in validation.PROFILE_FIELDS:
                values[field] = validation.profile_field(field, raw)
            else:
                raise InvalidInput(f"Unknown profile field `{field}`.")
        key = keys.user(clean)
        async with self.ctx.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=values)
            if self.ctx.module.explicit:
                pipe.execute_command("FT.ADDHASH", keys.IDX_USERS, key, "1.0", "REPLACE")
            await pipe.execute()
        return await self.profile(clean)

    # --- platform identities -----------------------------------------------------------------------
    async def find(self, platform: str, workspace: str, user_id: str) -> str | None:
        value: str | None = await self.ctx.redis.get(keys.identity(platform, workspace, user_id))
        return value

    async def resolve(self, user: PlatformUser) -> str:
        """The core username of a platform user, creating a stable auto user on first sight."""
        ident = keys.identity(user.platform, user.workspace, user.user_id)
        found: str | None = await self.ctx.redis.get(ident)
        if found:
            await self._remember_profile(found, user)
            return found
        name = await run(
            self.ctx.scripts.identity,
            ident,
            f"{user.platform}:{user.workspace}",
            user.user_id,
            _clean_display(user.display_name) or user.user_id,
            self.ctx.index_flag,
            *candidate_names(user),
        )
        if not name:
            raise Conflict("Could not allocate a username for this account.")
        await self._remember_profile(str(name), user)
        return str(name)

    async def _remember_profile(self, name: str, user: PlatformUser) -> None:
        mapping = {"display_name": user.display_name[:80], "platform": user.platform}
        if user.avatar_url:
            mapping["avatar_url"] = user.avatar_url
        await self.ctx.redis.hset(keys.profile_extra(name), mapping=mapping)

    async def display(self, name: str) -> tuple[str, str | None]:
        """Display name and avatar URL to show for a core user on other platforms."""
        extra: dict[str, str] = await self.ctx.redis.hgetall(keys.profile_extra(name))
        if extra.get("display_name"):
            return extra["display_name"], extra.get("avatar_url")
        return name, extra.get("avatar_url")

    async def platform_id(self, name: str, platform: str, workspace: str) -> str | None:
        value: str | None = await self.ctx.redis.hget(keys.identities_of(name), f"{platform}:{workspace}")
        return value

    async def identities(self, name: str) -> dict[str, str]:
        data: dict[str, str] = await self.ctx.redis.hgetall(keys.identities_of(name))
        return data

    async def claim(self, user: PlatformUser, name: str, fields: dict[str, str]) -> Profile:
        """``register`` run from a platform: an auto user is renamed (history moves with it);
        an unknown platform user registers and is linked."""
        clean = validation.username(name)
        current = await self.find(user.platform, user.workspace, user.user_id)
        if current is None:
            profile = await self.register(clean, fields)
            await self._link_identity(clean, user)
            return profile
        prof = await self.profile(current)
        if not prof.auto:
            raise Conflict(f"This account is already registered as `{current}`.")
        if current == clean:
            return await self.set_fields(clean, fields) if fields else prof
        values = {f: validation.profile_field(f, v) for f, v in fields.items() if v}
        flat = [x for pair in values.items() for x in pair]
        result = await run(self.ctx.scripts.move_user, current, clean, "rename", self.ctx.index_flag, *flat)
        _check_moved(result)
        if result[0] == "taken":
            raise Conflict(f"The username `{clean}` is taken.")
        if not self.ctx.module.explicit:
            await index_hash(self.ctx.redis, self.ctx.module, keys.IDX_USERS, keys.user(clean))
        return await self.profile(clean)

    async def _link_identity(self, name: str, user: PlatformUser) -> None:
        async with self.ctx.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.identity(user.platform, user.workspace, user.user_id), name)
            pipe.hset(keys.identities_of(name), f"{user.platform}:{user.workspace}", user.user_id)
            await pipe.execute()

    async def start_link(self, name: str, user: PlatformUser | None) -> str:
        """Create a one-time code that links another platform account to ``name``."""
        code = "-".join(secrets.token_hex(2).upper() for _ in range(3))
        payload = json.dumps({"username": name, "platform": user.platform if user else "cli"})
        await self.ctx.redis.set(keys.link_code(code), payload, ex=self.ctx.settings.link_code_ttl_s)
        return code

    async def finish_link(self, code: str, user: PlatformUser) -> str:
        """Redeem a code on another platform: this identity now is the code's user; an auto user it
        had is merged into it (its messages move too)."""
        raw: str | None = await self.ctx.redis.getdel(keys.link_code(code.strip().upper()))
        if raw is None:
            raise NotFound("That code is unknown or has expired; ask for a new one with `link-account`.")
        target = str(json.loads(raw)["username"])
        if not await self.exists(target):
            raise NotFound(
                f"The account that asked for this code (`{target}`) has been renamed or removed since; "
                "ask for a new code with `link-account`."
            )
        current = await self.find(user.platform, user.workspace, user.user_id)
        if current == target:
            return target
        if current is not None:
            prof = await self.profile(current)
            if not prof.auto:
                raise Conflict(
                    f"This account is registered as `{current}`; only an account without a registered name "
                    "can be linked to another."
                )
            result = await run(self.ctx.scripts.move_user, current, target, "merge", self.ctx.index_flag)
            _check_moved(result)
            if result[0] != "ok":
                raise NotFound(f"Could not link: there is no user `{result[1]}` any more.")
        await self._link_identity(target, user)
        return target


def _check_moved(result: list[str]) -> None:
    """move_user.lua finds a user's messages with ``@username:{name}`` in ``idx:messages``; an index
    that is missing (1.x), still being built (2.x) or that fails the search refuses the move, unchanged."""
    if result[0] == "no_index":
        raise StoreError(
            f"The search index {result[1]} is missing; `chatbridge reindex` rebuilds it. Nothing was changed."
        )
    if result[0] == "indexing":
        raise StoreError(
            f"The search index {result[1]} is still being built; try again in a minute. Nothing was changed."
        )
    if result[0] == "search_error":
        raise StoreError(
            f"Could not find the messages to move: idx:messages answered {result[1]!r} to @username:{{...}}. "
            "Nothing was changed."
        )


def _clean_display(text: str) -> str:
    return " ".join("".join(ch for ch in text if unicodedata.category(ch)[0] != "C").split())[:60]


def candidate_names(user: PlatformUser) -> list[str]:
    """Preferred usernames for an unregistered platform user: their display name made safe, then the
    same with a suffix derived from the platform id (stable), then a hash of the identity."""
    base = unicodedata.normalize("NFKD", user.display_name).encode("ascii", "ignore").decode().lower()
    base = _NOT_NAME.sub("-", base.replace(" ", "-")).strip("-._")[:24]
    if len(base) < 2:
        base = "user"
    digest = hashlib.sha256(f"{user.platform}:{user.workspace}:{user.user_id}".encode()).hexdigest()
    tag = user.platform[0]
    suffix = "".join(ch for ch in user.user_id.lower() if ch.isalnum())[-4:] or digest[:4]
    names = [base, f"{base}-{tag}{suffix}", f"{base}-{digest[:8]}", f"{tag}-{digest[:16]}"]
    return [n for n in dict.fromkeys(names) if validation.USERNAME_RE.fullmatch(n)]
