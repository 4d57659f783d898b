"""Inventory rules: reserve an order's stock, put it back on cancel, alert once per crossing.

Stock is event-sourced. Every change is a ``Movement`` keyed by (order_id, sku, kind), recorded
only if absent and in the same transaction as the level it changes, so a replay changes nothing
and a level always equals the sum of its movements. An order's fate is decided once, in an
``OrderRecord`` written by whichever of its create or its cancel is recorded first:

* ``reserved``: every line was available and was taken (all or nothing: a partial order takes
  nothing, it is ``out_of_stock`` and says which lines fell short);
* ``out_of_stock``: nothing was taken and ``inventory.out_of_stock`` tells the customer;
* ``cancelled_first``: the cancel arrived before the create, so the create takes nothing.

This module decides; the ports remember, publish and observe. It never talks to AWS itself.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from orderflow.contracts import (
    EventEnvelope,
    InventoryLowStock,
    InventoryOutOfStock,
    OrderCancelled,
    OrderCreated,
    StockShortfall,
    UnexpectedEventError,
    derived_event_id,
    utc_now,
)
from orderflow.idempotency import ApplyOutcome
from orderflow.retry import Backoff, retrying

if TYPE_CHECKING:
    from orderflow.inventory.ports import InventoryObserver, StockLedger
    from orderflow.messaging.ports import EventSink

PRODUCER = "inventory"
"""The ``producer`` of the events inventory publishes: the service name, ``bootstrap.SERVICE``."""
BACKOFF = Backoff()
"""How a change that lost a race is tried again: 8 attempts, full jitter from 5 ms doubling to
200 ms (the shared default)."""
DEFAULT_REORDER_THRESHOLD = 10
MAX_ORDER_LINES = 49
"""Lines one reservation can hold: each line writes a movement and a level, plus the order record,
and a DynamoDB transaction holds at most 100 writes."""
HANDLED_TYPES = frozenset({OrderCreated.TYPE, OrderCancelled.TYPE})


class InventoryError(Exception):
    """Base of the inventory service's errors; raising one fails the record so it retries."""


class LevelChangedError(InventoryError):
    """A stock level moved between reading it and recording the change, or another write held
    the item at that moment; nothing was written. Read again and decide again."""


class StockContentionError(InventoryError):
    """Levels kept moving under the order on every attempt; the record retries later."""


class OrderTooLargeError(InventoryError):
    """The order has more lines than one all-or-nothing reservation can hold."""


class MovementKind(enum.StrEnum):
    SEED = "seed"
    RESERVE = "reserve"
    RELEASE = "release"


class OrderOutcome(enum.StrEnum):
    """What an order did to stock, decided once per order."""

    RESERVED = "reserved"
    OUT_OF_STOCK = "out_of_stock"
    CANCELLED_FIRST = "cancelled_first"


class Outcome(enum.StrEnum):
    """What handling one event did."""

    RESERVED = "reserved"
    OUT_OF_STOCK = "out_of_stock"
    RELEASED = "released"
    NOTHING_TO_RELEASE = "nothing_to_release"
    CANCELLED_BEFORE_CREATE = "cancelled_before_create"
    CREATED_AFTER_CANCEL = "created_after_cancel"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class StockLevel:
    """An item's current level and its reorder threshold (an unknown sku has none in stock)."""

    sku: str
    available: int
    threshold: int = DEFAULT_REORDER_THRESHOLD


@dataclass(frozen=True)
class StockSetting:
    """A level and threshold to set an item to (the seed of its ledger)."""

    sku: str
    available: int
    threshold: int = DEFAULT_REORDER_THRESHOLD


