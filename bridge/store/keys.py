"""Every Redis key name chatbridge reads or writes. Nothing else in the code builds a key.

The first block is the Redis chat guide's schema, a contract shared with the guide's own tools and
``redis-cli`` queries. Everything chatbridge adds lives under the ``cb:`` prefix so that a scan of
``user:*``, ``channel:*`` or ``message:*`` still sees only the guide's keys. RediSearch 1.x keeps
its own data in the keyspace under ``idx: ft: tag: nm: geo:``; no application key starts with those.
"""

from __future__ import annotations

import zlib

# --- The guide's schema ---------------------------------------------------------------------------
USERNAMES = "usernames"
CHANNELS = "channels"
IDX_USERS = "idx:users"
IDX_MESSAGES = "idx:messages"
USER_PREFIX = "user:"
CHANNEL_PREFIX = "channel:"
MESSAGE_PREFIX = "message:"


def user(username: str) -> str:
    """Hash: firstname, lastname, city, country, username, ``channel:<name>`` = last id seen."""
    return f"{USER_PREFIX}{username}"


def channel(name: str) -> str:
    """Stream of channel events; every entry has ``type`` (message | join | leave | edit | delete)."""
    return f"{CHANNEL_PREFIX}{name}"


def last_seen_field(channel_name: str) -> str:
    """Field of the user hash holding the last stream id the user saw in a channel."""
    return f"{CHANNEL_PREFIX}{channel_name}"


def message(stream_id: str) -> str:
    """Hash: channel, username, message (+ ts, origin, reply_to, edited_ts)."""
    return f"{MESSAGE_PREFIX}{stream_id}"


def channel_name_of(stream_key: str) -> str:
    return stream_key[len(CHANNEL_PREFIX) :]


def message_id_of(message_key: str) -> str:
    return message_key[len(MESSAGE_PREFIX) :]


def stream_ms(stream_id: str) -> int:
    """Milliseconds part of a stream id (``1631566566616-0`` -> 1631566566616)."""
    head = stream_id.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def stream_order(stream_id: str) -> tuple[int, int]:
    """A stream id as the numbers Redis orders it by (``10-2`` before ``9-11`` as strings, and
    ``5-10`` after ``5-9``, not as ids)."""
    ms, _, seq = stream_id.partition("-")
    return (int(ms) if ms.isdigit() else 0, int(seq) if seq.isdigit() else 0)


# --- chatbridge's own keys ------------------------------------------------------------------------
PREFIX = "cb:"
META = "cb:meta"
"""Hash: schema version, search module version seen at start."""


def identity(platform: str, workspace: str, user_id: str) -> str:
    """String: the core username of a platform identity."""
    return f"cb:identity:{platform}:{workspace}:{user_id}"


def identities_of(username: str) -> str:
    """Hash: ``<platform>:<workspace>`` -> platform user id, for one core user."""
    return f"cb:identities:{username}"


def profile_extra(username: str) -> str:
    """Hash: display name and avatar of a user as last seen on a platform (not indexed)."""
    return f"cb:profile:{username}"


def thread_replies(root_id: str) -> str:
    """Sorted set: ids of the replies in the thread of message ``root_id``, scored by time (ms).

    A message in a thread has ``thread`` = the root's id in its hash (a root with replies has its own
    id there, and ``replies`` = how many); the set outlives a deleted root, as the thread does."""
    return f"cb:thread:{root_id}"


def backdated(channel_name: str) -> str:
    """Sorted set: ids of the messages of ``channel_name`` recorded after newer ones (stream ids only
    grow: a backfill or an import into a channel that already had later messages), scored by their
    ``ts`` (ms); ``_post.lua`` adds them, ``delete.lua`` and ``archive.lua`` remove them. ``history``
    merges them into the stream by time; the guide's XREVRANGE lists the stream as recorded."""
    return f"cb:backdated:{channel_name}"


NEWEST_TS = "cb:newest-ts"
"""Hash: channel name -> the newest ``ts`` (ms) among its messages recorded in stream order, what
``_post.lua`` compares a new message's ``ts`` with to tell a backdated one."""


def discord_thread_of(guild_id: str, message_id: str) -> str:
    """String: the id of the Discord thread a message the bridge posted lives in (webhook edits and
    deletes of it need that ``thread_id``)."""
    return f"cb:dthread:{guild_id}:{message_id}"


def discord_last_seen(guild_id: str) -> str:
    """Hash: channel or thread id -> id of the newest message the Discord adapter took in there (live
    or caught up); where the catch-up after a gateway session that could not be resumed starts."""
    return f"cb:dseen:{guild_id}"


