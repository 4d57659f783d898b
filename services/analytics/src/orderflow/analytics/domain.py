"""Analytics rules: the folds that turn an order's events into its status and the hourly metrics.

Both folds are order-independent merges (commutative, associative), so events may arrive in any
order, be applied by concurrent consumers, or be replayed from the event store, and the
projections come out the same. Duplicates are kept out by the event store, not here.

``Recorder`` is the service: one event into the store and both projections, exactly once,
reported to the ``AnalyticsObserver``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from orderflow.contracts import (
    InventoryLowStock,
    InventoryOutOfStock,
    OrderCancelled,
    OrderCreated,
    OrderEvent,
    OrderRefunded,
    OrderShipped,
    PaymentCompleted,
    PaymentFailed,
)
from orderflow.retry import Backoff, retrying

if TYPE_CHECKING:
    from orderflow.analytics.ports import AnalyticsObserver, AnalyticsStore


class AnalyticsError(Exception):
    """Base of the analytics service's errors."""


class ProjectionConflictError(AnalyticsError):
    """Another writer changed the order's projection first; re-read and try again."""


class InconsistentOrderError(AnalyticsError):
    """An order's events contradict each other (e.g. two currencies); fail the record loudly."""


class OrderStatus(enum.StrEnum):
    CREATED = "created"
    PAID = "paid"
    OUT_OF_STOCK = "out_of_stock"
    PAYMENT_FAILED = "payment_failed"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


STATUS_PRECEDENCE: tuple[OrderStatus, ...] = tuple(OrderStatus)
"""Lowest to highest. An order's status is the highest status any of its events implies.

Progress (created, paid) ranks below the automatic outcomes that stop it (out of stock, payment
failed); goods leaving the warehouse (shipped) outrank those; a person's decision (cancelled)
outranks everything automatic, and a refund, money given back, is the final word.
"""

_RANK = {status: rank for rank, status in enumerate(STATUS_PRECEDENCE)}

STATUS_OF_EVENT: Mapping[str, OrderStatus] = {
    OrderCreated.TYPE: OrderStatus.CREATED,
    PaymentCompleted.TYPE: OrderStatus.PAID,
    InventoryOutOfStock.TYPE: OrderStatus.OUT_OF_STOCK,
    PaymentFailed.TYPE: OrderStatus.PAYMENT_FAILED,
    OrderShipped.TYPE: OrderStatus.SHIPPED,
    OrderCancelled.TYPE: OrderStatus.CANCELLED,
    OrderRefunded.TYPE: OrderStatus.REFUNDED,
}
"""The status each order event implies. ``inventory.low_stock`` is stock news, not order news."""


def later_status(a: OrderStatus, b: OrderStatus) -> OrderStatus:
    """The join of two statuses in the precedence lattice (a max, so order does not matter)."""
    return a if _RANK[a] >= _RANK[b] else b


def affects_order(event: OrderEvent) -> bool:
    """Whether ``event`` changes its order's status projection."""
    return event.TYPE in STATUS_OF_EVENT


@dataclass(frozen=True)
class OrderView:
    """The order-status projection: the fold of one order's events.

    ``version`` counts the events folded in; it is also the optimistic-concurrency check that
    keeps two consumers from overwriting each other's update.
    """

    order_id: str
    status: OrderStatus
    version: int
    first_event_at: datetime
    last_event_at: datetime
    currency: str | None = None
    total: Decimal | None = None
    paid: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    customer_id: str | None = None


