"""``chatbridge seed``: the guide's sample world (its data loader's users, channels and messages),
written through the core so it is indexed and mirrored. Unlike the guide's loader it erases
nothing: people and channels that exist are left as they are."""

from __future__ import annotations

from bridge.core.chat import Chat
from bridge.errors import Conflict

USERS = (
    ("wasim", "Wasim", "Akram", "Lahore", "Pakistan"),
    ("simon", "Simon", "Prickett", "Nottingham", "England"),
    ("antirez", "Salvatore", "Sanfilippo", "Catania", "Italy"),
    ("yaz", "Yaz", "Khan", "London", "England"),
    ("woz", "Steve", "Wozniak", "Los Gatos", "USA"),
    ("ada", "Ada", "Lovelace", "Ravenshead", "England"),
)
CHANNELS = ("general", "cricket", "random", "tech", "dance", "cycling")
MESSAGES = (
    ("wasim", "cricket", "Did you see the test match this weekend?"),
    ("ada", "tech", "Has anyone tried the new analytical engine?"),
    ("wasim", "tech", "Me too,"),
    ("woz", "random", "Warm and sunny here in California today, what's it like where you are?"),
    ("yaz", "cricket", "What a finish, that last over was something else."),
    ("simon", "cricket", "Fantastic catch to win the game too."),
)


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
