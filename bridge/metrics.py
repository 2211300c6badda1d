"""Every metric the bridge exports, in one registry, the Prometheus way (``prometheus_client``).

Names are ``chatbridge_<what>[_<unit>]``, counters end in ``_total``; what varies (platform, channel,
partition, outcome, reason) is a label, never part of a name. Any layer may import this module; it
imports nothing of ``bridge``.

Use the helpers rather than the raw metric objects where one exists: :func:`inbound_dropped`
both logs at WARNING and counts, so an event that is not mirrored is never silent.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

# no ``*_created`` series: they double the output and dashboards do not use them
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)

INBOUND_EVENTS = Counter(
    "chatbridge_inbound_events_total",
    "Platform events received by an adapter, by kind (message, edit, delete, reaction, file, ...).",
    ["platform", "kind"],
    registry=REGISTRY,
)
INBOUND_DROPPED = Counter(
    "chatbridge_inbound_dropped_total",
    "Platform events that were not mirrored, by reason (each one is also logged at WARNING).",
    ["platform", "reason"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "chatbridge_deliveries_total",
    "Deliveries to a destination channel by outcome: delivered, retried, rate_limited, dead_lettered, dropped.",
    ["platform", "channel", "outcome", "reason"],
    registry=REGISTRY,
)
DELIVERY_LATENCY = Histogram(
    "chatbridge_delivery_latency_seconds",
    "From the core post to the destination platform's accept.",
    ["platform"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
BACKLOG = Gauge(
    "chatbridge_destination_backlog",
    "Entries waiting for a destination channel.",
    ["platform", "channel"],
    registry=REGISTRY,
)
OLDEST_AGE = Gauge(
    "chatbridge_destination_oldest_age_seconds",
    "Age of the oldest entry waiting for a destination channel.",
    ["platform", "channel"],
    registry=REGISTRY,
)
ADAPTER_CONNECTED = Gauge(
    "chatbridge_adapter_connected",
    "1 while an adapter's connection to its platform is up (Discord gateway, Slack Socket Mode / HTTP).",
    ["platform"],
    registry=REGISTRY,
)

DEAD_LETTERS = Gauge(
    "chatbridge_dead_letters",
    "Entries in the dead-letter stream (see `chatbridge dlq list`).",
    registry=REGISTRY,
)
MIRROR_LOG_LAG = Gauge(
    "chatbridge_mirror_log_lag",
    "Mirror-log entries of a partition not yet routed to the destinations' outboxes.",
    ["partition"],
    registry=REGISTRY,
)
MIRROR_LOG_PENDING = Gauge(
    "chatbridge_mirror_log_pending",
    "Mirror-log entries of a partition read but not yet acknowledged.",
    ["partition"],
    registry=REGISTRY,
)
PART_HEALTHY = Gauge(
    "chatbridge_part_healthy",
    "1 while a part of the bridge is healthy (redis, search, worker, discord, slack), as on /healthz.",
    ["part"],
    registry=REGISTRY,
)
NEEDS_ADMIN = Gauge(
    "chatbridge_needs_admin",
    "1 while a linked channel waits for an admin's fix (a missing permission, a full webhook list); "
    "its messages are held, not dropped.",
    ["platform", "channel", "problem"],
    registry=REGISTRY,
)

_drops = logging.getLogger("bridge.drops")


def inbound_event(platform: str, kind: str) -> None:
    INBOUND_EVENTS.labels(platform=platform, kind=kind).inc()


def inbound_dropped(platform: str, reason: str, detail: str, *args: object) -> None:
    """An inbound event that will not cross: one WARNING line (``detail % args``) and the counter.

    ``reason`` is a short stable token (``too_large``, ``no_content``, ``unlinked_thread``, ...): it is
    a label value, so keep the set small; put ids and names in ``detail``.
    """
    INBOUND_DROPPED.labels(platform=platform, reason=reason).inc()
    _drops.warning("not mirrored (%s/%s): " + detail, platform, reason, *args)


def delivery(platform: str, channel: str, outcome: str, reason: str = "") -> None:
    DELIVERIES.labels(platform=platform, channel=channel, outcome=outcome, reason=reason).inc()
