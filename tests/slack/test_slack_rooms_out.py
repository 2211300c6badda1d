"""Room traffic out: SlackDestination (the worker's API) against the emulator."""

from __future__ import annotations

import asyncio

import pytest
from slack_kit import SlackBridge, web_client

from bridge.adapters.slack.outbound import SlackDestination
from bridge.adapters.slack.pacing import Pacer
from bridge.core.ports import ChannelRef, OutboundMessage, PlatformUser
from bridge.emulators.slack import Injected, RateLimit, SlackEmulator
from bridge.errors import DeliveryError

CRICKET = ChannelRef("slack", "T0EMULATOR", "C0CRICKET1")


def message(text: str, **kw: object) -> OutboundMessage:
    values: dict[str, object] = {
        "core_id": "1700000000000-0",
        "channel": "cricket",
        "text": text,
        "author_name": "Dana (discord)",
        "avatar_url": "https://cdn.example.invalid/dana.png",
    }
    values.update(kw)
    return OutboundMessage(**values)  # type: ignore[arg-type]


@pytest.fixture
def dest(slack: SlackEmulator) -> SlackDestination:
    return SlackDestination(client=web_client(slack), max_chars=4000)


async def test_send_as_person_thread_edit_delete(slack: SlackEmulator, dest: SlackDestination) -> None:
    [root] = await dest.send(CRICKET, message("hello **there**"))
    post = slack.requests_for("chat.postMessage")[0]
    assert post.json["username"] == "Dana (discord)"
    assert post.json["icon_url"] == "https://cdn.example.invalid/dana.png"
    assert post.json["text"] == "hello *there*"
    assert "link_names" not in post.json
    stored = slack.find_message("C0CRICKET1", root)
    assert stored is not None and stored.username == "Dana (discord)" and stored.subtype == "bot_message"
    [reply] = await dest.send(CRICKET, message("in thread", core_id="2-0", reply_to=[root]))
    assert slack.requests_for("chat.postMessage")[1].json["thread_ts"] == root
    assert await dest.edit(CRICKET, [reply], message("edited _reply_", core_id="2-0")) == [reply]
    assert slack.find_message("C0CRICKET1", reply).text == "edited _reply_"  # type: ignore[union-attr]
    await dest.delete(CRICKET, [reply])
    await dest.delete(CRICKET, [reply])  # already gone: no error
    assert [m.ts for m in slack.history("cricket")] == [root]


async def test_mentions_only_from_the_map(slack: SlackEmulator, dest: SlackDestination) -> None:
    text = "hi @bob and @carol, @everyone @here @channel <!channel> <!here> <!everyone> <@U0ALICE001> <#C0GENERAL1>"
    await dest.send(CRICKET, message(text, mentions={"bob": "U0BOB00001", "carol": "not-an-id"}))
    sent = slack.requests_for("chat.postMessage")[0].json["text"]
    assert sent.startswith("hi <@U0BOB00001> and @carol, ")
    assert "<!" not in sent and "<@U0ALICE001>" not in sent and "<#" not in sent
    assert sent.count("<@") == 1
    assert "@\u200beveryone @\u200bhere @\u200bchannel" in sent
    assert "&lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;@U0ALICE001&gt; &lt;#C0GENERAL1&gt;" in sent


async def test_entities_zero_width_and_rtl_out(slack: SlackEmulator, dest: SlackDestination) -> None:
    text = "a & b < c > d &amp; \u202eevil\u202c مرحبا \U0001f468\u200d\U0001f469 zero\u200bwidth"
    await dest.send(CRICKET, message(text))
    sent = slack.requests_for("chat.postMessage")[0].json["text"]
    assert sent == "a &amp; b &lt; c &gt; d &amp;amp; evil مرحبا \U0001f468\u200d\U0001f469 zero\u200bwidth"


async def test_long_text_split_and_edit_resplit(slack: SlackEmulator, dest: SlackDestination) -> None:
    # 11 posts into one channel: at Slack's 1/s that is 10 s, so both clocks run 20x faster here
    slack.limiter.speed = 20
    dest.pacer = Pacer(speed=20)
    words = " ".join(f"w{i:05d}" for i in range(6000))  # 41,999 characters
    ids = await dest.send(CRICKET, message(words))
    texts = [slack.find_message("C0CRICKET1", ts).text for ts in ids]  # type: ignore[union-attr]
    assert len(ids) == 11 and all(len(t) <= 4000 for t in texts)
    assert " ".join(texts) == words
    assert not slack.throttled
    # edited down to one part: the first is updated, the others deleted
    assert await dest.edit(CRICKET, ids, message("short now")) == ids[:1]
    assert [m.text for m in slack.history("cricket")] == ["short now"]
    # and up again: new parts are posted
    grown = await dest.edit(CRICKET, ids[:1], message("y " * 5000))
    assert grown[0] == ids[0] and len(grown) == 3