@dataclass(frozen=True)
class Movement:
    """One change to one item's level. ``level_before`` pins the level the change was decided on:
    the change is recorded only if the level is still that, so ``crossed`` is exact."""

    order_id: str
    sku: str
    kind: MovementKind
    delta: int
    at: datetime
    level_before: int | None = None
    level_after: int | None = None
    threshold: int | None = None
    crossed: bool = False
    published: bool = False

    @property
    def key(self) -> str:
        """Its identity within the order: one movement per (sku, kind)."""
        return f"{self.kind}#{self.sku}"


@dataclass(frozen=True)
class OrderRecord:
    """The order's fate for stock; ``lines`` is what it took (sku -> quantity)."""

    order_id: str
    outcome: OrderOutcome
    at: datetime
    lines: Mapping[str, int] = field(default_factory=dict)
    shortfalls: tuple[StockShortfall, ...] = ()
    published: bool = False

    KEY = "order"


@dataclass(frozen=True)
class Cancellation:
    """The order was cancelled; recorded once, whatever it had taken."""

    order_id: str
    at: datetime

    KEY = "cancel"


@dataclass(frozen=True)
class OrderHistory:
    """Everything recorded for one order."""

    order_id: str
    record: OrderRecord | None = None
    cancellation: Cancellation | None = None
    movements: tuple[Movement, ...] = ()


@dataclass(frozen=True)
class StockChange:
    """Writes recorded atomically: each record and movement only if absent, each movement's
    delta applied to its item's level (only if the level is still ``level_before`` when pinned,
    and never below zero), and ``thresholds`` set on their items."""

    order_id: str
    record: OrderRecord | None = None
    cancellation: Cancellation | None = None
    movements: tuple[Movement, ...] = ()
    thresholds: Mapping[str, int] = field(default_factory=dict)

    def as_history(self) -> OrderHistory:
        """The history this change leaves when it is the order's first."""
        return OrderHistory(self.order_id, self.record, self.cancellation, self.movements)


def crosses_threshold(before: int, after: int, threshold: int) -> bool:
    """A decrement crosses when it takes the level from at or above the threshold to below it.

    A level that climbs back to the threshold (a cancel, a restock) re-arms the alert.
    """
    return before >= threshold > after


def plan_reservation(
    order: OrderCreated, levels: Mapping[str, StockLevel], at: datetime
) -> StockChange:
    """Take every line of ``order`` or, if any line falls short, nothing at all."""
    shortfalls = tuple(
        StockShortfall(sku=line.sku, requested=line.quantity, available=levels[line.sku].available)
        for line in order.items
        if levels[line.sku].available < line.quantity
    )
    if shortfalls:
        record = OrderRecord(order.order_id, OrderOutcome.OUT_OF_STOCK, at, shortfalls=shortfalls)
        return StockChange(order.order_id, record=record)
    movements = tuple(
        _reserve(order.order_id, levels[line.sku], line.quantity, at) for line in order.items
    )
    lines = {line.sku: line.quantity for line in order.items}
    record = OrderRecord(order.order_id, OrderOutcome.RESERVED, at, lines=lines)
    return StockChange(order.order_id, record=record, movements=movements)


def _reserve(order_id: str, level: StockLevel, quantity: int, at: datetime) -> Movement:
    after = level.available - quantity
    return Movement(
        order_id=order_id,
        sku=level.sku,
        kind=MovementKind.RESERVE,
        delta=-quantity,
        at=at,
        level_before=level.available,
        level_after=after,
        threshold=level.threshold,
        crossed=crosses_threshold(level.available, after, level.threshold),
    )


def plan_release(history: OrderHistory, at: datetime) -> tuple[Outcome, StockChange | None]:
    """Put back exactly what the order took, once; ``None`` when there is nothing to record."""
    order_id = history.order_id
    if history.cancellation is not None:
        return Outcome.DUPLICATE, None
    cancellation = Cancellation(order_id, at)
    record = history.record
    if record is None:
        # The create has not been seen: decide its fate now, so it takes nothing when it comes.
        first = OrderRecord(order_id, OrderOutcome.CANCELLED_FIRST, at)
        change = StockChange(order_id, record=first, cancellation=cancellation)
        return Outcome.CANCELLED_BEFORE_CREATE, change
    if record.outcome is not OrderOutcome.RESERVED:
        return Outcome.NOTHING_TO_RELEASE, StockChange(order_id, cancellation=cancellation)
    movements = tuple(
        Movement(order_id, sku, MovementKind.RELEASE, delta=quantity, at=at)
        for sku, quantity in sorted(record.lines.items())
    )
    return Outcome.RELEASED, StockChange(order_id, cancellation=cancellation, movements=movements)


