"""The in-memory store the unit tests use keeps the same promises as the DynamoDB store."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orderflow.analytics.domain import ProjectionConflictError, fold_order, hourly_contribution

pytestmark = pytest.mark.functional


@pytest.fixture(params=["memory", "dynamodb"])
def store(request):
    return request.getfixturevalue("memory_store" if request.param == "memory" else "dynamo_store")


def snapshot(store):
    return (
        sorted(str(e.event_id) for e in store.events()),
        sorted(store.order_views(), key=lambda v: v.order_id),
        sorted(store.hours(), key=lambda h: h.hour),
    )


def test_append_writes_the_event_and_both_projections(store, story_of):
    # GIVEN a fresh order's creation
    created = story_of("awaiting_payment")[0]

    # WHEN appended with its folded view and hourly contribution
    appended = store.append(
        created, order=fold_order(None, created), hourly=hourly_contribution(created)
    )

    # THEN all three are there
    assert appended is True
    assert [e.event_id for e in store.events()] == [created.event_id]
    assert store.order_view(created.order_id) == fold_order(None, created)
    assert [h.orders for h in store.hours()] == [1]


def test_a_stored_event_appended_again_changes_nothing(store, story_of):
    # GIVEN an appended event
    created = story_of("awaiting_payment")[0]
    view = fold_order(None, created)
    store.append(created, order=view, hourly=hourly_contribution(created))
    before = snapshot(store)

    # WHEN appended again, even with a view that would pass the version check
    again = store.append(
        created, order=fold_order(view, created), hourly=hourly_contribution(created)
    )

    # THEN it reports a duplicate and nothing moved
    assert again is False
    assert snapshot(store) == before


def test_a_stale_order_view_cancels_the_whole_transaction(store, story_of):
    # GIVEN an order at version 1
    created, paid = story_of("paid_awaiting_shipment")
    store.append(created, order=fold_order(None, created), hourly=hourly_contribution(created))
    before = snapshot(store)

    # WHEN the payment is appended with a view folded from a stale read (nothing, version 0)
    stale = fold_order(None, paid)

    # THEN the append is refused and neither the event nor the hour changed
    with pytest.raises(ProjectionConflictError):
        store.append(paid, order=stale, hourly=hourly_contribution(paid))
    assert snapshot(store) == before


def test_a_view_from_the_future_is_refused_too(store, story_of):
    # GIVEN an order at version 1
    created, paid = story_of("paid_awaiting_shipment")
    view = fold_order(None, created)
    store.append(created, order=view, hourly=hourly_contribution(created))

    # WHEN a view claiming version 3 is written THEN it is refused
    with pytest.raises(ProjectionConflictError):
        store.append(
            paid, order=replace(fold_order(view, paid), version=3), hourly=hourly_contribution(paid)
        )
