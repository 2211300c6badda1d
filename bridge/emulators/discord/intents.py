"""The gateway intents the emulator honours (discord-api-docs topics/gateway.mdx, "List of Intents")."""

INTENT_GUILD_MEMBERS = 1 << 1
"""Privileged: GUILD_MEMBER_ADD/UPDATE/REMOVE and THREAD_MEMBERS_UPDATE for other members."""
INTENT_GUILD_PRESENCES = 1 << 8
"""Privileged: without it GUILD_CREATE lists only the bot among ``members``."""
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_DIRECT_MESSAGE_REACTIONS = 1 << 13
INTENT_MESSAGE_CONTENT = 1 << 15
"""Privileged: without it other people's messages come with empty ``content``, embeds, attachments."""
