"""The inventory use cases over in-memory ports: exact stock under duplicates and cancels."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from orderflow.contracts import (
    InventoryLowStock,
    InventoryOutOfStock,
    Money,
    PaymentCompleted,
    StockShortfall,
    UnexpectedEventError,
    derived_event_id,
    utc_now,
)
from orderflow.inventory.admin import audit_stock
from orderflow.inventory.domain import (
    MAX_ORDER_LINES,
    Inventory,
    LevelChangedError,
    Movement,
    MovementKind,
    OrderTooLargeError,
    Outcome,
    StockChange,
    StockContentionError,
)
from orderflow.messaging import PublishError
from orderflow.retry import NO_PAUSE, Backoff
from orderflow.testing import make_order


def level(ledger, sku: str) -> int:
    return ledger.levels([sku])[sku].available


def low_stock(sink) -> list[InventoryLowStock]:
    return [e for e in sink.events if isinstance(e, InventoryLowStock)]


def test_duplicate_deliveries_of_one_order_decrement_once(inventory, ledger, stock):
    # GIVEN 20 of sku-1
    stock(sku_1=20)
    order = make_order("ord-1", items=[("sku-1", 3, "2.00")])

    # WHEN the same order arrives five times
    outcomes = [inventory.handle(order).outcome for _ in range(5)]

    # THEN it took 3 once, and the level is the sum of the movements
    assert outcomes == [Outcome.RESERVED] + [Outcome.DUPLICATE] * 4
    assert level(ledger, "sku-1") == 17
    assert audit_stock(ledger) == []


def test_a_republished_order_with_a_new_event_id_is_still_the_same_order(inventory, ledger, stock):
    # GIVEN an order already reserved
    stock(sku_1=20)
    inventory.handle(make_order("ord-1", items=[("sku-1", 3, "2.00")]))

    # WHEN the order api publishes the same order again under a new event id
    again = inventory.handle(make_order("ord-1", items=[("sku-1", 3, "2.00")]))

    # THEN it is recognised by its order id
    assert again.outcome is Outcome.DUPLICATE
    assert level(ledger, "sku-1") == 17


def test_an_order_short_on_one_line_takes_nothing_and_says_why(inventory, ledger, sink, stock):
    # GIVEN plenty of sku-1 but a single sku-2
    stock(sku_1=20, sku_2=1)
    order = make_order("ord-1", items=[("sku-1", 2, "1.00"), ("sku-2", 2, "1.00")])

    # WHEN the order arrives (twice)
    first = inventory.handle(order)
    second = inventory.handle(order)

    # THEN no line was taken, and one out-of-stock event names the short line
    assert (first.outcome, second.outcome) == (Outcome.OUT_OF_STOCK, Outcome.DUPLICATE)
    assert (level(ledger, "sku-1"), level(ledger, "sku-2")) == (20, 1)
    (event,) = sink.events
    assert isinstance(event, InventoryOutOfStock)
    assert event.event_id == derived_event_id("ord-1", "inventory.out_of_stock")
    assert event.shortfalls == (StockShortfall(sku="sku-2", requested=2, available=1),)
    assert event.customer_email == order.customer_email
    assert event.correlation_id == order.correlation_id


def test_an_unknown_sku_is_out_of_stock_with_nothing_available(inventory, sink):
    # GIVEN an empty stock table WHEN an order for an unknown sku arrives
    result = inventory.handle(make_order("ord-1", items=[("sku-404", 1, "1.00")]))

    # THEN it is out of stock, not an error and not a negative level
    assert result.outcome is Outcome.OUT_OF_STOCK
    assert sink.events[0].shortfalls == (StockShortfall(sku="sku-404", requested=1, available=0),)


def test_create_cancel_cancel_puts_stock_back_once(inventory, ledger, stock, cancel):
    # GIVEN 10 of sku-1 and 5 of sku-2
    stock(sku_1=10, sku_2=5)
    order = make_order("ord-1", items=[("sku-1", 4, "1.00"), ("sku-2", 5, "1.00")])

    # WHEN the order is created, then cancelled twice (two distinct cancel events)
    outcomes = [
        inventory.handle(order).outcome,
        inventory.handle(cancel("ord-1")).outcome,
        inventory.handle(cancel("ord-1")).outcome,
    ]

    # THEN the levels are back where they started, exactly
    assert outcomes == [Outcome.RESERVED, Outcome.RELEASED, Outcome.DUPLICATE]
    assert (level(ledger, "sku-1"), level(ledger, "sku-2")) == (10, 5)
    assert audit_stock(ledger) == []


def test_cancel_before_create_takes_nothing(inventory, ledger, sink, stock, cancel):
    # GIVEN 10 of sku-1
    stock(sku_1=10)
    order = make_order("ord-1", items=[("sku-1", 4, "1.00")])

    # WHEN the cancel overtakes the create, and both are then redelivered
    outcomes = [
        inventory.handle(cancel("ord-1")).outcome,
        inventory.handle(order).outcome,
        inventory.handle(order).outcome,
        inventory.handle(cancel("ord-1")).outcome,
    ]

    # THEN the order never took stock and nothing was announced
    assert outcomes == [
        Outcome.CANCELLED_BEFORE_CREATE,
        Outcome.CREATED_AFTER_CANCEL,
        Outcome.CREATED_AFTER_CANCEL,
        Outcome.DUPLICATE,
    ]
    assert level(ledger, "sku-1") == 10
    assert sink.events == []


def test_cancelling_an_out_of_stock_order_puts_nothing_back(inventory, ledger, stock, cancel):
    # GIVEN an order that could not be reserved
    stock(sku_1=1)
    inventory.handle(make_order("ord-1", items=[("sku-1", 5, "1.00")]))

    # WHEN it is cancelled
    result = inventory.handle(cancel("ord-1"))

    # THEN nothing is put back (it took nothing)
    assert result.outcome is Outcome.NOTHING_TO_RELEASE
    assert level(ledger, "sku-1") == 1


def test_low_stock_fires_once_per_crossing_and_rearms(inventory, ledger, sink, stock, cancel):
    # GIVEN 12 of sku-1 with the default threshold of 10
    stock(sku_1=12)
    orders = {n: make_order(f"ord-{n}", items=[("sku-1", q, "1.00")]) for n, q in
              [(1, 1), (2, 2), (3, 1), (4, 1)]}  # fmt: skip

    # WHEN 12 -> 11 (above), 11 -> 9 (crosses), duplicate of that, 9 -> 8 (already below)
    for n in (1, 2, 2, 3):
        inventory.handle(orders[n])
    # THEN exactly one alert, from the order that crossed
    assert [(e.order_id, e.available, e.threshold) for e in low_stock(sink)] == [("ord-2", 9, 10)]

    # WHEN ord-2 is cancelled (8 -> 10, back at the threshold) and ord-4 takes one (10 -> 9)
    inventory.handle(cancel("ord-2"))
    inventory.handle(orders[4])

    # THEN the re-armed alert fires a second time, with its own deterministic id
    alerts = low_stock(sink)
    assert [(e.order_id, e.available) for e in alerts] == [("ord-2", 9), ("ord-4", 9)]
    assert [e.event_id for e in alerts] == [
        derived_event_id("ord-2", "inventory.low_stock", "sku-1"),
        derived_event_id("ord-4", "inventory.low_stock", "sku-1"),
    ]
    assert level(ledger, "sku-1") == 9


def test_the_threshold_is_per_item(inventory, sink, stock):
    # GIVEN sku-1 alerts below 3 and sku-2 below the default 10
    stock(sku_1=(5, 3), sku_2=11)

    # WHEN one order takes sku-1 to 2 and sku-2 to 10
    inventory.handle(make_order("ord-1", items=[("sku-1", 3, "1.00"), ("sku-2", 1, "1.00")]))

    # THEN only sku-1 crossed
    assert [(e.sku, e.available, e.threshold) for e in low_stock(sink)] == [("sku-1", 2, 3)]


class FailsFirstPublish:
    """An event sink whose first publish fails, as if the function died before SNS answered."""

    def __init__(self, sink):
        self.sink = sink
        self.failed = False

    def publish_batch(self, events):
        if not self.failed:
            self.failed = True
            raise PublishError({str(e.event_id): "InternalError" for e in events})
        return self.sink.publish_batch(events)


def test_a_replay_after_a_failed_publish_publishes_the_same_alert_once(
    ledger, sink, observer, stock
):
    # GIVEN a stock level one order away from crossing, and a publish that fails once
    stock(sku_1=10)
    inventory = Inventory(ledger, FailsFirstPublish(sink), observer=observer, backoff=NO_PAUSE)
    order = make_order("ord-1", items=[("sku-1", 1, "1.00")])

    # WHEN the order is recorded but its alert cannot be published, and SQS redelivers it twice
    with pytest.raises(PublishError):
        inventory.handle(order)
    assert level(ledger, "sku-1") == 9
    inventory.handle(order)
    inventory.handle(order)

    # THEN the stock moved once and the alert went out once, under its deterministic id
    assert level(ledger, "sku-1") == 9
    assert [e.event_id for e in sink.events] == [
        derived_event_id("ord-1", "inventory.low_stock", "sku-1")
    ]


def test_an_order_too_large_for_one_transaction_fails_without_taking_stock(inventory, ledger):
    lines = [(f"sku-{n}", 1, "1.00") for n in range(MAX_ORDER_LINES + 1)]
    with pytest.raises(OrderTooLargeError, match=f"at most {MAX_ORDER_LINES}"):
        inventory.handle(make_order("ord-1", items=lines))
    assert ledger.history("ord-1").record is None


class MovesUnderneath:
    """A ledger where another order takes one unit between each read and each record."""

    def __init__(self, ledger, sku: str, times: int):
        self.ledger = ledger
        self.sku = sku
        self.times = times

    def __getattr__(self, name):
        return getattr(self.ledger, name)

    def record(self, change: StockChange):
        if self.times and change.movements:
            self.times -= 1
            current = self.ledger.levels([self.sku])[self.sku]
            thief = dataclasses.replace(
                change.movements[0],
                order_id=f"thief-{self.times}",
                delta=-1,
                level_before=current.available,
                level_after=current.available - 1,
            )
            self.ledger.record(StockChange(thief.order_id, movements=(thief,)))
        return self.ledger.record(change)


def test_a_level_that_moves_under_an_order_is_reread_and_the_crossing_stays_exact(
    ledger, sink, observer, stock
):
    # GIVEN 11 of sku-1 and a concurrent order that takes one unit just before ours records
    stock(sku_1=11)
    inventory = Inventory(
        MovesUnderneath(ledger, "sku-1", times=1), sink, observer=observer, backoff=NO_PAUSE
    )

    # WHEN our order takes one (it read 11, but the level is 10 by the time it records)
    result = inventory.handle(make_order("ord-1", items=[("sku-1", 1, "1.00")]))

    # THEN it re-read and recorded 10 -> 9: the crossing it reports is the real one
    assert result.outcome is Outcome.RESERVED
    assert [(e.order_id, e.available) for e in low_stock(sink)] == [("ord-1", 9)]
    assert level(ledger, "sku-1") == 9
    assert audit_stock(ledger) == []


def test_a_level_that_never_settles_fails_the_record_for_a_later_retry(
    ledger, sink, observer, stock
):
    # GIVEN a level that moves under every attempt, and a backoff of 3 attempts that records
    # its pauses
    stock(sku_1=50)
    pauses: list[float] = []
    inventory = Inventory(
        MovesUnderneath(ledger, "sku-1", times=99),
        sink,
        observer=observer,
        backoff=Backoff(attempts=3, sleep=pauses.append),
    )

    # WHEN the order arrives THEN it fails after 3 attempts, paused between them (5 ms doubling)
    with pytest.raises(StockContentionError, match="moved on each of 3 attempts"):
        inventory.handle(make_order("ord-1", items=[("sku-1", 1, "1.00")]))
    assert ledger.history("ord-1").record is None
    assert len(pauses) == 2
    assert 0 <= pauses[0] <= 0.005
    assert 0 <= pauses[1] <= 0.01
    assert observer.outcomes == []  # nothing was done, so nothing is reported


def test_the_ledger_refuses_a_level_below_zero_even_without_a_pin(ledger, stock):
    # GIVEN 1 of sku-1 WHEN a change would take 2 without pinning the level it read
    stock(sku_1=1)
    order = make_order("ord-1", items=[("sku-1", 2, "1.00")])
    unpinned = Movement("ord-1", "sku-1", MovementKind.RESERVE, delta=-2, at=order.occurred_at)

    # THEN nothing is written
    with pytest.raises(LevelChangedError):
        ledger.record(StockChange("ord-1", movements=(unpinned,)))
    assert level(ledger, "sku-1") == 1


class AlwaysMoved:
    """A ledger whose every write finds the level moved (or the item held by another write)."""

    def __init__(self, ledger):
        self.ledger = ledger
        self.records = 0

    def __getattr__(self, name):
        return getattr(self.ledger, name)

    def record(self, change: StockChange):
        self.records += 1
        raise LevelChangedError(f"order {change.order_id}: level moved")


def test_a_cancel_that_never_records_fails_the_record_after_its_attempts(
    ledger, sink, observer, stock, cancel
):
    # GIVEN a reserved order and a ledger that refuses every write from now on
    stock(sku_1=5)
    Inventory(ledger, sink, observer=observer, backoff=NO_PAUSE).handle(
        make_order("ord-1", items=[("sku-1", 2, "1.00")])
    )
    refusing = AlwaysMoved(ledger)
    inventory = Inventory(refusing, sink, observer=observer, backoff=NO_PAUSE)

    # WHEN the cancel arrives THEN it fails after the default 8 attempts and puts nothing back
    with pytest.raises(StockContentionError, match="could not be recorded in 8 attempts"):
        inventory.handle(cancel("ord-1"))
    assert refusing.records == 8
    assert level(ledger, "sku-1") == 3


def test_the_observer_is_told_what_each_handled_event_did(inventory, observer, stock, cancel):
    # GIVEN 10 of sku-1
    stock(sku_1=10)
    order = make_order("ord-1", items=[("sku-1", 1, "1.00")])

    # WHEN the order is created (crossing the threshold), redelivered, and cancelled
    inventory.handle(order)
    inventory.handle(order)
    inventory.handle(cancel("ord-1"))

    # THEN the observer saw the three outcomes, the first with the alert it published
    assert [(order_id, r.outcome) for order_id, r in observer.outcomes] == [
        ("ord-1", Outcome.RESERVED),
        ("ord-1", Outcome.DUPLICATE),
        ("ord-1", Outcome.RELEASED),
    ]
    first = observer.outcomes[0][1]
    assert [type(e) for e in first.published] == [InventoryLowStock]


def test_an_event_inventory_does_not_handle_is_refused_and_not_reported(inventory, observer):
    stray = PaymentCompleted(
        event_id=uuid.uuid4(),
        occurred_at=utc_now(),
        order_id="ord-1",
        correlation_id="corr-ord-1",
        producer="payment",
        customer_email="jane.doe@example.com",
        payment_id="pay-1",
        amount=Money(amount="1.00", currency="EUR"),
    )
    with pytest.raises(UnexpectedEventError, match=r"inventory does not handle payment\.completed"):
        inventory.handle(stray)
    assert observer.outcomes == []
