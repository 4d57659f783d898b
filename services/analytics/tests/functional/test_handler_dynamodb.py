"""The handler against DynamoDB (moto): exactly-once projections, rebuild, poison records."""

from __future__ import annotations

import pytest

from orderflow.analytics import report
from orderflow.analytics.domain import OrderStatus, project
from orderflow.analytics.handler import handler
from orderflow.analytics.rebuild import rebuild
from orderflow.testing import FakeLambdaContext, sqs_event, sqs_record

pytestmark = pytest.mark.functional


def test_shuffled_duplicated_stream_gives_the_clean_streams_projections(
    live_handler, order_stream, deliver
):
    # GIVEN 120 distinct events of realistic orders delivered as 150 messages: shuffled, with
    # 30 (20%) duplicates
    stream = order_stream(120, seed=3)
    deliveries = stream.deliveries(duplicates=30, seed=5)

    # WHEN the handler takes them in SQS batches of 10
    assert deliver(deliveries) == []

    # THEN the live tables hold each event once and the projections of the clean ordered stream
    clean = project(stream.events)
    assert sorted(str(e.event_id) for e in live_handler.events()) == sorted(
        str(e.event_id) for e in stream.events
    )
    assert {v.order_id: v for v in live_handler.order_views()} == clean.orders
    assert {h.hour: h for h in live_handler.hours()} == clean.hours
    assert {v.order_id: v.status.value for v in live_handler.order_views()} == stream.final_status

    # AND a rebuild from the event store alone equals the live projections
    assert rebuild(live_handler).equal

    # AND the report reads an order's history back in time order
    some_order = stream.events[-1].order_id
    history = report.order_history(live_handler, some_order)
    times = [e["occurred_at"] for e in history["events"]]
    assert times == sorted(times)
    assert history["status"] == stream.final_status[some_order]


def test_order_created_after_payment_completed_does_not_regress(live_handler, story_of, deliver):
    # GIVEN an order whose payment.completed reaches analytics before its order.created
    created, paid = story_of("paid_awaiting_shipment", order_id="ord-overtaken")

    # WHEN they arrive in that order, in separate batches
    assert deliver([paid]) == []
    assert deliver([created]) == []

    # THEN the order is paid, with the total the creation brought
    view = live_handler.order_view("ord-overtaken")
    assert view.status is OrderStatus.PAID
    assert (view.total, view.paid, view.version) == (created.total.amount, paid.amount.amount, 2)


def test_a_poison_record_fails_only_itself_and_says_why(live_handler, failure_ledger, story_of):
    # GIVEN a batch with a body that is not an event between two good events
    created, paid = story_of("paid_awaiting_shipment", order_id="ord-next-to-poison")
    batch = sqs_event(
        [
            sqs_record(created, message_id="m-1"),
            sqs_record(
                '{"Type": "Notification", "Message": "{oops"}',
                message_id="m-poison",
                receive_count=2,
            ),
            sqs_record(paid, message_id="m-3"),
        ]
    )

    # WHEN the handler runs
    response = handler(batch, FakeLambdaContext())

    # THEN only the poison returns to the queue, the good events are recorded, and the failure
    # ledger says why the poison failed
    assert response["batchItemFailures"] == [{"itemIdentifier": "m-poison"}]
    assert live_handler.order_view("ord-next-to-poison").status is OrderStatus.PAID
    record = failure_ledger.lookup(["m-poison"])["m-poison"]
    assert (record.service, record.exception_type, record.receive_count) == (
        "analytics",
        "MalformedMessageError",
        2,
    )
