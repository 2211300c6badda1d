"""The Discord invite (OAuth2 authorize) URL for the bot: scopes and the permissions it needs.

Scopes: ``bot`` and ``applications.commands`` (the ``/chat`` group). Permissions (integer in the
URL): View Channels, Send Messages, Manage Messages (remove mirrored posts when a webhook is gone),
Embed Links, Attach Files, Read Message History, Add Reactions (mirror other people's reactions),
Manage Webhooks (post as each person), Use Application Commands, and for threads: Create Public
Threads (a Slack thread's first reply starts a Discord thread on its root's copy), Send Messages in
Threads, Manage Threads (edit mirrored messages in an archived thread: it must be unarchived first).
Intents are not part of the URL: enable the privileged **Message Content** intent in the Developer
Portal (Bot tab) or mirrored messages arrive empty; the reaction intent (GUILD_MESSAGE_REACTIONS) is
not privileged and the bot always asks for it when it connects.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from bridge.errors import ConfigError

from .config import DiscordConfig

ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_WEBHOOKS = 1 << 29
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ADMINISTRATOR = 1 << 3
THREAD_PERMISSIONS = {
    CREATE_PUBLIC_THREADS: "Create Public Threads",
    SEND_MESSAGES_IN_THREADS: "Send Messages in Threads",
    MANAGE_THREADS: "Manage Threads",
}
"""discord-api-docs topics/permissions.mdx: what mirroring threads needs, by name as Discord shows it."""
PERMISSIONS = (
    ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | MANAGE_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | MANAGE_WEBHOOKS
    | USE_APPLICATION_COMMANDS
    | MANAGE_THREADS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)


def missing_thread_permissions(granted: int) -> list[str]:
    """The thread permissions (names) a permission integer lacks (none for an administrator)."""
    if granted & ADMINISTRATOR:
        return []
    return [name for bit, name in THREAD_PERMISSIONS.items() if not granted & bit]


SCOPES = ("bot", "applications.commands")


def invite_url(cfg: Any, application_id: int | str | None = None) -> str:
    """The invite URL; ``cfg`` is the app config (its ``discord`` mapping) or a :class:`DiscordConfig`."""
    config = cfg if isinstance(cfg, DiscordConfig) else DiscordConfig.load(getattr(cfg, "discord", None) or {})
    app_id = str(application_id) if application_id else (str(config.application_id or ""))
    if not app_id.isdigit():
        raise ConfigError(
            "discord.application_id: needed for the invite URL (Developer Portal → your app → Application ID)"
        )
    query = urlencode({"client_id": app_id, "scope": " ".join(SCOPES), "permissions": str(PERMISSIONS)})
    return f"https://discord.com/oauth2/authorize?{query}"
