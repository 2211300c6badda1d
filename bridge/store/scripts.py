"""The Lua scripts of ``bridge/store/lua``, loaded once and run with EVALSHA.

redis-py's :class:`redis.commands.core.AsyncScript` keeps the SHA and reloads the script by
itself after ``NOSCRIPT`` (a Redis restart or ``SCRIPT FLUSH``), so callers just call them.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

_NAMES = (
    "post", "post_many", "edit", "delete", "register", "identity", "move_user", "join", "seen",
    "top_rebuild", "react", "archive", "cursor", "history_scan",
)  # fmt: skip
# Mirroring worker (bridge/mirror): routing, outbox read, delivery commit (+ trim), dead letters, dlq retry.
_MIRROR_NAMES = ("mirror_route", "mirror_take", "mirror_commit", "mirror_dead", "mirror_retry")


_PRELUDES = {  # (in this order: _post.lua calls count_docs and note_cursor)
    "_cursor": ("post", "post_many", "cursor"),  # an adapter's catch-up anchor, moved only forward
    "_docs": ("post", "post_many", "delete", "archive"),  # the count of message documents with ts
    "_forget": ("delete", "archive"),  # the platform id maps of a message leaving Redis
    "_prelude": ("post", "post_many", "edit", "delete", "join"),  # the global stream id allocator, room events
    "_top": ("delete", "archive"),  # lowering a top-poster count (posts count in _post.lua; move_user moves them)
    "_post": ("post", "post_many"),  # one message's writes (post = one, post_many = a batch)
    "_mirror_prelude": ("mirror_commit", "mirror_dead", "mirror_route"),  # trimming an acknowledged stream head
    "_user": ("register", "identity", "move_user"),  # user hash fields in the guide's order
}


def _read(name: str) -> str:
    return resources.files("bridge.store").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


def _source(name: str) -> str:
    """A script's text, with the shared prelude it uses (if any) in front."""
    preludes = [_read(prelude) for prelude, users in _PRELUDES.items() if name in users]
    return "".join(preludes) + _read(name)


@dataclass(frozen=True)
class Scripts:
    post: AsyncScript
    post_many: AsyncScript
    edit: AsyncScript
    delete: AsyncScript
    register: AsyncScript
    identity: AsyncScript
    move_user: AsyncScript
    join: AsyncScript
    seen: AsyncScript
    top_rebuild: AsyncScript
    react: AsyncScript
    archive: AsyncScript
    cursor: AsyncScript
    history_scan: AsyncScript
    mirror_route: AsyncScript
    mirror_take: AsyncScript
    mirror_commit: AsyncScript
    mirror_dead: AsyncScript
    mirror_retry: AsyncScript

    @classmethod
    def load(cls, redis: Redis) -> Scripts:
        return cls(**{name: redis.register_script(_source(name)) for name in _NAMES + _MIRROR_NAMES})


def load_one(redis: Redis, name: str) -> AsyncScript:
    """One script, for a tool that needs only it (e.g. reindex's ``top_rebuild``)."""
    return redis.register_script(_source(name))


async def run(script: AsyncScript, *args: Any) -> Any:
    """Run a script whose key names are built from its arguments (see each script's header)."""
    return await script(keys=[], args=[str(a) for a in args])
