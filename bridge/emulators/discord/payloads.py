"""JSON builders shaped after discord.py 2.7.1's ``discord/types/*.py`` TypedDicts.

discord.py's parsers index required keys directly (a missing key kills the client), so every
builder here sets every non-``NotRequired`` key of the matching TypedDict.
"""

from __future__ import annotations

from typing import Any

from . import permissions
from .channel_types import THREAD_ONLY
from .intents import INTENT_GUILD_PRESENCES
from .state import Channel, Interaction, Member, Ping, Role, User, Webhook, World, iso_now
from .threads import FORUM_FIELDS, active_threads, is_thread, thread_payload


def user(u: User) -> dict[str, Any]:
    """``types/user.py: User``."""
    return {
        "id": u.id,
        "username": u.username,
        "discriminator": "0",
        "global_name": u.global_name,
        "avatar": u.avatar,
        "bot": u.bot,
        "public_flags": 0,
        # required by discord-api-spec UserResponse (discord.py reads neither)
        "flags": 0,
        "primary_guild": None,
    }


def me(world: World) -> dict[str, Any]:
    """``GET /users/@me``: ``types/user.py: User`` plus the ClientUser extras."""
    return {**user(world.bot), "verified": True, "mfa_enabled": False, "flags": 0, "locale": "en-US"}


def app_info(world: World) -> dict[str, Any]:
    """``GET /oauth2/applications/@me``: ``types/appinfo.py: AppInfo``."""
    owner = next(u for u in world.users.values() if not u.bot)
    return {
        "id": world.application_id,
        "name": world.bot.username,
        "description": "chatbridge (emulated)",
        "icon": None,
        "bot_public": False,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "owner": user(owner),
        # GATEWAY_MESSAGE_CONTENT_LIMITED: the portal's Message Content toggle for a bot in < 100 guilds
        "flags": (1 << 19) if world.config.message_content_enabled else 0,
        "rpc_origins": [],
        # the rest of discord-api-spec PrivateApplicationResponse's required fields
        "type": None,
        "flags_new": str((1 << 19) if world.config.message_content_enabled else 0),
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "explicit_content_filter": 0,
        "team": None,
        "eligible_oauth2_scopes": ["bot", "applications.commands"],
    }


def role(r: Role) -> dict[str, Any]:
    """``types/role.py: Role``."""
    return {
        "id": r.id,
        "name": r.name,
        "color": 0,
        "hoist": False,
        "position": r.position,
        "permissions": str(r.permissions),
        "managed": False,
        "mentionable": True,
        "flags": 0,
    }


def member(world: World, m: Member, *, with_user: bool = True) -> dict[str, Any]:
    """``types/member.py: Member`` (``MemberWithUser`` when ``with_user``)."""
    out: dict[str, Any] = {
        "roles": list(m.roles),
        "joined_at": m.joined_at,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "nick": m.nick,
        "pending": False,
    }
    if with_user:
        out["user"] = user(world.users[m.user_id])
    return out


def channel(world: World, c: Channel) -> dict[str, Any]:
    """``types/channel.py: TextChannel``, ``DMChannel``, ``ForumChannel`` or ``types/threads.py: Thread``."""
    if is_thread(c):
        return thread_payload(world, c)
    if c.type == 1:
        return {
            "id": c.id,
            "type": 1,
            "last_message_id": next(reversed(c.messages), None),
            "recipients": [user(world.users[r]) for r in c.recipient_ids],
        }
    return {
        "id": c.id,
        "type": c.type,
        "guild_id": c.guild_id,
        "name": c.name,
        "position": c.position,
        "permission_overwrites": [o.payload() for o in c.overwrites.values()],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": next(reversed(c.messages), None),
        "rate_limit_per_user": 0,
        **(FORUM_FIELDS if c.type in THREAD_ONLY else {}),
    }


