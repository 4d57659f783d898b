"""The order-status fold: an order-independent merge of an order's events."""

from __future__ import annotations

import uuid
from decimal import Decimal
from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderflow.analytics.domain import (
    InconsistentOrderError,
    OrderStatus,
    OrderView,
    affects_order,
    fold_order,
)
from orderflow.contracts import InventoryLowStock, Money, OrderEvent, PaymentCompleted, utc_now
from orderflow.testing import make_order


def fold_all(events: list[OrderEvent]) -> OrderView:
    view = reduce(fold_order, events, None)
    assert view is not None
    return view


def test_payment_before_order_created_does_not_regress_the_status(story_of, memory_store, recorder):
    # GIVEN an order's payment.completed that overtook its order.created
    created, paid = story_of("paid_awaiting_shipment", order_id="ord-late")

    # WHEN the payment is recorded first and the creation arrives afterwards
    recorder.handle(paid)
    recorder.handle(created)

    # THEN the order stays paid, and the creation's facts are still kept
    view = memory_store.order_view("ord-late")
    assert view.status is OrderStatus.PAID
    assert view.total == Decimal("30.00")
    assert view.paid == Decimal("30.00")
    assert view.customer_id == "cust-ord-late"
    assert view.first_event_at == created.occurred_at
    assert view.last_event_at == paid.occurred_at
    assert view.version == 2


@pytest.mark.parametrize(
    "story",
    [
        "shipped",
        "shipped_then_refunded",
        "cancelled_and_refunded",
        "paid_awaiting_shipment",
        "declined",
        "declined_then_cancelled",
        "out_of_stock_refunded",
        "awaiting_payment",
    ],
)
def test_status_after_each_step_is_what_the_business_expects(story, story_of, stories):
    # GIVEN an order's story, step by step, with the status the business expects after each step
    events = story_of(story)
    expected = [status for _, status in stories[story]]

    # WHEN the events are folded one at a time in the order they happened
    view = None
    seen = []
    for event in events:
        view = fold_order(view, event)
        seen.append(view.status.value)

    # THEN the status follows the story
    assert seen == expected


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_arrival_order_gives_the_same_view(data, story_of, stories):
    # GIVEN any order story, its events in any arrival order
    story = data.draw(st.sampled_from(sorted(stories)))
    events = story_of(story)
    shuffled = data.draw(st.permutations(events))

    # WHEN both are folded
    # THEN the views are identical: status, amounts, times and version
    assert fold_all(list(shuffled)) == fold_all(events)


def test_refund_amounts_add_up_and_payment_is_kept(story_of):
    # GIVEN a shipped order refunded in full
    events = story_of("shipped_then_refunded", total="42.50")

    # WHEN folded
    view = fold_all(events)

    # THEN the facts are the order's own
    assert (view.status, view.currency, view.total, view.paid, view.refunded) == (
        OrderStatus.REFUNDED,
        "EUR",
        Decimal("42.50"),
        Decimal("42.50"),
        Decimal("42.50"),
    )


def test_events_in_two_currencies_are_rejected_not_merged():
    # GIVEN an order created in EUR and a payment in USD
    created = make_order("ord-fx", currency="EUR")
    paid = PaymentCompleted(
        event_id=uuid.uuid4(),
        occurred_at=created.occurred_at,
        order_id="ord-fx",
        correlation_id="c",
        producer="payment",
        customer_email="a@example.com",
        payment_id="p",
        amount=Money(amount=Decimal("10.00"), currency="USD"),
    )

    # WHEN folded THEN the contradiction fails loudly instead of picking a currency
    with pytest.raises(InconsistentOrderError, match="two currencies, EUR and USD"):
        fold_order(fold_order(None, created), paid)


def test_low_stock_is_not_order_news(story_of, memory_store, recorder):
    # GIVEN a reorder alert about the order that crossed a sku's threshold
    alert = InventoryLowStock(
        event_id=uuid.uuid4(),
        occurred_at=utc_now(),
        order_id="ord-alert",
        correlation_id="c",
        producer="inventory",
        sku="sku-1",
        available=3,
        threshold=10,
    )

    # WHEN recorded
    recorded = recorder.handle(alert)

    # THEN it is stored and counted, but gives the order no status
    assert recorded.first_time is True
    assert not affects_order(alert)
    assert memory_store.order_view("ord-alert") is None
    assert [h.low_stock_alerts for h in memory_store.hours()] == [1]
    with pytest.raises(ValueError, match="does not change an order's status"):
        fold_order(None, alert)
