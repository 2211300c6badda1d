"""What is said in a linked Slack channel while the app is out of it crosses once the app is back.

Slack sends no events for a channel the app is not in (the emulator's ``emit`` neither), so the
adapter reads the channel's history since its anchor after it joined again (``catch_up``)."""

from __future__ import annotations

import pytest
from slack_kit import SlackBridge, running_bridge

from bridge import metrics
from bridge.adapters.slack.channel_access import RoomHeld
from bridge.core.chat import Chat
from bridge.core.ports import OutboundMessage
from bridge.emulators.slack import SlackEmulator


def dropped(reason: str) -> float:
    sample = metrics.REGISTRY.get_sample_value(
        "chatbridge_inbound_dropped_total", {"platform": "slack", "reason": reason}
    )
    return sample or 0.0


async def texts(bridge: SlackBridge) -> list[str]:
    return [m.text for m in await bridge.core_messages("cricket")]


async def rejoin_by_a_discord_post(bridge: SlackBridge, text: str) -> None:
    """A Discord message going out to #cricket meets ``not_in_channel``: the app joins again."""
    message = OutboundMessage(core_id="1700000000000-0", channel="cricket", text=text, author_name="Dana (discord)")
    await bridge.adapter.destination.send(bridge.ref("cricket"), message)


async def app_removed_after_one_message(bridge: SlackBridge, slack: SlackEmulator) -> str:
    """#cricket linked and one message ("before") taken in, then someone removes the app: its channel id."""
    await bridge.link("cricket", "cricket")
    slack.user_says(user="bob", channel="cricket", text="before")
    await bridge.settled()
    channel = bridge.ref("cricket").channel_id
    slack.workspace.channels[channel].members.discard(slack.workspace.bot_user_id)
    return channel


async def test_messages_said_while_the_app_was_out_cross_once_in_order(slack: SlackEmulator, chat: Chat) -> None:
    async with running_bridge(chat, slack, "socket") as bridge:
        channel = await app_removed_after_one_message(bridge, slack)
        assert await texts(bridge) == ["before"]
        for n in range(3):
            slack.user_says(user="bob", channel="cricket", text=f"gap {n}")
        assert await texts(bridge) == ["before"]  # Slack delivered none of them
        await rejoin_by_a_discord_post(bridge, "hello from discord")
        assert bridge.adapter.destination.access.joined == [channel]
        assert await texts(bridge) == ["before", "gap 0", "gap 1", "gap 2"]
        slack.user_says(user="bob", channel="cricket", text="after")
        await bridge.settled()
        assert await texts(bridge) == ["before", "gap 0", "gap 1", "gap 2", "after"]
        catch_up = bridge.adapter.catch_up
        assert catch_up is not None and catch_up.runs[-1].messages == 3 and not catch_up.runs[-1].failed
        # the whole channel again, from the oldest anchor: everything is known, nothing doubles
        await catch_up.last_seen.note(bridge.team, channel, slack.history("cricket")[0].ts)
        await catch_up.on_rejoined(channel)
        assert catch_up.runs[-1].messages >= 5 and not catch_up.runs[-1].failed
        assert await texts(bridge) == ["before", "gap 0", "gap 1", "gap 2", "after"]
        assert [m.text for m in slack.history("cricket")].count("hello from discord") == 1


async def test_a_room_an_admin_lets_the_app_back_into_is_caught_up(slack: SlackEmulator, chat: Chat) -> None:
    async with running_bridge(chat, slack, "socket") as bridge:
        slack.config.scopes = tuple(s for s in slack.config.scopes if s != "channels:join")  # cannot rejoin
        channel = await app_removed_after_one_message(bridge, slack)
        for n in range(2):
            slack.user_says(user="bob", channel="cricket", text=f"gap {n}")
        with pytest.raises(RoomHeld):
            await rejoin_by_a_discord_post(bridge, "held")
        assert bridge.adapter.destination.access.held and await texts(bridge) == ["before"]
        slack.workspace.channels[channel].members.add(slack.workspace.bot_user_id)  # an admin invites it back
        await rejoin_by_a_discord_post(bridge, "held")  # the lane's retry
        assert not bridge.adapter.destination.access.held
        assert await texts(bridge) == ["before", "gap 0", "gap 1"]
        assert [m.text for m in slack.history("cricket")].count("held") == 1


async def test_a_history_that_cannot_be_read_is_reported(slack: SlackEmulator, chat: Chat) -> None:
    async with running_bridge(chat, slack, "socket") as bridge:
        await app_removed_after_one_message(bridge, slack)
        slack.user_says(user="bob", channel="cricket", text="lost")
        slack.config.scopes = tuple(s for s in slack.config.scopes if s != "channels:history")
        failed = dropped("catch_up_failed")
        await rejoin_by_a_discord_post(bridge, "still delivered")
        assert dropped("catch_up_failed") == failed + 1
        catch_up = bridge.adapter.catch_up
        assert catch_up is not None and catch_up.runs[-1].failed
        assert "still delivered" in [m.text for m in slack.history("cricket")]  # the delivery goes on
        assert await texts(bridge) == ["before"]