def plan_seed(
    seed_id: str, setting: StockSetting, current: StockLevel, at: datetime
) -> StockChange:
    """Set an item's level and threshold, recorded as a movement so the ledger still sums."""
    movement = Movement(
        order_id=f"seed:{seed_id}",  # ':' never appears in an order id, so no order collides
        sku=setting.sku,
        kind=MovementKind.SEED,
        delta=setting.available - current.available,
        at=at,
        level_before=current.available,
        level_after=setting.available,
        threshold=setting.threshold,
    )
    return StockChange(
        movement.order_id, movements=(movement,), thresholds={setting.sku: setting.threshold}
    )


def pending_events(order: OrderCreated, history: OrderHistory) -> list[tuple[str, EventEnvelope]]:
    """Events the recorded history owes and has not published yet, with the entry each marks.

    Built only from durable state (plus the order's own fields), so a replay after a crash
    between recording and publishing publishes the very same events, ids included.
    """
    record = history.record
    due: list[tuple[str, EventEnvelope]] = []
    if record is not None and record.outcome is OrderOutcome.OUT_OF_STOCK and not record.published:
        due.append((OrderRecord.KEY, out_of_stock_event(order, record)))
    for movement in history.movements:
        if movement.crossed and not movement.published:
            due.append((movement.key, low_stock_event(order, movement)))
    return due


def out_of_stock_event(order: OrderCreated, record: OrderRecord) -> InventoryOutOfStock:
    """The customer-facing notice that the order took nothing, and why."""
    return InventoryOutOfStock(
        event_id=derived_event_id(order.order_id, InventoryOutOfStock.TYPE),
        occurred_at=record.at,
        order_id=order.order_id,
        correlation_id=order.correlation_id,
        producer=PRODUCER,
        customer_email=order.customer_email,
        shortfalls=record.shortfalls,
    )


def low_stock_event(order: OrderCreated, movement: Movement) -> InventoryLowStock:
    """The reorder alert for the movement that crossed its item's threshold."""
    if movement.level_after is None or movement.threshold is None:
        raise ValueError(f"movement {movement.key} of {movement.order_id} has no pinned level")
    return InventoryLowStock(
        event_id=derived_event_id(order.order_id, InventoryLowStock.TYPE, movement.sku),
        occurred_at=movement.at,
        order_id=order.order_id,
        correlation_id=order.correlation_id,
        producer=PRODUCER,
        sku=movement.sku,
        available=movement.level_after,
        threshold=movement.threshold,
    )


@dataclass(frozen=True)
class InventoryResult:
    """What handling one event did and which events it published."""

    outcome: Outcome
    published: tuple[EventEnvelope, ...] = ()


