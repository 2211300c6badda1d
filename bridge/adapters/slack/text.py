"""Slack mrkdwn ⇄ core markdown for the Slack adapter, on top of ``bridge.formatting.convert``.

The shared module does the conversion with synchronous lookups; Slack ids are resolved against
the core beforehand (:func:`mentioned_ids` lists them), so conversion itself does no I/O.

- Inbound (:func:`to_core`): ``<@U…>`` → ``@username`` for the ids in ``users``; ``<#C…>`` →
  ``#channel`` for those in ``channels``; ``<!here>`` & co → the plain reserved words; entities
  decoded, markup translated, bidi overrides removed.
- Outbound (:func:`to_slack`): ``&``, ``<``, ``>`` always escaped, so relayed text cannot form a
  control sequence (``<!channel>``, ``<@U…>``, ``<#C…>``); the only real mentions are those of the
  ``mentions`` map; mass mentions get U+200B after the ``@``. Posts never set ``link_names``.
- :func:`split` cuts rendered text at ``limit`` (never inside an entity, a ``<…>`` tag or a grapheme;
  code blocks closed and reopened).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bridge.formatting import core_to_slack, slack_to_core, split_message

_USER_ID = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
_CHANNEL_ID = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^<>]*)?>")
_SLACK_ID = re.compile(r"[UW][A-Z0-9]+")


def mentioned_ids(text: str) -> tuple[list[str], list[str]]:
    """User ids and channel ids referenced as ``<@U…>`` / ``<#C…>`` in Slack text, in order, unique."""
    return list(dict.fromkeys(_USER_ID.findall(text))), list(dict.fromkeys(_CHANNEL_ID.findall(text)))


def to_core(text: str, *, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """Slack mrkdwn → core markdown; ``users``/``channels`` map Slack ids to core names."""
    return slack_to_core(text, user_name=users.get, channel_name=channels.get)


def to_slack(text: str, *, mentions: Mapping[str, str] | None = None) -> str:
    """Core markdown → Slack mrkdwn; ``mentions`` maps core usernames to Slack user ids."""
    table = {name.lower(): uid for name, uid in (mentions or {}).items() if _SLACK_ID.fullmatch(uid)}
    return core_to_slack(text, mention=table.get, channel=lambda _name: None)


def split(text: str, limit: int) -> list[str]:
    """Parts of at most ``limit`` characters; blank text gives no part."""
    return split_message(text, limit)
