"""Discord's channel types (discord-api-docs resources/channel.mdx, "Channel Types")."""

TEXT, DM, ANNOUNCEMENT, FORUM, MEDIA = 0, 1, 5, 15, 16
ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD = 10, 11, 12
"""A private thread "is only viewable by those invited and those with the MANAGE_THREADS permission"."""
THREAD_TYPES = frozenset({ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD})
THREAD_ONLY = frozenset({FORUM, MEDIA})
"""Forum and media channels: their posts are threads; they take no messages of their own."""
