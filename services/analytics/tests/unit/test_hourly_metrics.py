"""Hourly business metrics: what each event adds to its hour, and how hours add up."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderflow.analytics.domain import HourlyMetrics, hour_of, hourly_contribution, project


def test_revenue_is_money_captured_not_money_ordered(story_of):
    # GIVEN an order of 30.00 that was paid, and one that was declined
    paid = story_of("paid_awaiting_shipment", order_id="ord-paid")
    declined = story_of("declined", order_id="ord-declined")

    # WHEN both are projected
    (hour,) = project(paid + declined).hours.values()

    # THEN both orders count, one payment failure counts, and only the payment is revenue
    assert (hour.orders, hour.payments, hour.payment_failures) == (2, 1, 1)
    assert hour.revenue == {"EUR": Decimal("30.00")}


def test_refunds_are_counted_and_summed_apart_from_revenue(story_of):
    # GIVEN a paid, cancelled and refunded order
    events = story_of("cancelled_and_refunded", total="19.99")

    # WHEN projected
    (hour,) = project(events).hours.values()

    # THEN revenue is not netted: the refund stands on its own
    assert (hour.cancellations, hour.refunds) == (1, 1)
    assert hour.revenue == {"EUR": Decimal("19.99")}
    assert hour.refunded == {"EUR": Decimal("19.99")}


def test_every_event_counts_exactly_once_in_its_hour(order_stream):
    # GIVEN a few hours of realistic traffic
    stream = order_stream(300)

    # WHEN projected
    hours = project(stream.events).hours.values()

    # THEN the hours' counters add up to the events, and each counter to its event type
    assert sum(h.events() for h in hours) == 300
    assert sum(h.orders for h in hours) == stream.count("order.created")
    assert sum(h.shipments for h in hours) == stream.count("order.shipped")
    assert sum(h.out_of_stock for h in hours) == stream.count("inventory.out_of_stock")
    assert sum(h.low_stock_alerts for h in hours) == stream.count("inventory.low_stock")
    assert len(hours) > 1


def test_hour_buckets_split_on_the_hour(story_of):
    # GIVEN events one second either side of 14:00 UTC
    created = story_of("awaiting_payment")[0]
    before = created.model_copy(
        update={"occurred_at": created.occurred_at.replace(hour=13, minute=59, second=59)}
    )
    after = created.model_copy(
        update={"occurred_at": created.occurred_at.replace(hour=14, minute=0, second=0)}
    )

    # WHEN bucketed THEN they land in different hours, named as they sort
    assert hourly_contribution(before).hour == "2026-11-27T13:00Z"
    assert hourly_contribution(after).hour == "2026-11-27T14:00Z"
    assert hour_of(after.occurred_at) > hour_of(before.occurred_at)


def test_adding_hours_is_commutative_and_keeps_currencies_apart():
    # GIVEN two contributions to the same hour in different currencies
    a = HourlyMetrics(hour="h", payments=1, revenue={"EUR": Decimal("1.10")})
    b = HourlyMetrics(
        hour="h", payments=2, revenue={"USD": Decimal("2.00"), "EUR": Decimal("0.90")}
    )

    # WHEN added either way round THEN the sums agree and currencies are never mixed
    assert a + b == b + a
    assert (a + b).revenue == {"EUR": Decimal("2.00"), "USD": Decimal("2.00")}
    assert (a + b).payments == 3


def test_different_hours_do_not_add():
    with pytest.raises(ValueError, match="cannot add hour"):
        HourlyMetrics(hour="a") + HourlyMetrics(hour="b")
