"""Recorder: one event into the store and both projections, exactly once."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from orderflow.analytics.domain import BACKOFF, OrderStatus, ProjectionConflictError, Recorder
from orderflow.retry import Backoff


def test_a_duplicate_adds_nothing(story_of, memory_store, recorder, observer):
    # GIVEN a created and paid order already recorded
    created, paid = story_of("paid_awaiting_shipment")
    assert recorder.handle(created).first_time is True
    assert recorder.handle(paid).first_time is True
    before = (dict(memory_store.stored), dict(memory_store.views), dict(memory_store.hourly))

    # WHEN the payment is delivered again (an SNS duplicate or a redrive)
    again = recorder.handle(paid)

    # THEN nothing changes: no second event, no second revenue, no second metric
    assert again.first_time is False
    assert (memory_store.stored, memory_store.views, memory_store.hourly) == before
    assert [c.revenue for c in observer.contributions if c.revenue] == [{"EUR": Decimal("30.00")}]
    # AND the observer was told of all three, the duplicate as such
    assert [(o.event.TYPE, o.first_time) for o in observer.outcomes] == [
        ("order.created", True),
        ("payment.completed", True),
        ("payment.completed", False),
    ]


def test_a_concurrent_update_of_the_same_order_is_retried_not_lost(
    story_of, memory_store, observer
):
    # GIVEN an order's creation and payment handled by two consumers at once: while the payment's
    # consumer is between reading the order and committing, the other commits the creation
    created, paid = story_of("paid_awaiting_shipment")
    pauses: list[float] = []
    recorder = Recorder(
        memory_store, observer=observer, backoff=replace(BACKOFF, sleep=pauses.append)
    )
    memory_store.concurrent_writer = lambda: recorder.handle(created)

    # WHEN the payment is recorded
    recorded = recorder.handle(paid)

    # THEN its first commit was refused, the retry (after one jittered pause of at most 20 ms)
    # folded both, and neither event was lost
    assert recorded.first_time is True
    assert len(pauses) == 1
    assert 0 <= pauses[0] <= 0.02
    view = memory_store.order_view(created.order_id)
    assert (view.status, view.version, view.total, view.paid) == (
        OrderStatus.PAID,
        2,
        Decimal("30.00"),
        Decimal("30.00"),
    )
    assert len(memory_store.stored) == 2


class MovingStore:
    """A store whose order projection always moves on before our commit."""

    def __init__(self, store) -> None:
        self.store = store
        self.attempts = 0

    def order_view(self, order_id):
        return self.store.order_view(order_id)

    def append(self, event, *, order, hourly):
        self.attempts += 1
        raise ProjectionConflictError("moved on")


def test_a_conflict_that_never_clears_fails_the_record_and_writes_nothing(
    story_of, memory_store, recorder, observer
):
    # GIVEN an order whose projection always moves on before our commit
    created, paid = story_of("paid_awaiting_shipment")
    recorder.handle(created)
    moving = MovingStore(memory_store)
    pauses: list[float] = []
    giving_up = Recorder(
        moving, observer=observer, backoff=Backoff(attempts=4, sleep=pauses.append)
    )

    # WHEN the payment is recorded THEN it gives up after its attempts so SQS retries it later
    with pytest.raises(ProjectionConflictError, match="kept changing over 4 attempts"):
        giving_up.handle(paid)
    assert moving.attempts == 4
    assert len(pauses) == 3  # between attempts, none after the last
    assert memory_store.order_view(paid.order_id).status is OrderStatus.CREATED
    assert len(observer.contributions) == 1
    assert len(observer.outcomes) == 1  # the failed record reported nothing


def test_by_default_six_attempts_pause_full_jitter_from_20_ms_doubling(
    story_of, memory_store, observer
):
    # GIVEN a store that always conflicts and the recorder's default backoff, its sleep recorded
    paid = story_of("paid_awaiting_shipment")[1]
    pauses: list[float] = []
    moving = MovingStore(memory_store)
    recorder = Recorder(moving, observer=observer, backoff=replace(BACKOFF, sleep=pauses.append))

    # WHEN an event is recorded THEN it fails after 6 attempts, 5 pauses each within its ceiling
    with pytest.raises(ProjectionConflictError, match="kept changing over 6 attempts"):
        recorder.handle(paid)
    assert moving.attempts == 6
    assert len(pauses) == 5
    assert all(0 <= pause <= 0.02 * 2**n for n, pause in enumerate(pauses))
    assert (BACKOFF.attempts, BACKOFF.base_seconds, BACKOFF.cap_seconds) == (6, 0.02, 0.64)
