"""Run the Slack emulator on its own: ``python -m bridge.emulators.slack [--port 8302] [--http URL]``.

Prints what to give the bridge (``slack.api_base_url`` and the tokens); drive it over
``/_emulator/...`` (see :mod:`bridge.emulators.slack.control`). With ``--http URL`` events and slash
commands are POSTed, signed, to that request URL instead of going over Socket Mode.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from bridge.emulators.slack.config import EmulatorConfig
from bridge.emulators.slack.server import SlackEmulator


async def serve(config: EmulatorConfig) -> None:
    async with SlackEmulator(config=config) as emulator:
        print(f"slack.api_base_url: {emulator.api_url}")
        print(f"SLACK_BOT_TOKEN={config.bot_token}")
        if config.delivery == "socket":
            print(f"SLACK_APP_TOKEN={config.app_token}")
        else:
            print(f"SLACK_SIGNING_SECRET={config.signing_secret}")
        ws = emulator.workspace
        print(f"team {ws.team_id}; control routes under {emulator.url}/_emulator/", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="local Slack emulator (Web API, Socket Mode, Events API)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8302)
    parser.add_argument("--http", metavar="URL", help="deliver events and commands to this request URL")
    args = parser.parse_args()
    config = EmulatorConfig(host=args.host, port=args.port)
    if args.http:
        config.delivery = "http"
        config.request_url = args.http
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config))


if __name__ == "__main__":
    main()