def fold_order(view: OrderView | None, event: OrderEvent) -> OrderView:
    """``view`` with ``event`` folded in. Commutative: any arrival order gives the same view."""
    status = STATUS_OF_EVENT.get(event.TYPE)
    if status is None:
        raise ValueError(f"{event.TYPE} does not change an order's status")
    if view is None:
        view = OrderView(
            order_id=event.order_id,
            status=status,
            version=0,
            first_event_at=event.occurred_at,
            last_event_at=event.occurred_at,
        )
    folded = replace(
        view,
        status=later_status(view.status, status),
        version=view.version + 1,
        first_event_at=min(view.first_event_at, event.occurred_at),
        last_event_at=max(view.last_event_at, event.occurred_at),
    )
    match event:
        case OrderCreated():
            if folded.total is not None and folded.total != event.total.amount:
                raise InconsistentOrderError(
                    f"order {event.order_id}: created twice with totals "
                    f"{folded.total} and {event.total.amount}"
                )
            return replace(
                folded,
                total=event.total.amount,
                customer_id=event.customer_id,
                currency=_one_currency(folded, event.total.currency),
            )
        case PaymentCompleted():
            return replace(
                folded,
                paid=folded.paid + event.amount.amount,
                currency=_one_currency(folded, event.amount.currency),
            )
        case PaymentFailed():
            return replace(folded, currency=_one_currency(folded, event.amount.currency))
        case OrderRefunded():
            return replace(
                folded,
                refunded=folded.refunded + event.amount.amount,
                currency=_one_currency(folded, event.amount.currency),
            )
        case _:
            return folded


def _one_currency(view: OrderView, currency: str) -> str:
    if view.currency is not None and view.currency != currency:
        raise InconsistentOrderError(
            f"order {view.order_id}: events in two currencies, {view.currency} and {currency}"
        )
    return currency


COUNTERS: tuple[str, ...] = (
    "orders",
    "payments",
    "payment_failures",
    "shipments",
    "cancellations",
    "refunds",
    "out_of_stock",
    "low_stock_alerts",
)
"""The hourly counters, one per event type, so an hour's counters sum to its events."""

_COUNTER_OF_EVENT: Mapping[str, str] = {
    OrderCreated.TYPE: "orders",
    PaymentCompleted.TYPE: "payments",
    PaymentFailed.TYPE: "payment_failures",
    OrderShipped.TYPE: "shipments",
    OrderCancelled.TYPE: "cancellations",
    OrderRefunded.TYPE: "refunds",
    InventoryOutOfStock.TYPE: "out_of_stock",
    InventoryLowStock.TYPE: "low_stock_alerts",
}


@dataclass(frozen=True)
class HourlyMetrics:
    """Business metrics of one hour of ``occurred_at`` (UTC). Merged by addition.

    Revenue is money captured: the ``payment.completed`` amounts, per currency. An order that
    was created but never paid brings no revenue; refunds are reported separately, not netted.
    """

    hour: str
    orders: int = 0
    payments: int = 0
    payment_failures: int = 0
    shipments: int = 0
    cancellations: int = 0
    refunds: int = 0
    out_of_stock: int = 0
    low_stock_alerts: int = 0
    revenue: Mapping[str, Decimal] = field(default_factory=dict)
    refunded: Mapping[str, Decimal] = field(default_factory=dict)

    def counters(self) -> dict[str, int]:
        """Counter name -> value, for every counter."""
        return {name: getattr(self, name) for name in COUNTERS}

    def events(self) -> int:
        """How many events this hour holds."""
        return sum(self.counters().values())

    def __add__(self, other: HourlyMetrics) -> HourlyMetrics:
        if other.hour != self.hour:
            raise ValueError(f"cannot add hour {other.hour} to hour {self.hour}")
        mine, theirs = self.counters(), other.counters()
        return HourlyMetrics(
            hour=self.hour,
            revenue=_add_amounts(self.revenue, other.revenue),
            refunded=_add_amounts(self.refunded, other.refunded),
            **{name: mine[name] + theirs[name] for name in COUNTERS},
        )


def _add_amounts(a: Mapping[str, Decimal], b: Mapping[str, Decimal]) -> dict[str, Decimal]:
    return {c: a.get(c, Decimal(0)) + b.get(c, Decimal(0)) for c in sorted({*a, *b})}


