"""Every ``/chat`` command through the real discord.py client, the emulator and the real core."""

from __future__ import annotations

import re
from typing import Any

import discord
import pytest

from bridge.adapters.discord import DiscordAdapter, DiscordConfig
from bridge.core.chat import Chat
from bridge.core.ports import Reply
from bridge.emulators.discord import DiscordEmulator

Step = tuple[str, str, dict[str, Any]]


async def ask(emu: DiscordEmulator, user: str, command: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``/chat <command>`` as ``user`` in #general; return the message the bot answered with."""
    interaction = await emu.slash(user, "general", f"chat {command}", options or {})
    return await emu.wait_for_reply(interaction)


def is_error(reply: dict[str, Any]) -> bool:
    return str(reply["content"]).startswith("⚠️")


REGISTER_ALICE: Step = ("alice", "register", {"username": "alice", "firstname": "Alice", "city": "Lahore"})
CREATE: Step = ("alice", "create", {"channel": "cricket"})
LINK: Step = ("alice", "link", {"channel": "cricket"})
POST: Step = ("alice", "post", {"channel": "cricket", "text": "what a **match**"})

# (id, setup steps, the step under test, ok?, expected text)
CASES: list[tuple[str, list[Step], Step, bool, str]] = [
    ("help", [], ("bob", "help", {}), True, "chatbridge commands"),
    ("help-one", [], ("bob", "help", {"command": "search"}), True, "search <query…>"),
    ("help-unknown", [], ("bob", "help", {"command": "nosuch"}), False, "Unknown command `nosuch`"),
    ("register", [], REGISTER_ALICE, True, "Welcome, **alice**!"),
    ("register-invalid", [], ("bob", "register", {"username": "Bad Name!"}), False, "not a valid username"),
    ("register-taken", [REGISTER_ALICE], ("bob", "register", {"username": "alice"}), False, "is taken"),
    ("profile", [REGISTER_ALICE], ("alice", "profile", {}), True, "Lives in: Lahore"),
    ("profile-unknown", [], ("alice", "profile", {"user": "nobody"}), False, "There is no user `nobody`"),
    (
        "profile-set",
        [REGISTER_ALICE],
        ("alice", "profile-set", {"field": "hobbies", "value": "chess, cycling"}),
        True,
        "Hobbies: chess, cycling",
    ),
    (
        "profile-set-bad",
        [REGISTER_ALICE],
        ("alice", "profile-set", {"field": "location", "value": "nowhere"}),
        False,
        "is not a location",
    ),
    ("channels", [CREATE], ("bob", "channels", {}), True, "#cricket"),
    ("create", [], CREATE, True, "Created #cricket."),
    ("create-duplicate", [CREATE], CREATE, False, "already exists"),
    ("create-invalid", [], ("alice", "create", {"channel": "Bad Channel"}), False, "not a valid channel name"),
    ("link", [CREATE], LINK, True, "Messages now mirror both ways."),
    ("link-not-admin", [CREATE], ("bob", "link", {"channel": "cricket"}), False, "is for admins"),
    ("link-unknown", [], ("alice", "link", {"channel": "nochannel"}), False, "There is no channel `#nochannel`"),
    ("unlink", [CREATE, LINK], ("alice", "unlink", {}), True, "Unlinked discord:"),
    ("unlink-not-admin", [CREATE, LINK], ("bob", "unlink", {}), False, "is for admins"),
    ("post", [CREATE], POST, True, "Posted to #cricket"),
    ("post-unknown", [], ("alice", "post", {"channel": "nochannel", "text": "x"}), False, "no channel"),
    ("history", [CREATE, POST], ("bob", "history", {"channel": "cricket", "count": 5}), True, "what a **match**"),
    ("history-unknown", [], ("bob", "history", {"channel": "nochannel"}), False, "no channel"),
    ("unread", [CREATE, POST], ("bob", "unread", {"channel": "cricket"}), True, "what a **match**"),
    ("unread-unknown", [], ("bob", "unread", {"channel": "nochannel"}), False, "no channel"),
    ("notify", [CREATE], ("bob", "notify", {"action": "add", "channel": "cricket"}), True, "You will get a DM"),
    ("notify-unknown", [], ("bob", "notify", {"action": "remove", "channel": "nochannel"}), False, "no channel"),
    ("search", [CREATE, POST], ("bob", "search", {"query": "match in:cricket"}), True, "**1 result**"),
    ("search-none", [CREATE, POST], ("bob", "search", {"query": "cricketbat"}), True, "No messages match."),
    ("users", [REGISTER_ALICE], ("bob", "users", {"query": "city:Lahore"}), True, "**alice** — Alice (Lahore)"),
    ("users-bad", [], ("bob", "users", {"query": "near:abc"}), False, "`near:` takes `lat,lon,km`"),
    ("join", [CREATE], ("bob", "join", {"channel": "cricket"}), True, "cricket"),
    ("join-unknown", [], ("bob", "join", {"channel": "nochannel"}), False, "no channel"),
    (
        "leave",
        [CREATE, ("bob", "join", {"channel": "cricket"})],
        ("bob", "leave", {"channel": "cricket"}),
        True,
        "left",
    ),
    ("leave-unknown", [], ("bob", "leave", {"channel": "nochannel"}), False, "no channel"),
    ("active", [CREATE, POST], ("bob", "active", {"minutes": 10}), True, "alice"),
    ("active-unknown", [], ("bob", "active", {"channel": "nochannel"}), False, "no channel"),
    ("mentions", [], ("bob", "mentions", {"count": 5}), True, "Mentions of you"),
    ("recent", [CREATE, POST], ("bob", "recent", {"minutes": 10}), True, "what a **match**"),
    ("recent-unknown", [], ("bob", "recent", {"channels": "nochannel"}), False, "no channel"),
    ("top", [CREATE, POST], ("bob", "top", {"count": 3}), True, "1. alice-a — 1"),
    ("top-unknown", [], ("bob", "top", {"channel": "nochannel"}), False, "no channel"),
    ("link-account", [], ("bob", "link-account", {}), True, "Your code:"),
    ("link-account-wrong", [], ("bob", "link-account", {"code": "WRONG"}), False, "unknown or has expired"),
    ("edit-unknown", [], ("alice", "edit", {"id": "1-0", "text": "x"}), False, "There is no message `1-0`"),
    ("delete-unknown", [], ("alice", "delete", {"id": "1-0"}), False, "There is no message `1-0`"),
]


@pytest.mark.parametrize(("setup", "step", "ok", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_command(
    adapter: DiscordAdapter, emulator: DiscordEmulator, setup: list[Step], step: Step, ok: bool, expected: str
) -> None:
    for user, command, options in setup:
        before = await ask(emulator, user, command, options)
        assert not is_error(before), before["content"]
    reply = await ask(emulator, *step)
    assert is_error(reply) is not ok, reply["content"]
    assert expected in reply["content"]
    assert reply["flags"] & 64, "command replies are ephemeral"
    assert emulator.messages("general") == [], "nothing was posted for everyone to see"


async def test_edit_and_delete_own_message(adapter: DiscordAdapter, emulator: DiscordEmulator) -> None:
    await ask(emulator, *CREATE)
    posted = await ask(emulator, *POST)
    match = re.search(r"`(\d+-\d+)`", posted["content"])
    assert match is not None, posted["content"]
    edited = await ask(emulator, "alice", "edit", {"id": match.group(1), "text": "what a *game*"})
    assert edited["content"] == f"Edited `{match.group(1)}`."
    assert "what a *game*" in (await ask(emulator, "bob", "history", {"channel": "cricket"}))["content"]
    not_mine = await ask(emulator, "bob", "delete", {"id": match.group(1)})
    assert is_error(not_mine)
    deleted = await ask(emulator, "alice", "delete", {"id": match.group(1)})
    assert deleted["content"] == f"Deleted `{match.group(1)}`."


async def test_commands_are_synced_with_typed_options(
    adapter: DiscordAdapter, emulator: DiscordEmulator, chat: Chat
) -> None:
    [group] = emulator.world.guild_commands[emulator.guild_id]
    assert group["name"] == "chat"
    subcommands = {o["name"]: o for o in group["options"]}
    assert set(subcommands) == {s.name for s in chat.commands.specs()}
    assert all(o["type"] == 1 for o in subcommands.values())
    history = {o["name"]: o for o in subcommands["history"]["options"]}
    assert history["count"]["type"] == 4 and history["count"]["min_value"] == 1 and history["count"]["max_value"] == 200
    assert history["channel"]["autocomplete"] is True and history["channel"]["required"] is False
    notify = {o["name"]: o for o in subcommands["notify"]["options"]}
    assert [c["value"] for c in notify["action"]["choices"]] == ["add", "remove", "list"]
    assert notify["action"]["required"] is True
    assert emulator.world.global_commands == []  # allow-listed guilds get guild commands only


async def test_autocomplete_channels_and_users(adapter: DiscordAdapter, emulator: DiscordEmulator) -> None:
    for name in ("cricket", "crochet", "chess"):
        await ask(emulator, "alice", "create", {"channel": name})
    await ask(emulator, "alice", "register", {"username": "alice"})
    inter = await emulator.autocomplete("bob", "general", "chat history", {"channel": "cr"}, focused="channel")
    await emulator.wait_until(lambda: inter.callbacks)
    assert inter.callbacks[0]["type"] == 8
    assert [c["value"] for c in inter.callbacks[0]["data"]["choices"]] == ["cricket", "crochet"]
    inter = await emulator.autocomplete("bob", "general", "chat profile", {"user": "@al"}, focused="user")
    await emulator.wait_until(lambda: inter.callbacks)
    assert [c["value"] for c in inter.callbacks[0]["data"]["choices"]] == ["alice"]


async def test_admin_by_configured_role(chat: Chat, emulator: DiscordEmulator, adapter_config: DiscordConfig) -> None:
    role = emulator.world.admin_role.__class__(emulator.world.ids.next(), "Bridge Keepers", 0x400)
    emulator.world.roles[role.id] = role
    emulator.world.members[emulator.user("carol").id].roles.append(role.id)
    config = adapter_config.model_copy(update={"admin_role_ids": (int(role.id),)})
    bridge = DiscordAdapter(chat=chat, config=config)
    await bridge.start(emulator.token, ready_within=10)
    try:
        await ask(emulator, *CREATE)
        assert not is_error(await ask(emulator, "carol", "link", {"channel": "cricket"}))
        assert is_error(await ask(emulator, "bob", "unlink", {}))
    finally:
        await bridge.close()


async def test_guild_outside_the_allow_list_is_refused(
    chat: Chat, emulator: DiscordEmulator, adapter_config: DiscordConfig
) -> None:
    config = adapter_config.model_copy(update={"guild_ids": (int(emulator.guild_id), 42)})
    bridge = DiscordAdapter(chat=chat, config=config)
    await bridge.start(emulator.token, ready_within=10)
    try:
        config2 = config.model_copy(update={"guild_ids": (42,)})
        bridge.commands.config = config2
        reply = await ask(emulator, "alice", "help")
        assert reply["content"] == "⚠️ chatbridge is not enabled in this server."
    finally:
        await bridge.close()


async def test_slow_commands_are_deferred_then_followed_up(
    chat: Chat, emulator: DiscordEmulator, adapter_config: DiscordConfig
) -> None:
    bridge = DiscordAdapter(chat=chat, config=adapter_config.model_copy(update={"defer_after": 0.0}))
    await bridge.start(emulator.token, ready_within=10)
    try:
        inter = await emulator.slash("alice", "general", "chat help", {})
        reply = await emulator.wait_for_reply(inter)
        assert inter.callbacks[0] == {"type": 5, "data": {"flags": 64}}
        assert "chatbridge commands" in reply["content"] and reply["flags"] & 64
        assert emulator.messages("general") == []
    finally:
        await bridge.close()


@pytest.mark.parametrize("deferred", [False, True])
async def test_public_and_long_replies(adapter: DiscordAdapter, emulator: DiscordEmulator, deferred: bool) -> None:
    """A Reply meant for the room is posted publicly; a long one is split into several messages."""
    long_text = "\n".join(f"line {i} " + "x" * 60 for i in range(60))  # ~4000 characters

    @adapter.client.tree.command(name="probe", description="test-only")
    async def probe(interaction: discord.Interaction) -> None:
        if deferred:
            await interaction.response.defer(ephemeral=True, thinking=True)
        reply = Reply(text=f"@everyone {long_text}", ephemeral=False)
        await adapter.commands._respond(interaction, reply, deferred=deferred)

    await adapter.client.tree.sync()
    inter = await emulator.slash("alice", "general", "probe")
    await emulator.wait_until(lambda: len(emulator.messages("general")) >= 3)
    public = emulator.messages("general")
    assert all(len(m["content"]) <= 2000 and not m["flags"] & 64 for m in public)
    joined = "\n".join(m["content"] for m in public)
    assert "line 0 " in joined and "line 59 " in joined
    assert public[0]["content"].startswith("@\u200beveryone")
    assert not any(emulator.ping(m["id"]).everyone for m in public)
    if deferred:
        assert inter.original is not None and inter.original["content"].startswith("Done")


async def test_hostile_command_input(adapter: DiscordAdapter, emulator: DiscordEmulator, chat: Chat) -> None:
    bob = emulator.user("bob").id
    role = emulator.world.admin_role.id
    await ask(emulator, *CREATE)
    hostile = (
        f"@everyone @here <@{bob}> <@&{role}> [x](https://evil.test) \u202eevil\u202c zero\u200bwidth " + "z" * 4000
    )
    posted = await ask(emulator, "alice", "post", {"channel": "cricket", "text": hostile})
    assert not is_error(posted), posted["content"]
    [stored] = [m for m in await chat.messages.history("cricket", 10) if m.kind == "message"]
    assert "\u202e" not in stored.text and stored.text.startswith("@everyone @here")
    interaction = await emulator.slash("carol", "general", "chat history", {"channel": "cricket"})
    await emulator.wait_for_reply(interaction)
    parts = _answers(interaction)  # history shortens long messages: one part here
    assert all(len(p["content"]) <= 2000 and p["flags"] & 64 for p in parts)
    text = "".join(p["content"] for p in parts)
    assert "@\u200beveryone @\u200bhere" in text and f"\\<@{bob}>" in text and f"\\<@&{role}>" in text
    assert not any(emulator.ping(p["id"]).everyone or emulator.ping(p["id"]).users for p in parts)
    unknown = await ask(emulator, "carol", "history", {"channel": "#no-such-channel"})
    assert is_error(unknown)


def _answers(interaction: Any) -> list[dict[str, Any]]:
    found = [interaction.original] if interaction.original is not None else []
    return found + [m for m in interaction.followups if m is not interaction.original]


async def test_broken_interactions_never_crash_the_client(
    adapter: DiscordAdapter, emulator: DiscordEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    command = emulator._command("chat")

    async def raw(options: list[dict[str, Any]]) -> dict[str, Any]:
        data = {"id": command["id"], "name": "chat", "type": 1, "guild_id": emulator.guild_id, "options": options}
        interaction = await emulator.backend.create_interaction(
            kind=2, data=data, user_id=emulator.user("bob").id, channel=emulator.channel("general")
        )
        return await emulator.wait_for_reply(interaction)

    wrong_type = await raw([{"name": "history", "type": 1, "options": [{"name": "count", "type": 4, "value": "x"}]}])
    assert wrong_type["content"] == "⚠️ `count` must be a whole number, not `x`." and wrong_type["flags"] & 64
    unknown = await raw([{"name": "nosuch", "type": 1, "options": []}])  # an out-of-date command on Discord
    assert unknown["content"].startswith("Sorry, something went wrong") and unknown["flags"] & 64
    assert any("/chat" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)
    assert not is_error(await ask(emulator, "bob", "help"))  # the client is still running
