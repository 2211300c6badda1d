"""A TCP proxy that holds every chunk ``delay`` seconds in each direction (order kept), run in a
process of its own: Redis as it is over a network (another host, a managed service) rather than
on the same machine, for benches whose figures depend on round trips.

``start(target_port, delay_s) -> (port, process)``; ``process.terminate()`` ends it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import time
from multiprocessing.process import BaseProcess

from bridge.store.embedded import free_port


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                writer.close()
                return
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(send())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((time.monotonic() + delay, data))
    finally:
        queue.put_nowait((0.0, b""))
        await asyncio.gather(sender, return_exceptions=True)


async def _serve(port: int, target: int, delay: float) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(_pump(reader, up_writer, delay), _pump(up_reader, writer, delay), return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def _run(port: int, target: int, delay: float) -> None:
    asyncio.run(_serve(port, target, delay))


def start(target_port: int, delay_s: float) -> tuple[int, BaseProcess]:
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(target=_run, args=(port, target_port, delay_s), daemon=True)
    process.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return port, process
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError(f"the delay proxy did not listen on 127.0.0.1:{port}")