class Inventory:
    """The inventory use cases over a ``StockLedger`` and an ``EventSink``, reported to an
    ``InventoryObserver``.

    A change that loses a race for a level (``LevelChangedError``) is decided again from fresh
    reads, pausing as ``backoff`` says; when its attempts run out the record fails
    (``StockContentionError``) and SQS retries it later.
    """

    def __init__(
        self,
        ledger: StockLedger,
        events: EventSink,
        *,
        observer: InventoryObserver,
        clock: Callable[[], datetime] = utc_now,
        backoff: Backoff = BACKOFF,
    ) -> None:
        self.ledger = ledger
        self.events = events
        self.observer = observer
        self._clock = clock
        self._backoff = backoff

    def handle(self, event: EventEnvelope) -> InventoryResult:
        """Reserve on ``order.created``, release on ``order.cancelled``; report what it did."""
        if isinstance(event, OrderCreated):
            result = self.reserve(event)
        elif isinstance(event, OrderCancelled):
            result = self.release(event)
        else:
            raise UnexpectedEventError(f"{PRODUCER} does not handle {event.TYPE}")
        self.observer.handled(event, result)
        return result

    def reserve(self, order: OrderCreated) -> InventoryResult:
        """Take the order's stock (all or nothing), once however often the order arrives."""
        if len(order.items) > MAX_ORDER_LINES:
            raise OrderTooLargeError(
                f"order {order.order_id} has {len(order.items)} lines; at most {MAX_ORDER_LINES}"
            )
        recorded = retrying(
            lambda: self._record_reservation(order),
            conflicts=LevelChangedError,
            backoff=self._backoff,
        )
        if recorded is None:
            raise StockContentionError(
                f"order {order.order_id}: stock levels moved on each of "
                f"{self._backoff.attempts} attempts"
            )
        history, first = recorded
        return self._settle(order, history, first=first)

    def release(self, cancel: OrderCancelled) -> InventoryResult:
        """Put back what the order took, once; remember a cancel that beat its create."""
        outcome = retrying(
            lambda: self._record_release(cancel),
            conflicts=LevelChangedError,
            backoff=self._backoff,
        )
        if outcome is None:
            raise StockContentionError(
                f"order {cancel.order_id}: cancel could not be recorded in "
                f"{self._backoff.attempts} attempts"
            )
        return InventoryResult(outcome)

    def _record_reservation(self, order: OrderCreated) -> tuple[OrderHistory, bool] | None:
        """One attempt: the order's history and whether this attempt recorded its fate.

        ``None`` when its fate was recorded meanwhile by another delivery or by its cancel
        (the next read says which); raises ``LevelChangedError`` when a level moved.
        """
        history = self.ledger.history(order.order_id)
        if history.record is not None:
            return history, False
        levels = self.ledger.levels(line.sku for line in order.items)
        change = plan_reservation(order, levels, self._clock())
        if self.ledger.record(change) is ApplyOutcome.APPLIED:
            return change.as_history(), True
        return None

    def _record_release(self, cancel: OrderCancelled) -> Outcome | None:
        """One attempt: what the cancel did, or ``None`` when another write got there first."""
        outcome, change = plan_release(self.ledger.history(cancel.order_id), self._clock())
        if change is None or self.ledger.record(change) is ApplyOutcome.APPLIED:
            return outcome
        return None

    def _settle(
        self, order: OrderCreated, history: OrderHistory, *, first: bool
    ) -> InventoryResult:
        record = history.record
        if record is None:
            raise ValueError(f"order {order.order_id} has no record to settle")
        if record.outcome is OrderOutcome.CANCELLED_FIRST:
            return InventoryResult(Outcome.CREATED_AFTER_CANCEL)
        published = self._publish_pending(order, history)
        outcome = Outcome(record.outcome.value) if first else Outcome.DUPLICATE
        return InventoryResult(outcome, published)

    def _publish_pending(
        self, order: OrderCreated, history: OrderHistory
    ) -> tuple[EventEnvelope, ...]:
        due = pending_events(order, history)
        if not due:
            return ()
        events = tuple(event for _, event in due)
        self.events.publish_batch(events)
        # Marked only after SNS accepted them: a crash in between republishes the same ids.
        self.ledger.mark_published(order.order_id, [key for key, _ in due])
        return events


def total_by_sku(movements: Iterable[Movement]) -> dict[str, int]:
    """The sum of movements per sku: what every level must equal."""
    totals: dict[str, int] = {}
    for movement in movements:
        totals[movement.sku] = totals.get(movement.sku, 0) + movement.delta
    return totals