async def test_rate_limit_is_a_delivery_error_with_retry_after(slack: SlackEmulator, dest: SlackDestination) -> None:
    # one call per 2 s: "second" is refused even if a slow machine takes a second to get there
    slack.limiter.set_limit("chat.postMessage", RateLimit(limit=1, window=2.0, retry_after=2))
    await dest.send(CRICKET, message("first"))
    with pytest.raises(DeliveryError) as info:
        await dest.send(CRICKET, message("second", core_id="2-0"))
    assert info.value.retry_after == 2.0 and not info.value.permanent
    # another channel is not slowed down by this one
    await dest.send(ChannelRef("slack", "T0EMULATOR", "C0RANDOM01"), message("elsewhere", core_id="3-0"))
    await asyncio.sleep(info.value.retry_after)  # the worker honours Retry-After, then retries
    await dest.send(CRICKET, message("second", core_id="2-0"))
    assert [m.text for m in slack.history("cricket")] == ["first", "second"]


async def test_split_message_resumes_after_429(slack: SlackEmulator, dest: SlackDestination) -> None:
    text = " ".join(f"w{i:05d}" for i in range(1100))  # two parts
    slack.limiter.set_limit("chat.postMessage", RateLimit(limit=1, window=60.0, retry_after=1))
    with pytest.raises(DeliveryError):
        await dest.send(CRICKET, message(text))
    assert len(slack.history("cricket")) == 1  # the first part went out, the second was rate limited
    slack.limiter.set_limit("chat.postMessage", None)
    ids = await dest.send(CRICKET, message(text))
    assert len(ids) == 2
    assert len(slack.history("cricket")) == 2  # the first part was not posted twice


@pytest.mark.parametrize(
    ("channel", "injected", "permanent"),
    [
        ("C0CRICKET1", "msg_too_long", True),  # channel_not_found / not_in_channel: test_slack_channel_access
        ("C0CRICKET1", "is_archived", True),
        ("C0CRICKET1", "internal_error", False),
        ("C0CRICKET1", "fatal_error", False),
    ],
)
async def test_errors_map_to_permanent_or_transient(
    slack: SlackEmulator, dest: SlackDestination, channel: str, injected: str | None, permanent: bool
) -> None:
    if injected:
        slack.limiter.inject("chat.postMessage", Injected(error=injected, count=1))
    with pytest.raises(DeliveryError) as info:
        await dest.send(ChannelRef("slack", "T0EMULATOR", channel), message("x"))
    assert info.value.permanent is permanent and info.value.retry_after is None
    assert (injected or "") in str(info.value)


async def test_server_unreachable_is_transient(slack: SlackEmulator) -> None:
    await slack.stop()
    dest = SlackDestination(client=web_client(slack), max_chars=4000)
    with pytest.raises(DeliveryError) as info:
        await dest.send(CRICKET, message("x"))
    assert not info.value.permanent


async def test_direct_message(slack: SlackEmulator, dest: SlackDestination) -> None:
    bob = PlatformUser("slack", "T0EMULATOR", "U0BOB00001", "bob")
    await dest.direct_message(bob, "New in #cricket from dana: <!here> **six!**")
    await dest.direct_message(bob, "again")
    assert [m.text for m in slack.dms_to("bob")] == ["New in #cricket from dana: &lt;!here&gt; *six!*", "again"]
    assert len(slack.requests_for("conversations.open")) == 2
    with pytest.raises(DeliveryError) as info:
        await dest.direct_message(PlatformUser("slack", "T0EMULATOR", "U0GHOST001", "ghost"), "hi")
    assert info.value.permanent


async def test_rate_limited_lookup_is_waited_out_in_a_command(bridge: SlackBridge) -> None:
    """users.info answers 429 once: the command still answers (from what the directory knows), and
    no second users.info goes out before the Retry-After has passed."""
    bridge.emu.limiter.inject("users.info", Injected(error="ratelimited", count=1, status=429, retry_after=1))
    text = await bridge.answer("bob", "general", "channels")
    assert "No channels yet" in text
    assert bridge.emu.throttled == [("users.info", 429)]
    assert len(bridge.emu.requests_for("users.info")) == 1


async def test_a_growing_edit_that_fails_half_way_leaves_no_extra_part(
    slack: SlackEmulator, dest: SlackDestination
) -> None:
    """1 part grows into 3: part 2 is posted, part 3 is rate limited; part 2 is removed again so the
    worker's retry neither duplicates it nor leaves it untracked."""
    [first] = await dest.send(CRICKET, message("short"))
    slack.limiter.set_limit("chat.postMessage", RateLimit(limit=1, window=60.0, retry_after=1))
    with pytest.raises(DeliveryError):
        await dest.edit(CRICKET, [first], message(" ".join(f"w{i:05d}" for i in range(1500))))
    assert [m.ts for m in slack.history("cricket")] == [first]
