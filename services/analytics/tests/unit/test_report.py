"""The read side the platform CLI prints: hourly table, totals, an order's history."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from orderflow.analytics.report import UnknownOrderError, hourly_table, order_history, totals


@pytest.fixture
def two_hours(story_of, memory_store, recorder):
    """A shipped order at 10:00-10:20 and a declined one moved to 11:xx."""
    shipped = story_of("shipped", order_id="ord-shipped", total="30.00")
    declined = [
        e.model_copy(update={"occurred_at": e.occurred_at.replace(hour=11)})
        for e in story_of("declined", order_id="ord-declined", total="5.00")
    ]
    for event in reversed(shipped + declined):
        recorder.handle(event)
    return memory_store


def test_hourly_table_lists_hours_oldest_first_as_plain_json_data(two_hours):
    # WHEN the whole table is read
    rows = hourly_table(two_hours)

    # THEN one row per hour, money as exact strings, and the rows survive a JSON round trip
    assert [r["hour"] for r in rows] == ["2026-11-27T10:00Z", "2026-11-27T11:00Z"]
    assert rows[0]["orders"] == 1
    assert rows[0]["shipments"] == 1
    assert rows[0]["revenue"] == {"EUR": "30.00"}
    assert rows[1]["payment_failures"] == 1
    assert rows[1]["revenue"] == {}
    assert json.loads(json.dumps(rows)) == rows


def test_hourly_table_keeps_the_hours_that_begin_in_the_range(two_hours):
    # WHEN asked from 10:30 (inclusive of the 10:00 hour it falls in) to 11:00 (exclusive)
    rows = hourly_table(
        two_hours,
        start=datetime(2026, 11, 27, 10, 30, tzinfo=UTC),
        end=datetime(2026, 11, 27, 11, 0),  # naive means UTC
    )

    # THEN only the 10:00 hour
    assert [r["hour"] for r in rows] == ["2026-11-27T10:00Z"]


def test_totals_add_up_every_hour(two_hours):
    assert totals(two_hours) == {
        "orders": 2,
        "payments": 1,
        "payment_failures": 1,
        "shipments": 1,
        "cancellations": 0,
        "refunds": 0,
        "out_of_stock": 0,
        "low_stock_alerts": 0,
        "revenue": {"EUR": "30.00"},
        "refunded": {},
        "hours": 2,
    }


def test_order_history_is_the_events_in_time_order_and_the_current_status(two_hours):
    # WHEN an order recorded newest-first is looked up
    history = order_history(two_hours, "ord-shipped")

    # THEN its events read in the order they happened, with the status they led to
    assert history["status"] == "shipped"
    assert (history["total"], history["paid"], history["currency"]) == ("30.00", "30.00", "EUR")
    assert [(e["event_type"], e["detail"]) for e in history["events"]] == [
        ("order.created", "30.00 EUR, 1 item"),
        ("payment.completed", "30.00 EUR captured"),
        ("order.shipped", "DHL ord-shipped"),
    ]
    assert history["events"][0]["occurred_at"] == "2026-11-27T10:00:00Z"
    assert "example.com" not in json.dumps(history)


def test_an_unknown_order_is_a_one_line_error(memory_store):
    with pytest.raises(UnknownOrderError, match="no analytics events for order 'ord-nope'"):
        order_history(memory_store, "ord-nope")