def guild_create(world: World, intents: int = INTENT_GUILD_PRESENCES) -> dict[str, Any]:
    """``GUILD_CREATE``: ``types/guild.py: Guild`` plus the gateway-only keys. events/gateway-events.mdx
    (Guild Create): "If your bot does not have the GUILD_PRESENCES Gateway Intent, or if the guild has
    over 75k members, members and presences returned in this event will only contain your bot and
    users in voice channels" (the emulator has no voice channels: the bot alone)."""
    listed = world.members.values() if intents & INTENT_GUILD_PRESENCES else [world.members[world.bot.id]]
    bot = world.bot.id
    return {
        "id": world.guild_id,
        "name": world.guild_name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": world.owner_id,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "roles": [role(r) for r in world.roles.values()],
        "emojis": list(world.emojis),
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": world.config.premium_tier,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "joined_at": iso_now(),
        "large": False,
        "member_count": len(world.members),
        "unavailable": False,
        "members": [member(world, m) for m in listed],
        "channels": [channel(world, c) for c in world.guild_channels()],
        # topics/gateway-events.mdx, Guild Create: "All active threads in the guild that current
        # user has permission to view"
        "threads": [thread_payload(world, c) for c in active_threads(world) if permissions.views(world, bot, c)],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def message(
    world: World,
    c: Channel,
    *,
    message_id: str,
    author: dict[str, Any],
    content: str,
    ping: Ping,
    webhook: Webhook | None = None,
    reference: dict[str, Any] | None = None,
    flags: int = 0,
    msg_type: int = 0,
    application_id: str | None = None,
) -> dict[str, Any]:
    """``types/message.py: Message`` as stored and as sent in ``MESSAGE_CREATE``."""
    out: dict[str, Any] = {
        "id": message_id,
        "channel_id": c.id,
        "author": author,
        "content": content,
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": ping.everyone,
        "mentions": [user(world.users[u]) for u in ping.users],
        "mention_roles": list(ping.roles),
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": msg_type,
        "flags": flags,
        "components": [],
    }
    if c.guild_id is not None:
        out["guild_id"] = c.guild_id
        author_member = world.members.get(author["id"])
        if webhook is None and author_member is not None:
            out["member"] = member(world, author_member, with_user=False)
    if webhook is not None:
        out["webhook_id"] = webhook.id
    if application_id is not None:
        out["application_id"] = application_id
    if reference is not None:
        out["message_reference"] = reference
        ref = world.find_message(reference["message_id"])
        out["referenced_message"] = ref[1] if ref is not None else None
    return out


def webhook(world: World, w: Webhook, *, with_token: bool = True) -> dict[str, Any]:
    """``types/webhook.py: Webhook`` (type 1, incoming)."""
    out: dict[str, Any] = {
        "id": w.id,
        "type": 1,
        "guild_id": w.guild_id,
        "channel_id": w.channel_id,
        "name": w.name,
        "avatar": None,
        "application_id": w.application_id,
        "user": user(world.users[w.creator_id]),
    }
    if with_token:
        out["token"] = w.token
    return out


def webhook_author(w: Webhook, username: str | None) -> dict[str, Any]:
    """The ``author`` Discord shows for a webhook post: the webhook id, the overriding name.

    The ``avatar_url`` a post overrides is kept in ``World.avatar_urls`` (Discord returns a hash).
    """
    return {
        "id": w.id,
        "username": username or w.name,
        "discriminator": "0000",
        "global_name": None,
        "avatar": None,
        "bot": True,
        "public_flags": 0,
        "flags": 0,
        "primary_guild": None,
    }


def interaction(
    world: World,
    *,
    interaction_id: str,
    token: str,
    kind: int,
    data: dict[str, Any],
    user_id: str,
    channel: Channel,
) -> dict[str, Any]:
    """``types/interactions.py: ApplicationCommandInteraction`` / ``AutocompleteInteraction``."""
    out: dict[str, Any] = {
        "id": interaction_id,
        "application_id": world.application_id,
        "type": kind,
        "token": token,
        "version": 1,
        "data": data,
        "channel_id": channel.id,
        "channel": channel_payload_for_interaction(world, channel),
        "locale": "en-US",
        "attachment_size_limit": 10 * 1024 * 1024,
        "entitlements": [],
        "authorizing_integration_owners": {"0": world.guild_id},
        "app_permissions": str(world.permissions_of(world.bot.id)),
    }
    if channel.guild_id is not None:
        m = world.members[user_id]
        out["guild_id"] = channel.guild_id
        out["guild_locale"] = "en-US"
        out["context"] = 0
        out["member"] = {**member(world, m), "permissions": str(world.permissions_of(user_id))}
    else:
        out["context"] = 1
        out["user"] = user(world.users[user_id])
    return out


def channel_payload_for_interaction(world: World, c: Channel) -> dict[str, Any]:
    base = channel(world, c)
    if c.guild_id is not None:
        base["permissions"] = str(world.permissions_of(world.bot.id))
    return base


def callback_response(inter: Interaction, kind: int, message: dict[str, Any] | None) -> dict[str, Any]:
    """``types/interactions.py: InteractionCallback`` (the ``with_response=1`` answer)."""
    response: dict[str, Any] = {"id": inter.id, "type": inter.payload["type"]}
    resource: dict[str, Any] = {"type": kind}
    if message is not None:
        response["response_message_id"] = message["id"]
        response["response_message_loading"] = kind == 5
        response["response_message_ephemeral"] = inter.ephemeral
        resource["message"] = message
    return {"interaction": response, "resource": resource}
