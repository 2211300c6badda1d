"""How long an interaction can be answered (discord-api-docs interactions/receiving-and-responding.mdx,
"Responding to an Interaction": "you must send an initial response within 3 seconds of receiving
the event. If the 3 second deadline is exceeded, the token will be invalidated"; "Interaction tokens
are valid for 15 minutes"). Both are counted from the interaction's creation, which its snowflake id
holds (reference.mdx, "Snowflakes": milliseconds since the Discord epoch in the top 42 bits).

After the initial deadline the callback answers 404 10062 Unknown interaction; after the token's
lifetime followups and edits answer 401 50027 Invalid Webhook Token
(topics/opcodes-and-status-codes.mdx, JSON error codes).
"""

from __future__ import annotations

import time

from . import api_errors as errors
from .state import DISCORD_EPOCH_MS


def created_at(snowflake: str) -> float:
    """Unix time (seconds) encoded in a snowflake."""
    return ((int(snowflake) >> 22) + DISCORD_EPOCH_MS) / 1000


def check_initial(interaction_id: str, within_s: float) -> None:
    if time.time() - created_at(interaction_id) > within_s:
        raise errors.unknown_interaction()


def check_token(interaction_id: str, lifetime_s: float) -> None:
    if time.time() - created_at(interaction_id) > lifetime_s:
        raise errors.APIError(401, 50027, "Invalid Webhook Token")
