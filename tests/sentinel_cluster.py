"""A Redis Sentinel group on 127.0.0.1, free ports (never 6379): a primary, a replica and three
sentinels, every data node with the generation's RediSearch module (tests/generations.py). The
sentinels are the generation's own server binary in sentinel mode (``redis-server <conf>
--sentinel``; ``valkey-server`` has the same mode), with a short ``down-after-milliseconds`` so a
killed primary is replaced within a few seconds. Used by tests/durability/test_sentinel_failover.py
and bench/failover.py (which puts this folder on sys.path)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from generations import Generation

from bridge.store.embedded import EmbeddedRedis, free_port
from bridge.store.sentinel import SentinelTarget

MASTER = "chatbridge"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 6000


def _client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=1, decode_responses=True)


def _ask(port: int, *command: str) -> object:
    """One command to 127.0.0.1:port; None when nothing answers."""
    with contextlib.closing(_client(port)) as client:
        try:
            return client.execute_command(*command)
        except (redis.RedisError, OSError):
            return None


def _wait(probe: object, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(probe) and probe():
            return
        time.sleep(0.05)  # polling other processes' state under a deadline
    raise TimeoutError(f"sentinel group: {what} not within {timeout}s")


@dataclass
class SentinelGroup:
    generation: Generation
    root: Path
    nodes: list[EmbeddedRedis] = field(default_factory=list)
    """[first primary, first replica]; after a failover their roles swap."""
    sentinel_ports: list[int] = field(default_factory=list)
    sentinels: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """What the bridge is given (the ``redis.sentinel`` settings as chatbridge writes them)."""
        return SentinelTarget.build(MASTER, [f"127.0.0.1:{p}" for p in self.sentinel_ports]).url()

    def settings(self) -> dict[str, object]:
        """The ``redis.sentinel`` section that names this group."""
        return {"master": MASTER, "addresses": [f"127.0.0.1:{p}" for p in self.sentinel_ports]}

    def _node(self, index: int, *extra: str) -> EmbeddedRedis:
        folder = self.root / f"node{index}"
        port = self.nodes[index].port if index < len(self.nodes) else 0
        # a (re)joining replica is synced at once, not after the default 5 s wait for more replicas
        args = ["--repl-diskless-sync-delay", "0", *extra]
        return self.generation.server(folder, appendfsync="always", port=port, extra_args=args)

    def start(self, timeout: float = 30.0) -> None:
        primary = self._node(0)
        primary.start()
        self.nodes = [primary]
        replica = self._node(1, "--replicaof", "127.0.0.1", str(primary.port))
        replica.start()
        self.nodes.append(replica)
        for index in range(3):
            self._start_sentinel(index, primary.port)
        _wait(lambda: self.in_sync(replica.port), "the replica in sync", timeout)
        _wait(self._sentinels_settled, "three sentinels that see each other and the replica", timeout)

    def _start_sentinel(self, index: int, primary_port: int) -> None:
        folder = self.root / f"sentinel{index}"
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        conf = folder / "sentinel.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {folder}\nlogfile sentinel.log\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} 2\n"
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER} 1\n"
        )
        proc = subprocess.Popen(
            [self.generation.server_binary, str(conf), "--sentinel"],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.sentinels.append(proc)
        self.sentinel_ports.append(port)
        _wait(lambda: _listening(port), f"sentinel {index} on {port}", 10)

    def in_sync(self, port: int) -> bool:
        info = _ask(port, "INFO", "replication")
        return isinstance(info, dict) and info.get("master_link_status") == "up"

    def _sentinels_settled(self) -> bool:
        for port in self.sentinel_ports:
            state = _ask(port, "SENTINEL", "MASTER", MASTER)
            if not isinstance(state, dict):
                return False
            if int(state.get("num-slaves", 0)) < 1 or int(state.get("num-other-sentinels", 0)) < 2:
                return False
        return True

    def primary_port(self) -> int | None:
        """The primary's port as the sentinels say it (the first that answers)."""
        return next(iter(self._named_primaries()), None)

    def _named_primaries(self) -> list[int]:
        """The primary's port as each sentinel that answers names it."""
        named = []
        for port in self.sentinel_ports:
            found = _ask(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
            if isinstance(found, list | tuple) and len(found) == 2:
                named.append(int(found[1]))
        return named

    def agreed_primary(self) -> int | None:
        """The primary's port once every sentinel names the same node and it answers as a primary.
        A sentinel leading a failover names the replica it promotes at once; the others, and a
        failover the leader aborts and a later epoch redoes, follow only later."""
        named = self._named_primaries()
        if len(named) != len(self.sentinel_ports) or len(set(named)) != 1:
            return None
        info = _ask(named[0], "INFO", "replication")
        return named[0] if isinstance(info, dict) and info.get("role") == "master" else None

    def node_on(self, port: int) -> int:
        return next(i for i, node in enumerate(self.nodes) if node.port == port)

    def kill_primary(self) -> int:
        """SIGKILL the current primary's process; returns its index in ``nodes``."""
        port = self.primary_port()
        assert port is not None, "no primary known to the sentinels"
        index = self.node_on(port)
        self.nodes[index].kill()
        return index

    def wait_promoted(self, old_port: int, timeout: float = 30.0) -> int:
        """Wait until every sentinel names another primary and it answers as one; its port."""
        found: list[int] = []

        def promoted() -> bool:
            port = self.agreed_primary()
            if port is not None and port != old_port:
                found.append(port)
                return True
            return False

        _wait(promoted, "a promoted replica", timeout)
        return found[-1]

    def rejoin(self, index: int, timeout: float = 45.0) -> None:
        """Start a killed node again (same port, same data dir) as a replica of the current primary,
        as its supervisor would after the sentinels moved the primary elsewhere; wait until in sync."""
        primary = self.primary_port()
        assert primary is not None
        node = self._node(index, "--replicaof", "127.0.0.1", str(primary))
        node.start()
        self.nodes[index] = node
        _wait(lambda: self.in_sync(node.port), "the old primary in sync as a replica", timeout)

    def pause(self, index: int) -> None:
        """SIGSTOP a node (a replica that stops acknowledging: WAIT times out)."""
        proc = self.nodes[index].process
        assert proc is not None
        os.kill(proc.pid, signal.SIGSTOP)

    def resume(self, index: int) -> None:
        proc = self.nodes[index].process
        assert proc is not None
        os.kill(proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        for proc in self.sentinels:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.sentinels:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for node in self.nodes:
            if node.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(node.process.pid, signal.SIGCONT)  # a paused node must be able to exit
            node.stop()


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False
