"""Discord's rules for webhook names and the ``username`` a webhook post overrides.

discord-api-docs resources/webhook.mdx ("Create Webhook": "Webhook names follow our naming
restrictions that can be found in our Usernames and Nicknames documentation, with the following
additional stipulations: Webhook names cannot be: 'clyde', 'discord'"; resources/user.mdx
"Usernames and Nicknames": names are 1-80 characters for webhooks and may not contain the
substrings "clyde" or "discord", case-insensitive). Whether Discord ignores invisible characters
(a zero-width space inside "dis​cord") when it checks is not documented: ``strict_invisible``
decides it here, so a test can run the bridge against both answers.
"""

from __future__ import annotations

import re

from . import api_errors as errors

FORBIDDEN = ("clyde", "discord")
INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def check(field: str, name: object, *, strict_invisible: bool) -> None:
    """Raise the 400 (50035) Discord answers for a name it refuses."""
    if not isinstance(name, str):
        raise errors.invalid_form_body(field, "BASE_TYPE_STRING", "Must be a string.")
    if not 1 <= len(name) <= 80:
        raise errors.invalid_form_body(field, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.")
    folded = (INVISIBLE.sub("", name) if strict_invisible else name).lower()
    for word in FORBIDDEN:
        if word in folded:
            raise errors.invalid_form_body(field, "USERNAME_INVALID", f'Username cannot contain "{word}"')
