"""The Lambda handler against DynamoDB and SNS in moto, fed SQS events shaped as AWS sends them."""

from __future__ import annotations

import json
import threading

import pytest
from moto.dynamodb.responses import DynamoHandler

from orderflow.consumer import SqsConsumer
from orderflow.contracts import (
    InventoryLowStock,
    InventoryOutOfStock,
    StockShortfall,
    derived_event_id,
)
from orderflow.inventory import bootstrap
from orderflow.inventory.adapters.memory import MemoryObserver
from orderflow.inventory.admin import audit_stock, seed_stock
from orderflow.inventory.domain import Inventory, StockSetting
from orderflow.inventory.handler import handler
from orderflow.messaging import PublishError
from orderflow.testing import FakeLambdaContext, make_order, sqs_event, sqs_record

pytestmark = [
    pytest.mark.functional,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]


def seed(stack, **levels):
    settings = [
        StockSetting(sku.replace("_", "-"), *v) if isinstance(v, tuple) else
        StockSetting(sku.replace("_", "-"), v)
        for sku, v in levels.items()
    ]  # fmt: skip
    seed_stock(stack.ledger(), settings)


def level(stack, sku: str) -> int:
    item = stack.dynamodb.get_item(
        TableName=stack.tables["StockTable"], Key={"sku": {"S": sku}}, ConsistentRead=True
    ).get("Item")
    return int(item["available"]["N"]) if item else 0


def test_n_duplicate_deliveries_decrement_once(stack, deliver, failures):
    # GIVEN 20 of sku-1
    seed(stack, sku_1=20)
    order = make_order("ord-1", items=[("sku-1", 3, "2.00")])

    # WHEN SNS delivers the order three times in one batch, and SQS redelivers it twice more
    first = deliver(order, order, order)
    later = [deliver(order, receive_count=n) for n in (2, 3)]

    # THEN every delivery succeeded and the stock moved once
    assert failures(first) == []
    assert all(failures(r) == [] for r in later)
    assert level(stack, "sku-1") == 17
    assert audit_stock(stack.ledger()) == []


def test_create_cancel_cancel_ends_at_the_initial_level(stack, deliver, cancel):
    seed(stack, sku_1=10, sku_2=5)
    order = make_order("ord-1", items=[("sku-1", 4, "1.00"), ("sku-2", 5, "1.00")])

    deliver(order)
    assert (level(stack, "sku-1"), level(stack, "sku-2")) == (6, 0)
    deliver(cancel("ord-1"))
    deliver(cancel("ord-1"))

    assert (level(stack, "sku-1"), level(stack, "sku-2")) == (10, 5)
    assert audit_stock(stack.ledger()) == []


def test_cancel_before_create_ends_at_the_initial_level(stack, deliver, cancel):
    seed(stack, sku_1=10)
    order = make_order("ord-1", items=[("sku-1", 4, "1.00")])

    # WHEN the cancel overtakes its create (and the create is delivered twice)
    deliver(cancel("ord-1"))
    deliver(order)
    deliver(order)

    # THEN the order never took stock, and no event announced anything
    assert level(stack, "sku-1") == 10
    assert stack.published() == []


def test_out_of_stock_publishes_its_event_and_takes_nothing(stack, deliver):
    # GIVEN enough of sku-1 but too little of sku-2
    seed(stack, sku_1=20, sku_2=1)
    order = make_order("ord-1", items=[("sku-1", 2, "1.00"), ("sku-2", 3, "1.00")])

    # WHEN the order is delivered twice
    deliver(order)
    deliver(order)

    # THEN nothing was taken and one out-of-stock event reached the topic
    assert (level(stack, "sku-1"), level(stack, "sku-2")) == (20, 1)
    (event,) = stack.published()
    assert isinstance(event, InventoryOutOfStock)
    assert event.event_id == derived_event_id("ord-1", "inventory.out_of_stock")
    assert event.shortfalls == (StockShortfall(sku="sku-2", requested=3, available=1),)
    assert event.producer == "inventory"


def test_low_stock_reaches_the_topic_once_per_crossing(stack, deliver, cancel):
    # GIVEN 11 of sku-1, threshold 10
    seed(stack, sku_1=11)
    first = make_order("ord-1", items=[("sku-1", 2, "1.00")])
    second = make_order("ord-2", items=[("sku-1", 1, "1.00")])
    third = make_order("ord-3", items=[("sku-1", 3, "1.00")])

    # WHEN 11 -> 9 (crosses; delivered twice), 9 -> 8, cancel ord-1 (8 -> 10), 10 -> 7 (crosses)
    deliver(first, first)
    deliver(second)
    deliver(cancel("ord-1"))
    deliver(third)

    # THEN two alerts, one per crossing, each under its deterministic id
    alerts = [e for e in stack.published() if isinstance(e, InventoryLowStock)]
    assert [(e.order_id, e.available, e.threshold) for e in alerts] == [
        ("ord-1", 9, 10),
        ("ord-3", 7, 10),
    ]
    assert [e.event_id for e in alerts] == [
        derived_event_id("ord-1", "inventory.low_stock", "sku-1"),
        derived_event_id("ord-3", "inventory.low_stock", "sku-1"),
    ]


