"""Formatting between Slack mrkdwn, Discord markdown and core markdown; splitting; mass mentions.

Pure functions: no I/O, no platform SDK. Every direction parses into one small syntax tree
(``bridge.formatting.tree``) with a real lexer, then renders it, so code spans and fenced blocks are
opaque (nothing inside them is converted or read as a mention) and escapes are respected.

Core markdown (the text stored in the core, see ``bridge.core.ports``) is Discord-flavoured:
``**bold**``, ``*italic*``/``_italic_``, ``__underline__``, ``~~strike~~``, ``||spoiler||``,
`` `code` ``, fenced blocks with a language, ``> ``/``>>> `` quotes, ``# ``/``-# `` lines,
``[text](url)``, ``<url>``, bare URLs, backslash escapes; ``@username`` mentions a core user and
``#channel`` a core channel. Conventions settled here:

* **Mass mentions** are stored as the plain words ``@everyone``, ``@here``, ``@channel``. These names
  are reserved (``MASS_MENTIONS``): the core never treats them as a mention. Every renderer towards
  a platform writes them as ``@\\u200beveryone`` (U+200B after the ``@``), which reads the same and
  cannot ping; Slack control sequences typed literally are escaped, Discord tags typed literally
  are backslash-escaped. Adapters should still post with Discord ``allowed_mentions`` limited to
  the ids returned by :func:`core_to_discord_with_mentions` and without Slack ``link_names``.
* A platform mention that does not resolve to a core user is stored as the escaped literal
  ``\\@name`` (``\\@unknown-user`` without a label): it reads ``@name`` everywhere but is never
  mistaken for the core user who happens to be called ``name``. A plain ``@name`` typed on either
  platform is a core mention (that is how Slack people reach someone who is only on Discord).
* Discord ``__underline__``, ``||spoiler||``, headings and ``-# subtext`` are kept in the core; Slack
  shows underline and headings as plain text and spoilers with their bars.
* Bidi override/isolate controls are removed on the way in and out; ordinary RTL text passes.
* Long messages: render for the destination first, then :func:`split_for_discord` /
  :func:`split_for_slack` (or :func:`split_message` with a limit); see ``bridge.formatting.split``.

Guarantee checked by property tests: for any input, the core markdown written by ``slack_to_core``
and ``discord_to_core`` parses back to the same tree that was read from the platform (so escaping
is complete), and ``core_to_slack`` / ``core_to_discord`` never emit a ping that the resolvers did
not ask for.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.formatting.parse_markdown import DiscordResolvers, parse_core, parse_discord
from bridge.formatting.parse_mrkdwn import parse_slack
from bridge.formatting.render_markdown import DiscordRenderer, render_core
from bridge.formatting.render_mrkdwn import SlackRenderer
from bridge.formatting.sanitize import (
    neutralise_mass_mentions,
    sanitize_text,
)
from bridge.formatting.tree import mentioned_names, plain_text

Lookup = Callable[[str], str | None]


def slack_to_core(text: str, *, user_name: Lookup, channel_name: Lookup) -> str:
    """Slack mrkdwn (as in a message event) -> core markdown.

    ``*b*`` -> ``**b**``, ``_i_`` -> ``*i*``, ``~s~`` -> ``~~s~~``, code and quotes kept,
    ``<url|text>`` -> ``[text](url)``, ``<url>`` -> ``url``, entities decoded. ``user_name(slack_user_id)``
    and ``channel_name(slack_channel_id)`` return the core username / channel name, or None.
    ``<!channel>``/``<!here>``/``<!everyone>`` -> the plain reserved words. See ``bridge.formatting.parse_mrkdwn``.
    """
    nodes = parse_slack(sanitize_text(text), user_name=user_name, channel_name=channel_name)
    return render_core(nodes)


def discord_to_core(text: str, *, user_name: Lookup, channel_name: Lookup, role_name: Lookup) -> str:
    """Discord markdown -> core markdown (mostly identity).

    ``<@id>``/``<@!id>`` -> ``@username`` via ``user_name(discord_user_id)``; ``<#id>`` -> ``#channel``
    via ``channel_name``; ``<@&id>`` -> the literal text ``@role`` via ``role_name`` (never a ping);
    ``<:name:id>`` -> ``:name:``; ``<t:unix:style>`` -> UTC time text; ``@everyone``/``@here`` -> the
    plain reserved words. See ``bridge.formatting.parse_markdown``.
    """
    resolvers = DiscordResolvers(user_name, channel_name, role_name)
    return render_core(parse_discord(sanitize_text(text), resolvers))


def core_to_slack(text: str, *, mention: Lookup, channel: Lookup) -> str:
    """Core markdown -> Slack mrkdwn.

    ``mention(core_username)`` returns the Slack user id (``U…``) of a linked user, ``channel(name)``
    the Slack channel id, else None (plain text). See ``bridge.formatting.render_mrkdwn`` for the rules.
    """
    return SlackRenderer(mention, channel).render(parse_core(sanitize_text(text)))


def core_to_discord_with_mentions(text: str, *, mention: Lookup, channel: Lookup) -> tuple[str, list[str]]:
    """Core markdown -> (Discord markdown, user ids that may be pinged).

    ``mention(core_username)`` returns the Discord user id of a linked user or None; only those
    ids become ``<@id>`` and they are returned, in order of first appearance, for
    ``allowed_mentions(users=...)`` (with ``everyone=False, roles=False``).
    """
    renderer = DiscordRenderer(mention, channel)
    rendered = renderer.render(parse_core(sanitize_text(text)))
    return rendered, renderer.ids


def core_to_discord(text: str, *, mention: Lookup, channel: Lookup) -> str:
    """Core markdown -> Discord markdown (see :func:`core_to_discord_with_mentions`)."""
    return core_to_discord_with_mentions(text, mention=mention, channel=channel)[0]


def core_to_plain(text: str) -> str:
    """Core markdown -> what a reader sees, without markup (for logs, notifications, previews)."""
    return neutralise_mass_mentions(plain_text(parse_core(sanitize_text(text))))


def core_mentions(text: str) -> list[str]:
    """Core usernames mentioned in core markdown, lowercased, in order of first appearance.

    Code spans and blocks, escaped ``\\@name`` and the reserved mass-mention words are not mentions.
    """
    return mentioned_names(parse_core(sanitize_text(text)))
