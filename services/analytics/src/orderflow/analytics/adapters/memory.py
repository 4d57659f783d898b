"""The analytics ports in memory: unit tests and benchmarks run the real ``Recorder`` on these.

``MemoryAnalyticsStore`` keeps the DynamoDB store's promises (a contract test runs both through
the same cases): an append is all or nothing, an event is stored once (keyed, like the event
store, by order id and ``event_key``), an order's projection moves one version at a time, and
stored events are kept as the JSON the event store keeps and parsed back on read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from orderflow.analytics.adapters.dynamodb import event_key
from orderflow.analytics.domain import (
    EventRecorded,
    HourlyMetrics,
    OrderView,
    ProjectionConflictError,
)
from orderflow.contracts import OrderEvent, parse_event


class MemoryAnalyticsStore:
    """``AnalyticsStore`` and ``EventHistory`` in dicts, all-or-nothing like the transaction.

    ``concurrent_writer``, when set, runs once just before the next append checks its
    conditions: the moment another consumer could slip in its own update of the same order.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.stored: dict[tuple[str, str], str] = {}
        self.views: dict[str, OrderView] = {}
        self.hourly: dict[str, HourlyMetrics] = {}
        self.concurrent_writer: Callable[[], None] | None = None

    def order_view(self, order_id: str) -> OrderView | None:
        with self._lock:
            return self.views.get(order_id)

    def append(self, event: OrderEvent, *, order: OrderView | None, hourly: HourlyMetrics) -> bool:
        if self.concurrent_writer is not None:
            writer, self.concurrent_writer = self.concurrent_writer, None
            writer()
        key = (event.order_id, event_key(event))
        with self._lock:
            if key in self.stored:
                return False
            if order is not None:
                current = self.views.get(order.order_id)
                if (current.version if current else 0) != order.version - 1:
                    raise ProjectionConflictError(f"order {order.order_id} moved on")
            self.stored[key] = event.model_dump_json()
            if order is not None:
                self.views[order.order_id] = order
            previous = self.hourly.get(hourly.hour)
            self.hourly[hourly.hour] = hourly if previous is None else previous + hourly
            return True

    def events(self) -> Iterable[OrderEvent]:
        with self._lock:
            bodies = list(self.stored.values())
        return [parse_event(body) for body in bodies]

    def order_events(self, order_id: str) -> Sequence[OrderEvent]:
        with self._lock:
            bodies = [self.stored[key] for key in sorted(self.stored) if key[0] == order_id]
        return [parse_event(body) for body in bodies]

    def order_views(self) -> Iterable[OrderView]:
        with self._lock:
            return list(self.views.values())

    def hours(self) -> Iterable[HourlyMetrics]:
        with self._lock:
            return list(self.hourly.values())


class MemoryObserver:
    """``AnalyticsObserver`` that keeps every outcome, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.outcomes: list[EventRecorded] = []

    def observe(self, outcome: EventRecorded) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    @property
    def contributions(self) -> list[HourlyMetrics]:
        """What each newly recorded event added to its hour (what the EMF metrics count)."""
        with self._lock:
            return [o.contribution for o in self.outcomes if o.first_time]
