"""The adapter under Discord's 429s (bridge/adapters/discord/webhook_limits.py): discord.py's webhook
adapter would sleep any retry_after up to 5 times inside the call; the bridge raises long waits,
global limits and Cloudflare bans to the worker at once, and resumes a split message after the wait."""

from __future__ import annotations

import re
import time

import pytest
from discord_kit import HOOK_POST, limit_the_nth_post

from bridge.adapters.discord import DiscordAdapter
from bridge.core.ports import ChannelRef, OutboundMessage
from bridge.emulators.discord import DiscordEmulator
from bridge.errors import DeliveryError


def ref(emu: DiscordEmulator, channel: str = "general") -> ChannelRef:
    return ChannelRef("discord", emu.guild_id, emu.channel(channel).id)


def out(text: str, core_id: str = "1-0") -> OutboundMessage:
    return OutboundMessage(core_id, "cricket", text, "Wasim (Slack)")


def posts(emu: DiscordEmulator, since: int = 0) -> list[tuple[str, int]]:
    return [(r.path, r.status) for r in emu.requests[since:] if r.method == "POST" and re.fullmatch(HOOK_POST, r.path)]


async def test_a_long_webhook_429_is_raised_at_once_not_slept(
    adapter: DiscordAdapter, emulator: DiscordEmulator
) -> None:
    await adapter.destination.send(ref(emulator), out("warm up"))
    emulator.rate_limit("POST", HOOK_POST, retry_after=45.0, times=5)
    since = len(emulator.requests)
    started = time.monotonic()
    with pytest.raises(DeliveryError) as info:
        await adapter.destination.send(ref(emulator), out("held", "2-0"))
    assert time.monotonic() - started < 2.0  # discord.py alone: 45 s x 5 inside the call
    assert info.value.retry_after == pytest.approx(45.0) and not info.value.permanent
    assert [status for _, status in posts(emulator, since)] == [429]  # asked once, never retried inside
    assert adapter.webhooks.gate.counts["route"] == 1


async def test_a_short_429_is_still_waited_out_inside_the_call(
    adapter: DiscordAdapter, emulator: DiscordEmulator
) -> None:
    await adapter.destination.send(ref(emulator), out("warm up"))
    emulator.rate_limit("POST", HOOK_POST, retry_after=0.2, times=1)
    since = len(emulator.requests)
    await adapter.destination.send(ref(emulator), out("after a short wait", "2-0"))
    assert [status for _, status in posts(emulator, since)] == [429, 200]


async def test_a_global_429_holds_every_webhook_without_asking(
    adapter: DiscordAdapter, emulator: DiscordEmulator
) -> None:
    for channel in ("general", "random"):
        await adapter.destination.send(ref(emulator, channel), out(f"warm up {channel}"))
    emulator.rate_limit("POST", HOOK_POST, retry_after=30.0, times=1, is_global=True)
    with pytest.raises(DeliveryError) as first:
        await adapter.destination.send(ref(emulator), out("global", "2-0"))
    since = len(emulator.requests)
    with pytest.raises(DeliveryError) as other:  # another room's webhook: held here, not asked
        await adapter.destination.send(ref(emulator, "random"), out("other room", "3-0"))
    assert first.value.retry_after == pytest.approx(30.0)
    assert other.value.retry_after is not None and 28 < other.value.retry_after <= 30
    assert posts(emulator, since) == []
    assert adapter.webhooks.gate.counts == {"route": 0, "global": 1, "cloudflare": 0, "held": 1}


async def test_a_cloudflare_ban_is_probed_at_a_growing_interval(
    adapter: DiscordAdapter, emulator: DiscordEmulator
) -> None:
    gate = adapter.webhooks.gate
    gate.ban_first_s, gate.max_wait_s = 0.3, 0.1  # the real first interval (5 s) is past the 2 s cap too
    for channel in ("general", "random"):  # both webhooks known: a ban met on a bot route counts too
        await adapter.destination.send(ref(emulator, channel), out(f"warm up {channel}"))
    emulator.limits.ban(60.0)
    waits = []
    for n in range(2):
        with pytest.raises(DeliveryError) as info:
            await adapter.destination.send(ref(emulator), out("banned", f"2-{n}"))
        assert info.value.retry_after is not None
        waits.append(info.value.retry_after)
        since = len(emulator.requests)
        with pytest.raises(DeliveryError):  # within the interval: no request at all
            await adapter.destination.send(ref(emulator, "random"), out("banned too", f"3-{n}"))
        assert posts(emulator, since) == []
        gate.hold_until = 0.0  # the interval is over: the next call probes
    assert waits == [pytest.approx(0.3), pytest.approx(0.6)]  # doubling while the ban lasts
    emulator.limits.banned_until = 0.0
    gate.hold_until = 0.0
    await adapter.destination.send(ref(emulator), out("after the ban", "4-0"))
    assert gate.ban_s == 0.0  # a success ends it
    assert emulator.messages("general")[-1]["content"] == "after the ban"


