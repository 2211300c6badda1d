"""Command specs, argument parsing and dispatch.

Adapters either hand over a command line (Slack ``/chat search match in:cricket``, the CLI) or
typed arguments (Discord options); both end in the same handler with the same validation. Every
:class:`UserError` becomes a ``Reply(ok=False)`` with its message; anything else is logged with
context and answered with a generic apology, so no adapter ever sees an exception.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bridge.core import validation
from bridge.core.ports import Invocation, Reply
from bridge.errors import InvalidInput, PermissionDenied, UserError

if TYPE_CHECKING:
    from bridge.core.chat import Chat

log = logging.getLogger(__name__)

ArgKind = Literal["word", "int", "channel", "user", "text"]
ArgValue = str | int | None
_TOKEN = re.compile(r'"([^"]*)"|\'([^\']*)\'|(\S+)')
MAX_LINE = 10_000


@dataclass(frozen=True)
class ArgSpec:
    name: str
    kind: ArgKind
    required: bool = True
    help: str = ""
    choices: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    flag: bool = False
    """Given as ``--<name> <value>`` (or ``--<name>=<value>``) anywhere on a command line, never by
    position (Discord: an option like any other)."""


@dataclass(frozen=True)
class Call:
    """One command invocation as handlers see it."""

    chat: Chat
    inv: Invocation
    args: Mapping[str, ArgValue]

    def text(self, name: str) -> str | None:
        value = self.args.get(name)
        return None if value is None else str(value)

    def number(self, name: str, default: int) -> int:
        value = self.args.get(name)
        return default if value is None else int(value)


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    summary: str
    args: tuple[ArgSpec, ...]
    handler: Handler
    admin: bool = False
    examples: tuple[str, ...] = ()

    @property
    def usage(self) -> str:
        parts = [self.name]
        for arg in self.args:
            label = "|".join(arg.choices) if arg.choices else arg.name + ("…" if arg.kind == "text" else "")
            if arg.flag:
                label = f"--{arg.name} {'N' if arg.kind == 'int' else 'VALUE'}"
            parts.append(f"<{label}>" if arg.required else f"[{label}]")
        return " ".join(parts)


class CommandLayer:
    def __init__(self, chat: Chat, specs: list[CommandSpec]) -> None:
        self.chat = chat
        self._specs = {spec.name: spec for spec in specs}

    def specs(self) -> list[CommandSpec]:
        return list(self._specs.values())

    def spec(self, name: str) -> CommandSpec | None:
        return self._specs.get(name)

    async def execute(self, inv: Invocation, line: str) -> Reply:
        """Run a command line such as ``history cricket 20`` or ``search "test match" from:wasim``."""
        try:
            if len(line) > MAX_LINE:
                raise InvalidInput(f"That command is too long ({len(line)} characters; the limit is {MAX_LINE}).")
            validation.encodable(line)
            stripped = line.strip().removeprefix("/chat").strip()
            if not stripped:
                return await self._dispatch(inv, "help", {})
            name, _, rest = stripped.partition(" ")
            spec = self._lookup(name.lower())
            return await self._dispatch(inv, spec.name, parse_args(spec, rest))
        except UserError as err:
            return _error(err)

    async def execute_args(self, inv: Invocation, name: str, args: Mapping[str, ArgValue]) -> Reply:
        """Run a command with already separated arguments (Discord options)."""
        try:
            for key, value in args.items():
                if isinstance(value, str):
                    validation.encodable(value, f"`{key[:30]}`")
            spec = self._lookup(name)
            clean = {a.name: convert(a, args.get(a.name)) for a in spec.args}
            for arg in spec.args:
                if arg.required and clean[arg.name] is None:
                    raise InvalidInput(f"`{arg.name}` is required. Usage: `{spec.usage}`")
            unknown = set(args) - {a.name for a in spec.args}
            if unknown:
                raise InvalidInput(f"`{spec.name}` has no option `{sorted(unknown)[0]}`.")
            return await self._dispatch(inv, name, clean)
        except UserError as err:
            return _error(err)

    async def complete(self, kind: Literal["channel", "user"], prefix: str, limit: int = 25) -> list[str]:
        """Names starting with ``prefix`` for autocomplete (channels or usernames)."""
        key = "channels" if kind == "channel" else "usernames"
        pattern = re.sub(r"[^a-z0-9._-]", "", prefix.lower().lstrip("#@"))[:40]
        found: list[str] = []
        async for item in self.chat.ctx.redis.sscan_iter(key, match=f"{pattern}*", count=500):
            found.append(str(item))
            if len(found) >= 500:
                break
        return sorted(found)[:limit]

    def _lookup(self, name: str) -> CommandSpec:
        spec = self._specs.get(name)
        if spec is None:
            close = [n for n in self._specs if n.startswith(name[:2])] if name else []
            hint = f" Did you mean `{close[0]}`?" if close else ""
            raise InvalidInput(f"Unknown command `{name[:30]}`.{hint} `help` lists the commands.")
        return spec

    async def _dispatch(self, inv: Invocation, name: str, args: Mapping[str, ArgValue]) -> Reply:
        spec = self._specs[name]
        try:
            if spec.admin and not await self.chat.is_admin(inv):
                raise PermissionDenied(f"`{name}` is for admins (Discord: Manage Channels; Slack: workspace admins).")
            return await spec.handler(Call(self.chat, inv, args))
        except UserError as err:
            return _error(err)
        except Exception:
            log.exception("command %s failed (platform=%s, args=%r)", name, inv.platform, dict(args))
            return Reply(
                text="Sorry, something went wrong on our side; it has been logged.",
                ok=False,
                error_code="internal",
            )


def _error(err: UserError) -> Reply:
    return Reply(text=str(err), ok=False, error_code=err.code)


def tokens(text: str) -> list[tuple[str, int]]:
    """Words (quotes group words) with the offset where each starts."""
    out = []
    for m in _TOKEN.finditer(text):
        value = next(g for g in m.groups() if g is not None)
        out.append((value, m.start()))
    if text.count('"') % 2:
        raise InvalidInput('Unbalanced `"` in the command.')
    return out


def _take_flags(spec: CommandSpec, rest: str) -> tuple[dict[str, ArgValue], str]:
    """The ``--name value`` options of ``spec`` found in ``rest``, and ``rest`` without them."""
    flags = {f"--{a.name}": a for a in spec.args if a.flag}
    values: dict[str, ArgValue] = {}
    if not flags:
        return values, rest
    found = tokens(rest)
    cuts: list[tuple[int, int]] = []
    index = 0
    while index < len(found):
        word, start = found[index]
        name, eq, inline = word.partition("=")
        arg = flags.get(name.lower())
        if arg is None:
            index += 1
            continue
        if arg.name in values:
            raise InvalidInput(f"`--{arg.name}` is given twice. Usage: `{spec.usage}`")
        at = start
        if eq:
            value = inline
        elif index + 1 < len(found):
            value, at = found[index + 1]
            index += 1
        else:
            raise InvalidInput(f"`--{arg.name}` needs a value. Usage: `{spec.usage}`")
        if not value:
            raise InvalidInput(f"`--{arg.name}` needs a value. Usage: `{spec.usage}`")
        values[arg.name] = convert(arg, value)
        token = _TOKEN.match(rest, at)
        cuts.append((start, token.end() if token else len(rest)))
        index += 1
    for start, end in reversed(cuts):
        rest = rest[:start] + " " + rest[end:]
    return values, rest


def parse_args(spec: CommandSpec, rest: str) -> dict[str, ArgValue]:
    values, rest = _take_flags(spec, rest)
    found = tokens(rest)
    pos = 0
    for index, arg in enumerate(spec.args):
        if arg.flag:
            values.setdefault(arg.name, None)
            continue
        if arg.kind == "text":
            values[arg.name] = convert(arg, rest[found[pos][1] :].strip()) if pos < len(found) else None
            pos = len(found)
        elif pos < len(found):
            candidate = found[pos][0]
            later = index + 1 < len(spec.args)
            if not arg.required and arg.kind == "int" and later and not candidate.lstrip("-").isdigit():
                values[arg.name] = None
                continue
            values[arg.name] = convert(arg, candidate)
            pos += 1
        else:
            values[arg.name] = None
        if arg.required and values[arg.name] is None:
            raise InvalidInput(f"`{arg.name}` is missing. Usage: `{spec.usage}`")
    if pos < len(found):
        raise InvalidInput(f"Too many arguments (`{found[pos][0][:30]}`). Usage: `{spec.usage}`")
    return values


def convert(arg: ArgSpec, value: ArgValue) -> ArgValue:
    if value is None or value == "":
        return None
    if arg.kind == "int":
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"`{arg.name}` must be a whole number, not `{str(value)[:20]}`.") from None
        if (arg.min is not None and number < arg.min) or (arg.max is not None and number > arg.max):
            raise InvalidInput(f"`{arg.name}` must be between {arg.min} and {arg.max}.")
        return number
    text = str(value)
    if arg.choices and text.lower() not in arg.choices:
        raise InvalidInput(f"`{arg.name}` must be one of: {', '.join(arg.choices)}.")
    if arg.choices:
        return text.lower()
    if arg.kind == "channel":
        return validation.channel(text)
    if arg.kind == "user":
        return validation.username(text)
    return text
