"""The ``/chat`` command group, built from the core's ``CommandLayer.specs()``.

Each core command becomes a subcommand with typed options: ``int`` → INTEGER (with min/max),
everything else → STRING; ``choices`` become Discord choices; ``channel`` and ``user`` arguments
autocomplete through ``CommandLayer.complete``. discord.py reads option types from a callback's
signature, so each subcommand gets a generated ``__signature__`` (the public decorators add
descriptions, choices, autocomplete and renames).
"""

from __future__ import annotations

import inspect
import keyword
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import discord
from discord import app_commands

from bridge.core.commands.registry import ArgSpec, CommandSpec

log = logging.getLogger(__name__)
MAX_SUBCOMMANDS = 25

Runner = Callable[[discord.Interaction, str, Mapping[str, str | int | None]], Awaitable[None]]
Completer = Callable[[Literal["channel", "user"], str], Awaitable[list[str]]]


def _py_name(name: str) -> str:
    ident = re.sub(r"\W", "_", name)
    if not ident or ident[0].isdigit() or keyword.iskeyword(ident) or ident == "interaction":
        ident = f"arg_{ident}"
    return ident


def _annotation(arg: ArgSpec) -> Any:
    base: Any = str
    if arg.kind == "int":
        low = getattr(arg, "min", None)
        high = getattr(arg, "max", None)
        base = app_commands.Range[int, low, high] if low is not None or high is not None else int
    return base if arg.required else base | None


def _describe(text: str, fallback: str) -> str:
    text = " ".join((text or fallback).split())
    return text if len(text) <= 100 else text[:99] + "…"


def _autocompleter(kind: Literal["channel", "user"], complete: Completer) -> Any:
    async def autocomplete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        try:
            names = await complete(kind, current or "")
        except Exception:
            log.exception("autocomplete of %s failed (prefix %r, user %s)", kind, current, interaction.user.id)
            return []
        return [app_commands.Choice(name=n[:100], value=n[:100]) for n in names[:25]]

    return autocomplete


def build_subcommand(spec: CommandSpec, *, run: Runner, complete: Completer) -> app_commands.Command[Any, ..., None]:
    names = {arg.name: _py_name(arg.name) for arg in spec.args}

    async def callback(interaction: discord.Interaction, **kwargs: Any) -> None:
        await run(interaction, spec.name, {arg.name: kwargs.get(names[arg.name]) for arg in spec.args})

    params = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction)]
    for arg in spec.args:
        params.append(
            inspect.Parameter(
                names[arg.name],
                inspect.Parameter.KEYWORD_ONLY,
                annotation=_annotation(arg),
                default=inspect.Parameter.empty if arg.required else None,
            )
        )
    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    decorated: Any = callback
    decorated = app_commands.describe(**{names[a.name]: _describe(a.help, a.name) for a in spec.args})(decorated)
    renames = {names[a.name]: a.name for a in spec.args if names[a.name] != a.name}
    if renames:
        decorated = app_commands.rename(**renames)(decorated)
    choices = {
        names[a.name]: [app_commands.Choice(name=c, value=c) for c in a.choices[:25]] for a in spec.args if a.choices
    }
    if choices:
        decorated = app_commands.choices(**choices)(decorated)
    completers = {
        names[a.name]: _autocompleter(a.kind, complete)
        for a in spec.args
        if a.kind in ("channel", "user") and not a.choices
    }
    if completers:
        decorated = app_commands.autocomplete(**completers)(decorated)
    return app_commands.Command(name=spec.name, description=_describe(spec.summary, spec.name), callback=decorated)


def build_group(specs: list[CommandSpec], *, name: str, run: Runner, complete: Completer) -> app_commands.Group:
    """The slash command group (``/chat``) with one subcommand per core command."""
    group = app_commands.Group(name=name, description="chatbridge: rooms shared by Discord and Slack")
    if len(specs) > MAX_SUBCOMMANDS:
        dropped = [s.name for s in specs[MAX_SUBCOMMANDS:]]
        log.error("Discord allows %d subcommands per group; not registering %s", MAX_SUBCOMMANDS, dropped)
    for spec in specs[:MAX_SUBCOMMANDS]:
        group.add_command(build_subcommand(spec, run=run, complete=complete))
    return group
