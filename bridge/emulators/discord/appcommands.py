"""Application commands: Discord's validation of synced command payloads, and building the
``data`` of an ``INTERACTION_CREATE`` from a registered command (what the Discord client does when
a person fills in a slash command)."""

from __future__ import annotations

import re
from typing import Any

from . import api_errors as errors

NAME_RE = re.compile(r"^[-_\w]{1,32}$")
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, BOOLEAN, USER, CHANNEL = 1, 2, 3, 4, 5, 6, 7
NUMBER = 10


def _fail(path: str, code: str, message: str) -> errors.APIError:
    return errors.invalid_form_body(path, code, message)


def _check_name(name: Any, path: str) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name) or name != name.lower():
        raise _fail(f"{path}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def _check_description(desc: Any, path: str) -> None:
    if not isinstance(desc, str) or not 1 <= len(desc) <= 100:
        raise _fail(f"{path}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")


def _check_options(options: list[dict[str, Any]], path: str, depth: int) -> None:
    if len(options) > 25:
        raise _fail(f"{path}.options", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    seen_optional = False
    names: set[str] = set()
    for i, opt in enumerate(options):
        where = f"{path}.options.{i}"
        _check_name(opt.get("name"), where)
        _check_description(opt.get("description"), where)
        if opt["name"] in names:
            raise _fail(where, "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique")
        names.add(opt["name"])
        kind = opt.get("type")
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            if depth >= (2 if kind == SUB_COMMAND else 1):
                raise _fail(where, "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Subcommands nested too deep")
            _check_options(opt.get("options") or [], where, depth + 1)
            continue
        if opt.get("required"):
            if seen_optional:
                raise _fail(where, "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", "Required options must be first")
        else:
            seen_optional = True
        choices = opt.get("choices") or []
        if len(choices) > 25:
            raise _fail(f"{where}.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        if choices and opt.get("autocomplete"):
            raise _fail(where, "AUTOCOMPLETE_CHOICES", "Autocomplete cannot be used with choices")


def validate_commands(body: Any) -> list[dict[str, Any]]:
    """Check a bulk-overwrite body the way Discord does (the subset that matters); 50035 on error."""
    if not isinstance(body, list):
        raise _fail("_root", "ARRAY_TYPE_CONVERT", "Must be an array")
    if len(body) > 100:
        raise _fail("_root", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    for i, command in enumerate(body):
        _check_name(command.get("name"), str(i))
        if command.get("type", 1) == 1:
            _check_description(command.get("description"), str(i))
            _check_options(command.get("options") or [], str(i), 0)
    return body


def find_command(commands: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((c for c in commands if c["name"] == name), None)


def _coerce(option: dict[str, Any], value: Any, *, autocomplete: bool) -> Any:
    if autocomplete:
        return "" if value is None else str(value)
    kind = option["type"]
    if kind == INTEGER:
        return int(value)
    if kind == NUMBER:
        return float(value)
    if kind == BOOLEAN:
        return bool(value)
    return str(value)


def build_data(
    command: dict[str, Any],
    path: list[str],
    values: dict[str, Any],
    *,
    focused: str | None = None,
) -> dict[str, Any]:
    """``ApplicationCommandInteractionData`` for ``command`` + subcommand ``path`` + option ``values``.

    Unknown subcommands or options raise ``KeyError`` (the Discord client would not let you send them).
    """
    schema: dict[str, Any] = command
    chain: list[dict[str, Any]] = []
    for part in path:
        sub = next((o for o in schema.get("options") or [] if o["name"] == part), None)
        if sub is None or sub["type"] not in (SUB_COMMAND, SUB_COMMAND_GROUP):
            raise KeyError(f"{command['name']} has no subcommand {part!r}")
        chain.append(sub)
        schema = sub
    leaf_options: list[dict[str, Any]] = []
    by_name = {o["name"]: o for o in schema.get("options") or []}
    for name, value in values.items():
        if name not in by_name:
            raise KeyError(f"unknown option {name!r}")
        if value is None and name != focused:
            continue
        entry: dict[str, Any] = {
            "name": name,
            "type": by_name[name]["type"],
            "value": _coerce(by_name[name], value, autocomplete=focused is not None),
        }
        if name == focused:
            entry["focused"] = True
        leaf_options.append(entry)
    options: list[dict[str, Any]] = leaf_options
    for sub in reversed(chain):
        options = [{"name": sub["name"], "type": sub["type"], "options": options}]
    data: dict[str, Any] = {"id": command["id"], "name": command["name"], "type": 1, "options": options}
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data
