"""The routing table: which service consumes which event type. The single source of truth.

Every service's SNS FilterPolicy, every handler's accepted types and the docs are checked
against this table in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderflow.contracts.events import EVENT_TYPES

SERVICES: tuple[str, ...] = ("payment", "inventory", "notifications", "analytics")

ROUTES: Mapping[str, frozenset[str]] = {
    "order.created": frozenset({"payment", "inventory", "notifications", "analytics"}),
    "order.cancelled": frozenset({"inventory", "notifications", "analytics"}),
    "order.refunded": frozenset({"payment", "notifications", "analytics"}),
    "order.shipped": frozenset({"notifications", "analytics"}),
    "payment.completed": frozenset({"notifications", "analytics"}),
    "payment.failed": frozenset({"notifications", "analytics"}),
    "inventory.low_stock": frozenset({"analytics"}),
    "inventory.out_of_stock": frozenset({"notifications", "analytics"}),
}
"""event_type -> the services whose queues receive it."""

PRODUCERS: Mapping[str, frozenset[str]] = {
    "order-api": frozenset({"order.created", "order.cancelled", "order.refunded", "order.shipped"}),
    "payment": frozenset({"payment.completed", "payment.failed"}),
    "inventory": frozenset({"inventory.low_stock", "inventory.out_of_stock"}),
    "notifications": frozenset(),
    "analytics": frozenset(),
}
"""producer -> the event types it publishes."""


class RoutingError(ValueError):
    """The routing table is inconsistent (unknown service or type, or a publish loop)."""


def consumed_by(service: str) -> frozenset[str]:
    """The event types routed to ``service``."""
    if service not in SERVICES:
        raise RoutingError(f"unknown service {service!r}; known: {', '.join(SERVICES)}")
    return frozenset(t for t, consumers in ROUTES.items() if service in consumers)


def consumers_of(event_type: str) -> frozenset[str]:
    """The services that receive ``event_type``."""
    try:
        return ROUTES[event_type]
    except KeyError:
        raise RoutingError(f"unknown event_type {event_type!r}") from None


def filter_policy(service: str) -> dict[str, Any] | None:
    """The SNS FilterPolicy (MessageAttributes scope) for a service's subscription.

    ``None`` means the service takes every event type, so its subscription has no filter.
    """
    types = consumed_by(service)
    if types == EVENT_TYPES:
        return None
    return {"event_type": sorted(types)}


def check_routing() -> None:
    """Raise RoutingError if the table names unknown types or services, or holds a loop."""
    if set(ROUTES) != EVENT_TYPES:
        missing = sorted(EVENT_TYPES - set(ROUTES))
        extra = sorted(set(ROUTES) - EVENT_TYPES)
        raise RoutingError(
            f"routing table out of sync with contracts: missing {missing}, extra {extra}"
        )
    for event_type, consumers in ROUTES.items():
        unknown = consumers - set(SERVICES)
        if unknown:
            raise RoutingError(f"{event_type} routed to unknown services {sorted(unknown)}")
    published = [t for types in PRODUCERS.values() for t in types]
    if sorted(published) != sorted(EVENT_TYPES):
        raise RoutingError("every event type must have exactly one producer")
    for producer, types in PRODUCERS.items():
        looped = sorted(t for t in types if producer in ROUTES[t])
        if looped:
            raise RoutingError(f"{producer} consumes what it publishes: {looped}")
