"""``chatbridge seed``: the guide's sample world, exactly what its data loader writes
(github redis-developer/redis-chat-challenge, ``sample_data/users.json`` and
``sample_data/messages.json``, MIT licence): the same six users with the same profiles, the
channels its messages are in, and its six messages by the same authors in the same order. They are
written through the core, so they are indexed and mirrored, and posted now (message ids come from
chatbridge's global id allocator, not the loader's 2021 ids). Unlike the loader it erases nothing:
people and channels that exist are left as they are."""

from __future__ import annotations

from bridge.core.chat import Chat
from bridge.errors import Conflict

USERS = (  # username, firstname, lastname, city, country (sample_data/users.json, in its order)
    ("wasim", "Wasim", "Akram", "Lahore", "Pakistan"),
    ("simon", "Simon", "Prickett", "Nottingham", "England"),
    ("antirez", "Salvatore", "Sanfilippo", "Palermo", "Italy"),
    ("yaz", "Yasmin", "Khan", "Karachi", "Pakistan"),
    ("woz", "Steve", "Wozniak", "Cupertino", "United States"),
    ("ada", "Ada", "Lovelace", "Ravenshead", "England"),
)
MESSAGES = (  # username, channel, message (sample_data/messages.json, in its order)
    ("wasim", "cricket", "Did you see the test match this weekend?"),
    ("ada", "tech", "Really excited for the new Redis release!"),
    ("wasim", "tech", "Me too."),
    ("woz", "random", "Warm and sunny here in California today, what's it like where you are?"),
    ("yaz", "cricket", "Yes, some incredible batting there."),
    ("simon", "cricket", "Fantastic catch to win the game too."),
)
CHANNELS = tuple(dict.fromkeys(channel for _, channel, _ in MESSAGES))
"""The loader adds each message's channel to ``channels``: cricket, tech, random."""


async def seed(chat: Chat) -> dict[str, int]:
    added = {"users": 0, "channels": 0, "messages": 0}
    for name, first, last, city, country in USERS:
        try:
            await chat.users.register(name, {"firstname": first, "lastname": last, "city": city, "country": country})
            added["users"] += 1
        except Conflict:
            pass
    for channel in CHANNELS:
        try:
            await chat.channels.create(channel)
            added["channels"] += 1
        except Conflict:
            pass
    if added["users"]:  # first seeding: post the sample conversation once
        for author, channel, text in MESSAGES:
            await chat.messages.post(channel, author, text)
            added["messages"] += 1
    return added
