"""Every command of chatbridge: the guide's use cases and its stretch goals."""

from __future__ import annotations

from bridge.core.backfill_jobs import MAX_BACKFILL
from bridge.core.commands import handlers as h
from bridge.core.commands.registry import ArgSpec, CommandSpec

CH = ArgSpec("channel", "channel", True, "a chatbridge channel")
CH_OPT = ArgSpec("channel", "channel", False, "a chatbridge channel (default: the one linked here)")


def builtin_commands() -> list[CommandSpec]:
    return [
        CommandSpec(
            "help",
            "List commands, or explain one.",
            (ArgSpec("command", "word", False, "a command"),),
            h.help_,
        ),
        CommandSpec(
            "register",
            "Create your account (keeps what you already said here).",
            (
                ArgSpec("username", "user", True, "2–32 of a-z 0-9 . _ -"),
                ArgSpec("firstname", "word", False, "first name"),
                ArgSpec("lastname", "word", False, "last name"),
                ArgSpec("city", "word", False, "city (quote names with spaces)"),
                ArgSpec("country", "word", False, "country"),
            ),
            h.register,
            examples=(
                "register wasim Wasim Akram Lahore Pakistan",
                'register ada Ada Lovelace "Ravenshead" England',
            ),
        ),
        CommandSpec(
            "profile",
            "Show a profile (yours by default).",
            (ArgSpec("user", "user", False, "a username"),),
            h.profile,
        ),
        CommandSpec(
            "profile-set",
            "Set a profile field: firstname, lastname, city, country, hobbies (a,b,c), location (lat,lon).",
            (
                ArgSpec(
                    "field",
                    "word",
                    True,
                    "the field",
                    ("firstname", "lastname", "city", "country", "hobbies", "location"),
                ),
                ArgSpec("value", "text", True, "the new value"),
            ),
            h.profile_set,
            examples=("profile-set hobbies chess, cycling", "profile-set location 51.5074,-0.1278"),
        ),
        CommandSpec("channels", "List channels with their links.", (), h.channels),
        CommandSpec("create", "Create a channel.", (CH,), h.create),
        CommandSpec(
            "link",
            "Mirror this platform channel into a chatbridge channel (admins); --backfill N imports its last N.",
            (
                CH,
                ArgSpec("target", "word", False, "platform:workspace:channel (CLI; default: here)"),
                ArgSpec(
                    "backfill",
                    "int",
                    False,
                    f"import the channel's last N messages into history and search (1–{MAX_BACKFILL:,}; not mirrored)",
                    min=1,
                    max=MAX_BACKFILL,
                    flag=True,
                ),
            ),
            h.link,
            admin=True,
            examples=("link general --backfill 500", "link general slack:T1:C1 --backfill 1000"),
        ),
        CommandSpec(
            "unlink",
            "Stop mirroring this platform channel (admins).",
            (ArgSpec("target", "word", False, "platform:workspace:channel (CLI; default: here)"),),
            h.unlink,
            admin=True,
        ),
        CommandSpec("post", "Post a message to a channel.", (CH, ArgSpec("text", "text", True, "the message")), h.post),
        CommandSpec(
            "history",
            "Show the last N messages of a channel.",
            (CH_OPT, ArgSpec("count", "int", False, "how many (1–200, default 20)", min=1, max=200)),
            h.history,
        ),
        CommandSpec(
            "unread",
            "What you missed in a channel since your last visit (then marks it seen); no channel: a summary.",
            (CH_OPT, ArgSpec("count", "int", False, "at most (1–200, default 50)", min=1, max=200)),
            h.unread,
        ),
        CommandSpec(
            "notify",
            "Get a DM when a channel gets a message: add / remove / list.",
            (ArgSpec("action", "word", True, "add, remove or list", ("add", "remove", "list")), CH_OPT),
            h.notify,
        ),
        CommandSpec(
            "search",
            'Search messages: words, "a phrase", in:channel, from:user, has:file/image, before:/after:, page:N.',
            (ArgSpec("query", "text", True, "what to look for"),),
            h.search,
            examples=(
                "search match",
                "search from:simon in:cricket",
                "search sunny after:7d",
                "search has:image in:cricket",
                "search thread:1631566566616-0 scores",
            ),
        ),
        CommandSpec(
            "users",
            "Find people: words (name), city:, country:, hobby:, near:lat,lon,km.",
            (ArgSpec("query", "text", False, "filters"),),
            h.users,
            examples=("users city:Lahore", "users country:England", "users near:51.5,-0.12,50"),
        ),
        CommandSpec("join", "Join a channel (shown as “x joined”).", (CH_OPT,), h.join),
        CommandSpec("leave", "Leave a channel (shown as “x left”).", (CH_OPT,), h.leave),
        CommandSpec(
            "active",
            "Recently active people.",
            (ArgSpec("minutes", "int", False, "window (default 60)", min=1, max=525600), CH_OPT),
            h.active,
        ),
        CommandSpec(
            "mentions",
            "Messages that mention you.",
            (ArgSpec("count", "int", False, "how many", min=1, max=100),),
            h.mentions,
        ),
        CommandSpec(
            "recent",
            "Messages of the last N minutes across channels (all, or those named).",
            (
                ArgSpec("minutes", "int", False, "window (default 5)", min=1, max=10080),
                ArgSpec("channels", "text", False, "channel names separated by spaces"),
            ),
            h.recent,
        ),
        CommandSpec(
            "top",
            "Top posters (RediSearch FT.AGGREGATE).",
            (
                ArgSpec("count", "int", False, "how many (default 10)", min=1, max=100),
                ArgSpec("channel", "channel", False, ""),
            ),
            h.top,
        ),
        CommandSpec(
            "link-account",
            "One account on Discord and Slack: run it with no code here, then with the code there.",
            (ArgSpec("code", "word", False, "the code shown on the other platform"),),
            h.link_account,
        ),
        CommandSpec(
            "edit",
            "Edit one of your messages.",
            (ArgSpec("id", "word", True, "message id"), ArgSpec("text", "text", True, "")),
            h.edit,
        ),
        CommandSpec(
            "thread",
            "Show a thread: its first message and the replies (any message id of the thread).",
            (
                ArgSpec("id", "word", True, "message id"),
                ArgSpec("count", "int", False, "replies to show (1–200, default 50)", min=1, max=200),
            ),
            h.thread,
            examples=("thread 1631566566616-0",),
        ),
        CommandSpec("delete", "Delete one of your messages.", (ArgSpec("id", "word", True, "message id"),), h.delete),
        CommandSpec(
            "reactions",
            "Who reacted to a message with what, on each platform.",
            (ArgSpec("id", "word", True, "message id"),),
            h.reactions,
            examples=("reactions 1631566566616-0",),
        ),
    ]
