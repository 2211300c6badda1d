"""The Discord invite URL with exactly the scopes and permissions the bridge uses."""

from __future__ import annotations

from urllib.parse import urlencode

from bridge.config import Config
from bridge.errors import ConfigError

PERMISSIONS = {
    "View Channels": 1 << 10,
    "Send Messages": 1 << 11,
    "Embed Links": 1 << 14,
    "Attach Files": 1 << 15,
    "Read Message History": 1 << 16,
    "Manage Webhooks": 1 << 29,
    "Send Messages in Threads": 1 << 38,
}
SCOPES = ("bot", "applications.commands")


def invite_url(cfg: Config, application_id: str | None = None) -> str:
    app_id = application_id or cfg.discord.get("application_id")
    if not app_id or not str(app_id).isdigit():
        raise ConfigError(
            "give --application-id (Developer Portal → your app → Application ID) or set discord.application_id"
        )
    query = urlencode({"client_id": str(app_id), "scope": " ".join(SCOPES), "permissions": sum(PERMISSIONS.values())})
    lines = [
        f"https://discord.com/oauth2/authorize?{query}",
        "",
        "Permissions: " + ", ".join(PERMISSIONS),
        "Also enable the privileged MESSAGE CONTENT intent (Developer Portal → Bot) so messages can be mirrored.",
    ]
    return "\n".join(lines)
