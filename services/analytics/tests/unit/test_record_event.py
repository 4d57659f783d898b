"""record_event: one event into the store and both projections, exactly once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderflow.analytics.domain import OrderStatus, ProjectionConflictError, record_event


def no_pause(attempt: int) -> None:
    del attempt


def test_a_duplicate_adds_nothing(story_of, memory_store, recorded_metrics):
    # GIVEN a created and paid order already recorded
    created, paid = story_of("paid_awaiting_shipment")
    assert record_event(created, memory_store, recorded_metrics) is True
    assert record_event(paid, memory_store, recorded_metrics) is True
    before = (dict(memory_store.stored), dict(memory_store.views), dict(memory_store.hourly))

    # WHEN the payment is delivered again (an SNS duplicate or a redrive)
    again = record_event(paid, memory_store, recorded_metrics)

    # THEN nothing changes: no second event, no second revenue, no second metric
    assert again is False
    assert (memory_store.stored, memory_store.views, memory_store.hourly) == before
    assert [c.revenue for c in recorded_metrics.contributions if c.revenue] == [
        {"EUR": Decimal("30.00")}
    ]


def test_a_concurrent_update_of_the_same_order_is_retried_not_lost(
    story_of, memory_store, recorded_metrics
):
    # GIVEN an order's creation and payment handled by two consumers at once: while the payment's
    # consumer is between reading the order and committing, the other commits the creation
    created, paid = story_of("paid_awaiting_shipment")
    memory_store.concurrent_writer = lambda: record_event(created, memory_store, recorded_metrics)

    # WHEN the payment is recorded
    recorded = record_event(paid, memory_store, recorded_metrics, pause=no_pause)

    # THEN its first commit was refused, the retry folded both, and neither event was lost
    assert recorded is True
    view = memory_store.order_view(created.order_id)
    assert (view.status, view.version, view.total, view.paid) == (
        OrderStatus.PAID,
        2,
        Decimal("30.00"),
        Decimal("30.00"),
    )
    assert len(memory_store.stored) == 2


def test_a_conflict_that_never_clears_fails_the_record_and_writes_nothing(
    story_of, memory_store, recorded_metrics
):
    # GIVEN an order whose projection always moves on before our commit
    created, paid = story_of("paid_awaiting_shipment")
    record_event(created, memory_store, recorded_metrics)

    class MovingStore:
        def __init__(self) -> None:
            self.attempts = 0

        def order_view(self, order_id):
            return memory_store.order_view(order_id)

        def append(self, event, *, order, hourly):
            self.attempts += 1
            raise ProjectionConflictError("moved on")

    moving = MovingStore()

    # WHEN the payment is recorded THEN it gives up after its attempts so SQS retries it later
    with pytest.raises(ProjectionConflictError, match="kept changing over 4 attempts"):
        record_event(paid, moving, recorded_metrics, attempts=4, pause=no_pause)
    assert moving.attempts == 4
    assert memory_store.order_view(paid.order_id).status is OrderStatus.CREATED
    assert len(recorded_metrics.contributions) == 1