async def test_a_split_message_rate_limited_half_way_resumes_without_duplicates(
    adapter: DiscordAdapter, emulator: DiscordEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several parts; the 2nd is refused with a long 429: the 1st stays (deleting would spend more of the
    limit), and the retry posts only the 2nd and 3rd."""
    limit_the_nth_post(emulator, monkeypatch, 2, retry_after=10.0, times=1)
    text = " ".join(f"w{i:04d}" for i in range(1000))  # 5,000 characters: several parts
    with pytest.raises(DeliveryError) as info:
        await adapter.destination.send(ref(emulator), out(text))
    assert info.value.retry_after == pytest.approx(10.0)
    [first] = [m["id"] for m in emulator.messages("general")]
    ids = await adapter.destination.send(ref(emulator), out(text))
    stored = emulator.messages("general")
    assert [m["id"] for m in stored] == ids and ids[0] == first and len(ids) > 2
    assert " ".join(m["content"] for m in stored).split() == text.split()
    assert not [r for r in emulator.requests if r.method == "DELETE"]


async def test_an_edit_that_grows_rate_limited_half_way_keeps_its_new_parts_and_the_retry_posts_the_rest(
    adapter: DiscordAdapter, emulator: DiscordEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-part message edited to several parts; the 2nd new part is refused with a long 429: the
    part posted before it stays (as a split post's do), and the retry posts only what is missing."""
    [first] = await adapter.destination.send(ref(emulator), out("short"))
    limit_the_nth_post(emulator, monkeypatch, 2, retry_after=10.0, times=1)
    text = " ".join(f"w{i:04d}" for i in range(1000))  # 5,000 characters: several parts
    with pytest.raises(DeliveryError) as info:
        await adapter.destination.edit(ref(emulator), [first], out(text))
    assert info.value.retry_after == pytest.approx(10.0)
    assert len(emulator.messages("general")) == 2  # the edited first part and the new second one
    since = len(emulator.requests)
    ids = await adapter.destination.edit(ref(emulator), [first], out(text))
    stored = emulator.messages("general")
    assert [m["id"] for m in stored] == ids and ids[0] == first and len(ids) > 2
    assert " ".join(m["content"] for m in stored).split() == text.split()
    assert [status for _, status in posts(emulator, since)] == [200] * (len(ids) - 2)  # only the missing parts
    assert not [r for r in emulator.requests if r.method == "DELETE"]


async def test_a_newer_edit_after_a_rate_limited_growing_edit_reuses_the_parts_it_posted(
    adapter: DiscordAdapter, emulator: DiscordEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry is another text (the original was edited again meanwhile): the kept part is edited
    to it or removed, never left behind or posted twice."""
    [first] = await adapter.destination.send(ref(emulator), out("short"))
    limit_the_nth_post(emulator, monkeypatch, 2, retry_after=10.0, times=1)
    with pytest.raises(DeliveryError):
        await adapter.destination.edit(ref(emulator), [first], out(" ".join(f"w{i:04d}" for i in range(1000))))
    longer = " ".join(f"x{i:04d}" for i in range(1000))
    ids = await adapter.destination.edit(ref(emulator), [first], out(longer))
    stored = emulator.messages("general")
    assert [m["id"] for m in stored] == ids and len(ids) > 2
    assert " ".join(m["content"] for m in stored).split() == longer.split()
    ids = await adapter.destination.edit(ref(emulator), ids, out("short again"))
    assert [m["content"] for m in emulator.messages("general")] == ["short again"] and ids == [first]


async def test_a_delete_after_a_rate_limited_growing_edit_removes_the_parts_it_posted(
    adapter: DiscordAdapter, emulator: DiscordEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    [first] = await adapter.destination.send(ref(emulator), out("short"))
    limit_the_nth_post(emulator, monkeypatch, 2, retry_after=10.0, times=1)
    with pytest.raises(DeliveryError):
        await adapter.destination.edit(ref(emulator), [first], out(" ".join(f"w{i:04d}" for i in range(1000))))
    assert len(emulator.messages("general")) == 2
    await adapter.destination.delete(ref(emulator), [first])  # the message was deleted meanwhile
    assert emulator.messages("general") == []