def test_a_crash_between_commit_and_publish_still_alerts_once(stack, deliver, failures):
    # GIVEN sku-1 at its threshold and a topic that refuses the first publish
    seed(stack, sku_1=10)
    service = bootstrap.service(
        handler.telemetry
    )  # the container's inventory, as handler builds it
    topic = service.events
    refusals = []

    class RefusesOnce:
        def publish_batch(self, events):
            if not refusals:
                refusals.append(events)
                raise PublishError({str(e.event_id): "InternalError" for e in events})
            return topic.publish_batch(events)

    service.events = RefusesOnce()
    order = make_order("ord-1", items=[("sku-1", 1, "1.00")])

    # WHEN the order is recorded, its alert fails to publish, and SQS redelivers it twice
    failed = deliver(order)
    deliver(order, receive_count=2)
    deliver(order, receive_count=3)

    # THEN the first delivery failed (so it stayed queued), stock moved once, one alert went out
    assert len(failures(failed)) == 1
    assert level(stack, "sku-1") == 9
    assert [e.event_id for e in stack.published()] == [
        derived_event_id("ord-1", "inventory.low_stock", "sku-1")
    ]


def test_a_bad_record_fails_alone(stack, deliver, failures):
    # GIVEN a batch of a good order, a body that is not JSON and an event not routed here
    seed(stack, sku_1=5)
    good = make_order("ord-1", items=[("sku-1", 1, "1.00")])
    records = [sqs_record(good), sqs_record("{not json"), sqs_record(json.dumps({"x": 1}))]

    # WHEN the batch is handled
    response = handler(sqs_event(records), FakeLambdaContext())

    # THEN only the two bad records return to the queue, and the good one took its stock
    assert sorted(failures(response)) == sorted(r["messageId"] for r in records[1:])
    assert level(stack, "sku-1") == 4


def test_handler_emits_emf_counts(stack, deliver, capsys):
    seed(stack, sku_1=11, sku_2=0)
    deliver(
        make_order("ord-1", items=[("sku-1", 2, "1.00")]),
        make_order("ord-2", items=[("sku-2", 1, "1.00")]),
    )
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    counts = {name: sum(blob[name]) for blob in emf for name in blob if name[:1].isupper()}
    assert counts == {"Reservations": 1, "OutOfStock": 1, "LowStockAlerts": 1, "Failed": 0}
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "orderflow"


def test_fifty_concurrent_orders_never_oversell(stack, monkeypatch, redeliver):
    """50 orders for one unit each race for 20 units, one Lambda container per thread."""
    # moto runs requests from many threads without isolating them; DynamoDB isolates every
    # request (a transaction is serialisable). Serialise moto's requests to match. The race
    # under test, between reading a level and recording the change, stays open.
    serial = threading.RLock()
    original = DynamoHandler.call_action

    def isolated(self):
        with serial:
            return original(self)

    monkeypatch.setattr(DynamoHandler, "call_action", isolated)

    # GIVEN 20 of sku-1
    seed(stack, sku_1=20)
    orders = [make_order(f"ord-{n:02d}", items=[("sku-1", 1, "1.00")]) for n in range(50)]
    start = threading.Barrier(len(orders))
    errors = []

    def container(order):
        events = bootstrap.service(handler.telemetry).events
        service = Inventory(stack.ledger(), events, observer=MemoryObserver())
        consumer = SqsConsumer(bootstrap.SERVICE, logger=handler.telemetry.logger)

        def invoke(records):
            return consumer.process(sqs_event(records), FakeLambdaContext(), service.handle)

        try:
            start.wait()
            redeliver(invoke, [sqs_record(order)])
        except Exception as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    # WHEN all 50 are delivered at once, each to its own container, failures redelivered
    threads = [threading.Thread(target=container, args=(o,)) for o in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN exactly 20 were reserved, 30 told out of stock, and the level is 0, not below
    assert errors == []
    ledger = stack.ledger()
    outcomes = [ledger.history(o.order_id).record.outcome.value for o in orders]
    assert outcomes.count("reserved") == 20
    assert outcomes.count("out_of_stock") == 30
    assert level(stack, "sku-1") == 0
    assert audit_stock(ledger) == []
    published = stack.published()
    assert len({e.event_id for e in published if isinstance(e, InventoryOutOfStock)}) == 30
    assert len([e for e in published if isinstance(e, InventoryLowStock)]) == 1