def slack_last_seen(team_id: str) -> str:
    """Hash: channel id -> ``ts`` of the newest message the Slack adapter took in there (live or
    caught up); where the catch-up after the app (re)joins a linked channel starts reading."""
    return f"cb:sseen:{team_id}"


def discord_member(guild_id: str, user_id: str) -> str:
    """Hash (with a TTL): a Discord person's ``name`` and ``avatar`` as last fetched over REST, or
    ``missing`` = 1 (no such user); the gateway lists almost no members without the privileged intents."""
    return f"cb:dmember:{guild_id}:{user_id}"


def thread_home(destination: str, root_id: str) -> str:
    """String: where the thread of core message ``root_id`` lives on one destination (the Discord
    thread id, the Slack root ts), written by the adapter when it posts in that thread, so that the
    thread outlives its root's copy (deleted roots keep their threads on both platforms)."""
    return f"cb:threadhome:{destination}:{root_id}"


LEGACY_POSTS = "cb:posts:*"
"""Pattern of the per-user post records of schemas 1 and 2 (``cb:posts:<user>``: a sorted set, then a
stream of message ids, for renames and merges). Schema 3 has none: ``move_user.lua`` finds a user's
messages with ``@username:{name}`` in ``idx:messages``; ``Chat.open`` deletes the old keys."""


TOP = "cb:top"
"""Sorted set: username -> number of their messages in Redis, every channel (kept by the post,
delete and move_user scripts; rebuilt by reindex)."""


def top_in(channel_name: str) -> str:
    """Sorted set: username -> number of their messages in Redis in one channel."""
    return f"{TOP}:{channel_name}"


ARCHIVED = "cb:archived"
"""Hash: channel -> ms before which its history was exported and removed from Redis (retention)."""

META_DOCS = "docs"
"""Field of :data:`META`: the number of documents in ``idx:messages`` that have ``ts``, kept by the
scripts that add or remove message hashes once a check found none without (bridge/store/missing_ts.py)."""
META_TS_CHECKED = "ts_checked"
"""Field of :data:`META`: when (ms) a search last found the count right (every document has ``ts``)."""

META_TOP = "top"
"""Field of :data:`META`: ``counters`` once :data:`TOP` counts every message in Redis (set on an empty
database or by a reindex); absent, ``top`` counts with FT.AGGREGATE."""


def members(channel_name: str) -> str:
    """Set: usernames that joined a channel."""
    return f"cb:members:{channel_name}"


ACTIVE = "cb:active"
"""Sorted set: username -> last activity (ms) in any channel."""


def active_in(channel_name: str) -> str:
    """Sorted set: username -> last activity (ms) in one channel."""
    return f"cb:active:{channel_name}"


def mentions(username: str) -> str:
    """Sorted set: message ids mentioning a user, scored by time (ms)."""
    return f"cb:mentions:{username}"


def notify_channels(username: str) -> str:
    """Set: channels a user wants notifications for."""
    return f"cb:notify:{username}"


def notify_subscribers(channel_name: str) -> str:
    """Set: usernames subscribed to notifications for a channel."""
    return f"cb:notify-subs:{channel_name}"


NOTIFY_CHANNELS = "cb:notify-channels"
"""Set: channels with at least one subscriber (what the notifier blocks on)."""
NOTIFY_CURSOR = "cb:notifier:cursor"
"""Hash: channel -> last stream id the notifier handled."""


def inbound_seen(event_key: str) -> str:
    """String (with TTL): a platform event already recorded."""
    return f"cb:seen:{event_key}"


def platform_message(platform: str, workspace: str, channel_id: str, message_id: str) -> str:
    """String: core message id of a platform message (inbound or mirrored)."""
    return f"cb:pmsg:{platform}:{workspace}:{channel_id}:{message_id}"


def reactions(core_id: str) -> str:
    """Hash: ``<emoji>\t<platform:workspace:channel>\t<platform user id>`` -> ``+<time>\t<username>``
    while that person's reaction stands, ``-<time>`` once removed (the time of the last event,
    so an older event arriving late changes nothing). Emoji in core form (``bridge.formatting.emoji``)."""
    return f"cb:reactions:{core_id}"


def reactions_applied(core_id: str) -> str:
    """Hash: ``<destination channel key>\t<emoji>`` -> ``1`` where the bot's reaction stands on that
    copy of the message, ``0`` where the destination has no such emoji (nothing to apply)."""
    return f"cb:reactions-applied:{core_id}"