HOUR_FORMAT = "%Y-%m-%dT%H:00Z"
"""An hour bucket, e.g. ``2026-11-27T14:00Z``: sorts as it reads."""


def hour_of(moment: datetime) -> str:
    """The hour bucket of a UTC instant."""
    return moment.astimezone(UTC).strftime(HOUR_FORMAT)


def hourly_contribution(event: OrderEvent) -> HourlyMetrics:
    """What one event adds to its hour's metrics."""
    counts = {_COUNTER_OF_EVENT[event.TYPE]: 1}
    revenue: dict[str, Decimal] = {}
    refunded: dict[str, Decimal] = {}
    match event:
        case PaymentCompleted():
            revenue[event.amount.currency] = event.amount.amount
        case OrderRefunded():
            refunded[event.amount.currency] = event.amount.amount
        case _:
            pass
    return HourlyMetrics(
        hour=hour_of(event.occurred_at), revenue=revenue, refunded=refunded, **counts
    )


@dataclass(frozen=True)
class Projections:
    """Both projections: order views by order id and hourly metrics by hour."""

    orders: Mapping[str, OrderView]
    hours: Mapping[str, HourlyMetrics]


def project(events: Iterable[OrderEvent]) -> Projections:
    """Fold events, in any order, into both projections (each event_id counted once)."""
    orders: dict[str, OrderView] = {}
    hours: dict[str, HourlyMetrics] = {}
    seen: set[str] = set()
    for event in events:
        if str(event.event_id) in seen:
            continue
        seen.add(str(event.event_id))
        if affects_order(event):
            orders[event.order_id] = fold_order(orders.get(event.order_id), event)
        contribution = hourly_contribution(event)
        previous = hours.get(contribution.hour)
        hours[contribution.hour] = contribution if previous is None else previous + contribution
    return Projections(orders=orders, hours=hours)


BACKOFF = Backoff(attempts=6, base_seconds=0.02, cap_seconds=0.64)
"""How a write that lost a race for an order or an hour is tried again: 6 attempts, full jitter
from 20 ms doubling (the cap is never reached: no pause follows the sixth). Conflicts are
short-lived, so a few suffice before the record fails back to the queue."""


@dataclass(frozen=True)
class EventRecorded:
    """What recording one event did: ``first_time`` False means the store already held it (a
    duplicate or a redrive) and nothing changed; ``contribution`` is what it adds to its hour."""

    event: OrderEvent
    contribution: HourlyMetrics
    first_time: bool


class Recorder:
    """Every order event into the event store and both projections, once, atomically."""

    def __init__(
        self,
        store: AnalyticsStore,
        *,
        observer: AnalyticsObserver,
        backoff: Backoff = BACKOFF,
    ) -> None:
        self.store = store
        self.observer = observer
        self._backoff = backoff

    def handle(self, event: OrderEvent) -> EventRecorded:
        """Append ``event`` and update both projections exactly once; report what it did.

        On a concurrent update of the same order or hour it re-reads and retries, pausing as
        its ``backoff`` says; after the last attempt it raises ProjectionConflictError so the
        record retries later.
        """
        contribution = hourly_contribution(event)
        appended = retrying(
            lambda: self._append(event, contribution),
            conflicts=ProjectionConflictError,
            backoff=self._backoff,
        )
        if appended is None:
            raise ProjectionConflictError(
                f"order {event.order_id}: projections kept changing over "
                f"{self._backoff.attempts} attempts; retry later"
            )
        outcome = EventRecorded(event, contribution, first_time=appended)
        self.observer.observe(outcome)
        return outcome

    def _append(self, event: OrderEvent, contribution: HourlyMetrics) -> bool:
        """One attempt: fold the event into the order's current view and append it all."""
        order = None
        if affects_order(event):
            order = fold_order(self.store.order_view(event.order_id), event)
        return self.store.append(event, order=order, hourly=contribution)
