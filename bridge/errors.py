"""The one exception tree of chatbridge.

``UserError`` and its subclasses carry a message that is safe and useful to show to the person who
typed the command; adapters render it as is. Anything else is a bug or an outage: adapters log it
with context and show a generic apology.
"""

from __future__ import annotations

import asyncio


class BridgeError(Exception):
    """Root of every error chatbridge raises on purpose."""


class ConfigError(BridgeError):
    """The configuration file or environment is invalid; the message says which setting and why."""


class StoreError(BridgeError):
    """Redis or its search module is missing, unreachable or misconfigured."""


class UserError(BridgeError):
    """Something the user asked for cannot be done; ``str(err)`` is shown to them."""

    code = "bad_request"


class InvalidInput(UserError):
    code = "invalid"


class NotFound(UserError):
    code = "not_found"


class Conflict(UserError):
    code = "conflict"


class PermissionDenied(UserError):
    code = "forbidden"


class DeliveryError(BridgeError):
    """An outbound platform call failed. ``retry_after`` is set when the platform said when to retry;
    ``needs_admin``: the destination waits for an admin's fix (a missing permission): retried with backoff
    for as long as it takes, never dead-lettered. ``fixed``: set by the adapter once it knows the cause is
    gone (e.g. Slack said the app is back in the channel): the wait ends there, not at ``retry_after``."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        needs_admin: bool = False,
        fixed: asyncio.Event | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.needs_admin = needs_admin
        self.fixed = fixed


class HistoryError(BridgeError):
    """A platform channel's history could not be read (``link --backfill``); ``permanent`` when
    retrying cannot help (no access, unknown channel)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