def mirror_map(core_id: str) -> str:
    """Hash: destination channel key -> JSON list of platform message ids of a core message."""
    return f"cb:mirror:{core_id}"


def room_links(channel_name: str) -> str:
    """Set: platform channel keys (``platform:workspace:channel``) linked to a core channel."""
    return f"cb:links:{channel_name}"


def route(channel_key: str) -> str:
    """String: the core channel a platform channel is linked to."""
    return f"cb:route:{channel_key}"


LINKED_CHANNELS = "cb:linked"
"""Set: core channels with at least one link."""


def link_code(code: str) -> str:
    """String (with TTL): pending link-account code -> JSON of the identity that asked."""
    return f"cb:linkcode:{code}"


def adapter_state(platform: str, name: str) -> str:
    """Hash: adapter-owned state (e.g. a Discord webhook id and token for a channel)."""
    return f"cb:state:{platform}:{name}"


ADMINS = "cb:admins"
"""Set: core usernames with admin rights on every platform."""
REPLICATION_MARK = "cb:replication:mark"
"""Counter bumped right before a ``WAIT`` on the same connection (bridge/store/replication.py)."""

# --- Backfill (link --backfill N) -------------------------------------------------------------------
BACKFILL_JOBS = "cb:backfill:jobs"
"""Stream: requested backfills (channel ref, count, who asked), read by ``chatbridge run`` with the
consumer group :data:`BACKFILL_GROUP`; an entry is acknowledged once its backfill finished, so one
interrupted by a crash is resumed by the next run."""
BACKFILL_GROUP = "cb-backfill"


def backfill_state(channel_key: str) -> str:
    """Hash: the latest backfill of a platform channel (status, count, fetched, recorded, ...)."""
    return f"cb:backfill:state:{channel_key}"


def backfill_runner(platform: str) -> str:
    """String (with TTL): set while a ``chatbridge run`` can fetch this platform's history."""
    return f"cb:backfill:runner:{platform}"


# --- Mirroring worker -----------------------------------------------------------------------------
MIRROR_GROUP = "cb-mirror"


def delivered(core_id: str, destination: str) -> str:
    """String: idempotency record of one (entry, destination) delivery."""
    return f"cb:delivered:{core_id}:{destination}"


def intents(destination: str) -> str:
    """Hash: entry -> unix ms of the first platform call for it on this destination (the intent,
    written before the call, removed after the commit). An intent left behind means a call may have
    reached the platform without being recorded: the next attempt reconciles before resending."""
    return f"cb:intent:{destination}"


DEAD_LETTERS = "cb:dlq"
"""Stream: entries that kept failing, with destination and last error."""


def mirror_log(partition: int) -> str:
    """Stream: partition of the mirror log, one entry (channel, id, type) per room event. A channel
    always maps to the same partition, so one consumer per partition keeps each room in order."""
    return f"{MIRROR_LOG_PREFIX}{partition}"


def partition_of(channel_name: str, partitions: int) -> int:
    """Stable partition of a channel (CRC32, the same in every process)."""
    return zlib.crc32(channel_name.encode()) % partitions


def outbox(destination: str) -> str:
    """Stream: per-destination queue of entries waiting to be delivered."""
    return f"{OUTBOX_PREFIX}{destination}"


# Mirroring worker (bridge/mirror): the fan-out worker's own keys. Its scripts learn key names inside
# Redis (a room's destinations, a job's message), so they get the prefixes below as arguments, and
# ``mirror_take`` gets ``delivered()`` / ``message()`` cut at a placeholder: the names are still only
# spelled here. (Like the core's scripts, they touch undeclared keys: single-node Redis or replicas.)
OUTBOX_PREFIX = "cb:outbox:"
"""Prefix of :func:`outbox` (``cb:outbox:<platform>:<workspace>:<channel>``)."""
OUTBOXES = "cb:outboxes"
"""Hash: destination key -> mirror-log partition of the room that feeds it (written by the routing
script when it first appends to an outbox; read at worker start to find outboxes with a backlog)."""
MIRROR_LOG_PREFIX = "cb:log:"
"""Prefix of :func:`mirror_log`. Besides the core's room events, ``chatbridge dlq retry`` appends
``type=wake`` entries (``channel`` = a destination key) so the worker owning that outbox resumes it."""
ROOM_LINKS_PREFIX = room_links("")
"""Prefix of :func:`room_links`, for the routing script."""


FORBIDDEN_PREFIXES = ("idx:", "ft:", "tag:", "nm:", "geo:")
