"""Every ``/chat`` command through the real slack-bolt adapter and the real core, in both modes."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from slack_kit import SlackBridge

from bridge.core.ports import Invocation, PlatformUser, Reply


async def test_help_and_unknown(bridge: SlackBridge) -> None:
    text = await bridge.answer("bob", "general", "")
    assert text.startswith("*chatbridge commands*")
    assert "`search &lt;query…&gt;`" in text
    assert "search" in await bridge.answer("bob", "general", "help search")
    assert "Unknown command `fly`" in await bridge.answer("bob", "general", "fly away")
    assert "Unknown command `nope`" in await bridge.answer("bob", "general", "help nope")
    run = await bridge.command("bob", "general", "help")
    assert run.responses[0]["response_type"] == "ephemeral"
    # the ack came first and empty; the answer went through response_url
    assert run.ack in (None, {}) and run.ack_status == 200


async def test_register_profile(bridge: SlackBridge) -> None:
    text = await bridge.answer("bob", "general", 'register bobby Bob Builder "New York" USA')
    assert "Welcome, *bobby*" in text
    assert await bridge.chat.find_username("slack", bridge.team, "U0BOB00001") == "bobby"
    prof = await bridge.answer("bob", "general", "profile")
    assert "bobby" in prof and "New York" in prof
    assert "not a valid username" in await bridge.answer("carol", "general", "register B@d!")
    assert "bobby" in await bridge.answer("carol", "general", "register bobby")  # taken
    assert "There is no user" in await bridge.answer("carol", "general", "profile ghost-user")
    set_reply = await bridge.answer("bob", "general", "profile-set city Boston")
    assert "Updated `city`" in set_reply and "Boston" in set_reply
    assert "must be one of" in await bridge.answer("bob", "general", "profile-set shoe 42")
    assert "missing" in await bridge.answer("bob", "general", "profile-set")
    # a Slack mention in the command (should_escape) is the person's core name
    prof = await bridge.answer("carol", "general", "profile <@U0BOB00001|bob>")
    assert "bobby" in prof


async def test_channels_create_link_unlink(bridge: SlackBridge) -> None:
    assert "No channels yet" in await bridge.answer("bob", "general", "channels")
    assert "Created #cricket" in await bridge.answer("bob", "general", "create cricket")
    assert "already exists" in await bridge.answer("bob", "general", "create cricket")
    assert "not a valid channel name" in await bridge.answer("bob", "general", "create Bad!Name")
    # link needs an admin: bob is not one, alice is the workspace owner
    assert "for admins" in await bridge.answer("bob", "cricket", "link cricket")
    assert await bridge.chat.channel_for(bridge.ref("cricket")) is None
    text = await bridge.answer("alice", "cricket", "link cricket")
    assert "Linked slack:T0EMULATOR:C0CRICKET1" in text
    assert await bridge.chat.channel_for(bridge.ref("cricket")) == "cricket"
    assert "There is no channel `#nope`" in await bridge.answer("alice", "general", "link nope")
    assert "Already linked" in await bridge.answer("alice", "cricket", "link cricket")
    listing = await bridge.answer("bob", "general", "channels")
    assert "#cricket" in listing and "slack:T0EMULATOR:C0CRICKET1" in listing
    assert "for admins" in await bridge.answer("bob", "cricket", "unlink")
    assert "Unlinked" in await bridge.answer("alice", "cricket", "unlink")
    assert "not linked" in await bridge.answer("alice", "cricket", "unlink")


async def test_configured_admin_list(bridge: SlackBridge, emulator_factory: object) -> None:
    from slack_kit import running_bridge

    emu = bridge.emu
    await bridge.adapter.stop()
    async with running_bridge(bridge.chat, emu, bridge.mode, admin_users=("U0CAROL001",)) as admin_bridge:
        await admin_bridge.chat.channels.create("random")
        assert "Linked" in await admin_bridge.answer("carol", "random", "link random")
        assert "for admins" in await admin_bridge.answer("bob", "random", "unlink")


async def test_post_history_search(bridge: SlackBridge) -> None:
    await bridge.answer("bob", "general", "register bob")
    await bridge.answer("bob", "general", "create cricket")
    assert "Posted to #cricket" in await bridge.answer("bob", "general", "post cricket what a match today")
    assert "There is no channel" in await bridge.answer("bob", "general", "post tennis hello")
    assert "missing" in await bridge.answer("bob", "general", "post cricket")
    hist = await bridge.answer("bob", "general", "history cricket 5")
    assert "what a match today" in hist
    assert "Which channel?" in await bridge.answer("bob", "general", "history")
    assert "whole number" in await bridge.answer("bob", "general", "history cricket lots") or "Too many" in (
        await bridge.answer("bob", "general", "history cricket lots")
    )
    assert "between 1 and 200" in await bridge.answer("bob", "general", "history cricket 500")
    found = await bridge.answer("bob", "general", "search match in:cricket")
    assert "1 result" in found and "what a match today" in found
    assert "No messages match" in await bridge.answer("bob", "general", "search zebra")
    assert "Unbalanced" in await bridge.answer("bob", "general", 'search "open quote')


async def test_history_in_linked_room_defaults_to_it(bridge: SlackBridge) -> None:
    await bridge.link("cricket", "cricket")
    await bridge.answer("bob", "cricket", "register bob")
    await bridge.answer("bob", "cricket", "post cricket first ball")
    assert "first ball" in await bridge.answer("bob", "cricket", "history")


async def test_unread_join_leave_active_mentions_recent_top(bridge: SlackBridge) -> None:
    await bridge.answer("bob", "general", "register bob")
    await bridge.answer("carol", "general", "register carol")
    await bridge.answer("bob", "general", "create cricket")
    assert "You joined #cricket" in await bridge.answer("carol", "general", "join cricket")
    assert "already in #cricket" in await bridge.answer("carol", "general", "join cricket")
    await bridge.answer("bob", "general", "post cricket hello @carol, great shot")
    unread = await bridge.answer("carol", "general", "unread cricket")
    assert "great shot" in unread
    assert "all caught up" in await bridge.answer("carol", "general", "unread cricket")
    assert "caught up" in await bridge.answer("carol", "general", "unread")
    mentions = await bridge.answer("carol", "general", "mentions")
    assert "great shot" in mentions
    assert "bob" in await bridge.answer("carol", "general", "active")
    assert "great shot" in await bridge.answer("carol", "general", "recent 10")
    assert "There is no channel" in await bridge.answer("carol", "general", "recent 10 nowhere")
    top = await bridge.answer("carol", "general", "top")
    assert "1. bob — 1" in top
    assert "You left #cricket" in await bridge.answer("carol", "general", "leave cricket")
    assert "were not in #cricket" in await bridge.answer("carol", "general", "leave cricket")
    assert "There is no channel" in await bridge.answer("carol", "general", "join tennis")


async def test_users_search(bridge: SlackBridge) -> None:
    await bridge.answer("bob", "general", "register bob Bob Marley Kingston Jamaica")
    found = await bridge.answer("carol", "general", "users country:Jamaica")
    assert "*1 found*" in found and "bob" in found
    assert "Nobody matches" in await bridge.answer("carol", "general", "users country:Peru")


async def test_notify(bridge: SlackBridge) -> None:
    await bridge.answer("bob", "general", "register bob")
    await bridge.answer("bob", "general", "create cricket")
    assert "You will get a DM" in await bridge.answer("bob", "general", "notify add cricket")
    assert "Already notifying" in await bridge.answer("bob", "general", "notify add cricket")
    assert "#cricket" in await bridge.answer("bob", "general", "notify list")
    assert "must be one of" in await bridge.answer("bob", "general", "notify shout cricket")
    assert "No more DMs" in await bridge.answer("bob", "general", "notify remove cricket")
    assert "no notifications" in await bridge.answer("bob", "general", "notify list")


async def test_link_account_across_platforms(bridge: SlackBridge) -> None:
    await bridge.answer("bob", "general", "register bob")
    text = await bridge.answer("bob", "general", "link-account")
    code = text.split("`")[1]
    discord_user = PlatformUser("discord", "G1", "42", "Bob on Discord")
    reply = await bridge.chat.commands.execute(Invocation("discord", user=discord_user), f"link-account {code}")
    assert reply.ok, reply.text
    assert await bridge.chat.find_username("discord", "G1", "42") == "bob"
    assert not (await bridge.chat.commands.execute(Invocation("discord", user=discord_user), "link-account 000")).ok
    # redeeming a bad code from Slack is an error shown to the user
    assert "code" in (await bridge.answer("carol", "general", "link-account NOPE123")).lower()


async def test_edit_delete_commands(bridge: SlackBridge) -> None:
    await bridge.answer("bob", "general", "register bob")
    await bridge.answer("bob", "general", "create cricket")
    posted = await bridge.command("bob", "general", "post cricket typo hree")
    mid = posted.responses[0]["text"].split("`")[1]
    assert f"Edited `{mid}`" in await bridge.answer("bob", "general", f"edit {mid} typo here")
    assert "Only its author or an admin" in await bridge.answer("carol", "general", f"delete {mid}")
    assert f"Deleted `{mid}`" in await bridge.answer("bob", "general", f"delete {mid}")
    # a workspace admin may remove someone else's message
    other = await bridge.command("bob", "general", "post cricket spam")
    other_id = other.responses[0]["text"].split("`")[1]
    assert f"Deleted `{other_id}`" in await bridge.answer("alice", "general", f"delete {other_id}")


async def test_hostile_command_text_is_escaped_in_answers(bridge: SlackBridge) -> None:
    # Slack sends the typed text escaped; what the core echoes back can never become a control sequence
    text = await bridge.answer("bob", "general", "fly&lt;!channel&gt; &amp; <!here> <@U0ALICE001>")
    assert "Unknown command" in text
    assert "<!" not in text and "<@" not in text
    text = await bridge.answer("bob", "general", "help <!everyone>")
    assert "<!everyone>" not in text and "<!" not in text
    text = await bridge.answer("bob", "general", "post *nowhere* <!channel>")
    assert "<!" not in text
    # 40,000 characters, zero-width and bidi tricks: clear errors, nothing written
    await bridge.answer("bob", "general", "create cricket")
    assert "too long" in await bridge.answer("bob", "general", "post cricket " + "x" * 40_000)
    assert "not a valid username" in await bridge.answer("bob", "general", "register ad\u200bmin")
    assert await bridge.chat.messages.history("cricket", 10) == []
    assert not await bridge.chat.users.exists("admin")
    # a bidi override is removed before the core sees the line
    assert "Welcome, *evil*" in await bridge.answer("bob", "general", "register \u202eevil")


async def test_in_channel_reply_and_long_answer(bridge: SlackBridge) -> None:
    run = bridge.emu.slash_command(user="bob", channel="general", text="help")
    await bridge.emu.wait_for(lambda: run.acked)
    await bridge.adapter.drain()
    from slack_bolt.context.respond.async_respond import AsyncRespond

    respond = AsyncRespond(response_url=run.response_url)
    await bridge.adapter.commands.answer(respond, Reply("for the **room**", ephemeral=False))
    await bridge.adapter.commands.answer(respond, Reply("x " * 30_000))
    await bridge.emu.wait_for(lambda: len(run.responses) == 5)
    assert run.responses[1] == {"text": "for the *room*", "response_type": "in_channel", "replace_original": False}
    assert bridge.emu.history("general")[-1].text == "for the *room*"
    assert [len(r["text"]) <= 4000 for r in run.responses[2:]] == [True, True, True]


async def test_crashing_command_is_answered_and_logged(bridge: SlackBridge, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(inv: Invocation, line: str) -> Reply:
        raise RuntimeError("boom")

    bridge.adapter.commands._chat = SimpleNamespace(
        commands=SimpleNamespace(execute=broken),
        **{  # type: ignore[assignment]
            name: getattr(bridge.chat, name) for name in ("find_username", "channel_for", "resolve_user")
        },
    )
    with caplog.at_level(logging.ERROR, logger="bridge.adapters.slack"):
        text = await bridge.answer("bob", "general", "channels")
    assert text.startswith("Sorry, something went wrong on our side (ref `")
    ref = text.split("`")[1]
    [record] = [r for r in caplog.records if ref in r.getMessage()]
    assert "user=U0BOB00001" in record.getMessage() and "text='channels'" in record.getMessage()
    assert record.exc_info is not None
    # the app keeps working
    bridge.adapter.commands._chat = bridge.chat
    assert "No channels yet" in await bridge.answer("bob", "general", "channels")
