"""Run the Discord emulator on its own: ``python -m bridge.emulators.discord [--port 8301]``.

Prints the URLs and the bot token to give the bridge (``DISCORD_API_BASE``, ``DISCORD_GATEWAY_URL``,
``DISCORD_TOKEN``); drive it over ``/_emulator/...`` (see :mod:`bridge.emulators.discord.control`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .server import DiscordEmulator


async def serve(host: str, port: int) -> None:
    async with DiscordEmulator(host=host, port=port) as emulator:
        print(f"DISCORD_API_BASE={emulator.api_base}")
        print(f"DISCORD_GATEWAY_URL={emulator.gateway_url}")
        print(f"DISCORD_TOKEN={emulator.token}")
        print(f"guild {emulator.guild_id}; control routes under {emulator.base_url}/_emulator/", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="local Discord emulator (REST + gateway)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8301)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
