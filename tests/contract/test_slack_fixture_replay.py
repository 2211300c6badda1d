"""Real captured Slack payloads (``slack_fixtures``, from slackapi/bolt-python's test suite) replayed
through the Slack adapter's inbound mapping: delivered over Socket Mode by the emulator to the real
slack-bolt app, recorded in a real core. Only the ids are rewritten to the emulator's workspace."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import slack_fixtures as fx

from bridge.adapters.slack import SlackAdapter, SlackConfig, SlackSecrets
from bridge.core.chat import Chat
from bridge.core.ports import ChannelRef
from bridge.emulators.slack import EmulatorConfig, SlackEmulator
from bridge.emulators.slack.payloads import event_callback

IDS = {"T111": "T0EMULATOR", "C111": "C0GENERAL1", "U111": "U0ALICE001", "W111": "U0ALICE001",
       "U222": "U0BOB00001", "UB111": "U0CAROL001"}  # fmt: skip


@dataclass
class Replay:
    chat: Chat
    emu: SlackEmulator
    adapter: SlackAdapter
    n: int = 0

    async def send(self, event: dict[str, Any]) -> None:
        """Deliver one captured event (ids rewritten) and wait until the adapter acknowledged it."""
        text = json.dumps(copy.deepcopy(event))
        for old, new in IDS.items():
            text = text.replace(f'"{old}"', f'"{new}"').replace(f"{old}-", f"{new}-")
        self.n += 1
        payload = event_callback(self.emu.workspace, json.loads(text), event_id=f"EvReplay{self.n:04d}")
        envelope = await self.emu.socket.deliver_event(payload)
        assert envelope.acked, f"the adapter did not acknowledge {event.get('subtype') or 'message'}"


@pytest.fixture
async def replay(chat: Chat) -> AsyncIterator[Replay]:
    async with SlackEmulator(config=EmulatorConfig(socket_ack_timeout=2.0, socket_max_retries=0)) as emu:
        secrets = SlackSecrets(bot_token=emu.config.bot_token, app_token=emu.config.app_token)
        adapter = SlackAdapter(chat=chat, config=SlackConfig(api_base_url=emu.api_url), secrets=secrets)
        await adapter.start()
        await emu.wait_for(lambda: emu.socket.connected, what="the adapter's socket")
        await chat.channels.create("general")
        await chat.channels.link("general", ChannelRef("slack", "T0EMULATOR", "C0GENERAL1"))
        try:
            yield Replay(chat, emu, adapter)
        finally:
            await adapter.stop()


async def test_people_apps_and_classic_bots_cross(replay: Replay) -> None:
    await replay.send(fx.USER_MESSAGE)
    await replay.send(fx.APP_MESSAGE)
    await replay.send(fx.BOT_MESSAGE)
    texts = [m.text for m in await replay.chat.messages.history("general", 10) if m.kind == "message"]
    assert texts.count("Hi there! Thanks for sharing the info!") == 3


async def test_thread_broadcast_crosses_once(replay: Replay) -> None:
    await replay.send(fx.THREAD_BROADCAST)
    await replay.send(fx.THREAD_BROADCAST)  # Slack's redelivery of the same event id is a no-op
    texts = [m.text for m in await replay.chat.messages.history("general", 10) if m.kind == "message"]
    assert texts == ["Hi there!"]


async def test_file_share_keeps_its_text_and_names_the_file(replay: Replay) -> None:
    await replay.send(fx.FILE_SHARE)
    (message,) = [m for m in await replay.chat.messages.history("general", 10) if m.kind == "message"]
    assert message.text.startswith("Hi there!")
    assert [f["name"] for f in message.files] == ["file.png"]


async def test_message_changed_without_message_ts_edits_the_previous_message(replay: Replay) -> None:
    original = {**fx.USER_MESSAGE, "text": "original message", "ts": "1665102338.901939", "user": "U222"}
    original.pop("blocks")
    await replay.send(original)
    await replay.send(fx.MESSAGE_CHANGED)
    texts = [m.text for m in await replay.chat.messages.history("general", 10) if m.kind == "message"]
    assert texts == ["updated message"]


async def test_message_deleted_removes_the_message(replay: Replay) -> None:
    original = {**fx.USER_MESSAGE, "text": "Delete this message", "ts": "1665368619.804829", "user": "U111"}
    original.pop("blocks")
    await replay.send(original)
    assert [m.text for m in await replay.chat.messages.history("general", 10) if m.kind == "message"]
    await replay.send(fx.MESSAGE_DELETED)
    assert not [m for m in await replay.chat.messages.history("general", 10) if m.kind == "message"]
