"""What the analytics domain needs from the outside world."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from orderflow.analytics.domain import EventRecorded, HourlyMetrics, OrderView
    from orderflow.contracts import OrderEvent


class AnalyticsStore(Protocol):
    """The write side: the append-only event store and the projections it feeds."""

    def order_view(self, order_id: str) -> OrderView | None:
        """The order's current projection (strongly consistent), or None if it has none yet."""
        ...

    def append(self, event: OrderEvent, *, order: OrderView | None, hourly: HourlyMetrics) -> bool:
        """In one transaction: append ``event``, store ``order`` and add ``hourly`` to its hour.

        ``order`` replaces the order's projection only if that is still at ``order.version - 1``
        (raise ProjectionConflictError otherwise). Returns False, changing nothing, when the
        event is already in the store.
        """
        ...


class EventHistory(Protocol):
    """The read side: stored events and the live projections, for rebuild and reports."""

    def events(self) -> Iterable[OrderEvent]:
        """Every stored event, in no particular order."""
        ...

    def order_events(self, order_id: str) -> Sequence[OrderEvent]:
        """One order's stored events by occurred_at (then event_id)."""
        ...

    def order_view(self, order_id: str) -> OrderView | None:
        """The order's live projection."""
        ...

    def order_views(self) -> Iterable[OrderView]:
        """Every live order projection."""
        ...

    def hours(self) -> Iterable[HourlyMetrics]:
        """Every live hourly metrics row."""
        ...


class AnalyticsObserver(Protocol):
    """Told what recording each event did (EMF business metrics in Lambda)."""

    def observe(self, outcome: EventRecorded) -> None:
        """One event was recorded, for the first time or again (``outcome.first_time``)."""
        ...
