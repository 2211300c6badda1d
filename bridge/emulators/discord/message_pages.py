"""Get Channel Messages (``GET /channels/{id}/messages``): which page of a channel's messages to answer.

discord-api-docs resources/message.mdx "Get Channel Messages"
(https://discord.com/developers/docs/resources/message#get-channel-messages):

- "Returns an array of message objects from newest to oldest" — for every query, ``after`` included
  (discord.py's ``history`` relies on it: its ``after`` strategy takes the *first* element of a page as
  the newest and pages on from it);
- query ``around`` / ``before`` / ``after`` (snowflakes), ``limit`` "Max number of messages to return
  (1-100)", default 50; the Discord OpenAPI spec (discord-api-spec, ``minimum: 1, maximum: 100``)
  makes a value outside that range a validation error: 400 50035 Invalid Form Body
  (topics/opcodes-and-status-codes.mdx), ``NUMBER_TYPE_MIN`` / ``NUMBER_TYPE_MAX`` on ``limit``;
- "The ``before``, ``after``, and ``around`` parameters are mutually exclusive, only one may be passed
  at a time." The docs do not say what Discord answers to two; the emulator refuses them (400 50035)
  so a client that relies on combining them fails here rather than guessing right by luck;
- ``before`` / ``after`` are exclusive bounds ("before this message ID"), and need not be the id of a
  message that exists (any snowflake, e.g. one made from a time);
- ``around``: "Get messages around this message ID". The docs give no split; the emulator answers
  up to ``limit // 2`` messages newer than the id and the rest (the message itself, if it exists,
  then older ones) at or before it — a window centred on the id, newest first like every page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import api_errors as errors

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


def _snowflake(field: str, value: str) -> int:
    if not value.isdigit():
        # the form error Discord gives a malformed snowflake (topics/opcodes-and-status-codes.mdx, 50035)
        raise errors.invalid_form_body(field, "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')
    return int(value)


def _limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise errors.invalid_form_body("limit", "NUMBER_TYPE_COERCE", f'Value "{raw}" is not int.') from None
    if limit < 1:
        raise errors.invalid_form_body("limit", "NUMBER_TYPE_MIN", "int value should be greater than or equal to 1.")
    if limit > MAX_LIMIT:
        raise errors.invalid_form_body(
            "limit", "NUMBER_TYPE_MAX", f"int value should be less than or equal to {MAX_LIMIT}."
        )
    return limit


def page(messages: Sequence[dict[str, Any]], query: Mapping[str, str]) -> list[dict[str, Any]]:
    """The messages (any order) that ``query`` selects, newest first; raises ``APIError`` (50035)."""
    limit = _limit(query.get("limit"))
    anchors = {k: query[k] for k in ("around", "before", "after") if query.get(k)}
    if len(anchors) > 1:
        names = ", ".join(sorted(anchors))
        raise errors.invalid_form_body(
            "_root", "BASE_TYPE_INVALID", f"only one of around, before, after may be passed (got {names})"
        )
    ordered = sorted(messages, key=lambda m: int(m["id"]))  # oldest first
    if "after" in anchors:
        after = _snowflake("after", anchors["after"])
        newer = [m for m in ordered if int(m["id"]) > after]
        return list(reversed(newer[:limit]))  # the `limit` oldest after it, answered newest first
    if "before" in anchors:
        before = _snowflake("before", anchors["before"])
        older = [m for m in ordered if int(m["id"]) < before]
        return list(reversed(older[-limit:]))
    if "around" in anchors:
        around = _snowflake("around", anchors["around"])
        newer = [m for m in ordered if int(m["id"]) > around][: limit // 2]
        upto = [m for m in ordered if int(m["id"]) <= around]
        return list(reversed(upto[-(limit - len(newer)) :] + newer))  # limit - len(newer) >= 1
    return list(reversed(ordered[-limit:]))
