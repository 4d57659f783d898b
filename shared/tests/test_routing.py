"""The routing table is consistent, and the filter policies built from it route exactly."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from orderflow.contracts import (
    EVENT_MODELS,
    ROUTES,
    SERVICES,
    InventoryLowStock,
    InventoryOutOfStock,
    Money,
    OrderCancelled,
    OrderRefunded,
    OrderShipped,
    PaymentCompleted,
    PaymentFailed,
    RoutingError,
    StockShortfall,
    check_routing,
    consumed_by,
    filter_policy,
    routing,
    utc_now,
)
from orderflow.contracts.events import EventEnvelope
from orderflow.messaging import EventPublisher
from orderflow.testing import make_order


def one_of_each() -> list[EventEnvelope]:
    common: dict[str, Any] = {
        "occurred_at": utc_now(),
        "order_id": "ord-1",
        "correlation_id": "c-1",
    }
    email = {"customer_email": "jane.doe@example.com"}
    money = Money(amount="10.00", currency="EUR")  # type: ignore[arg-type]
    events: list[EventEnvelope] = [
        make_order("ord-1"),
        OrderCancelled(event_id=uuid.uuid4(), producer="order-api", **common, **email),
        OrderRefunded(event_id=uuid.uuid4(), producer="order-api", amount=money, **common, **email),
        OrderShipped(
            event_id=uuid.uuid4(), producer="order-api", carrier="dhl", tracking_number="T1",
            **common, **email,
        ),
        PaymentCompleted(
            event_id=uuid.uuid4(), producer="payment", payment_id="p-1", amount=money,
            **common, **email,
        ),
        PaymentFailed(
            event_id=uuid.uuid4(), producer="payment", amount=money, decline_code="card_declined",
            **common, **email,
        ),
        InventoryLowStock(
            event_id=uuid.uuid4(), producer="inventory", sku="sku-1", available=3, threshold=10,
            **common,
        ),
        InventoryOutOfStock(
            event_id=uuid.uuid4(), producer="inventory",
            shortfalls=(StockShortfall(sku="sku-1", requested=2, available=1),), **common, **email,
        ),
    ]  # fmt: skip
    assert {e.TYPE for e in events} == {m.TYPE for m in EVENT_MODELS}
    return events


def test_routing_table_is_consistent() -> None:
    check_routing()


def test_a_publish_loop_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN payment (a consumer of order.created) also publishing order.created
    producers = dict(routing.PRODUCERS)
    producers["payment"] = producers["payment"] | {"order.created"}
    producers["order-api"] = producers["order-api"] - {"order.created"}
    monkeypatch.setattr(routing, "PRODUCERS", producers)

    with pytest.raises(RoutingError, match="payment consumes what it publishes"):
        check_routing()


def test_unknown_service_is_a_routing_error() -> None:
    with pytest.raises(RoutingError, match="unknown service 'shipping'"):
        consumed_by("shipping")


def test_a_service_taking_every_type_has_no_filter() -> None:
    assert filter_policy("analytics") is None
    assert filter_policy("payment") == {"event_type": ["order.created", "order.refunded"]}


@pytest.mark.functional
@mock_aws
def test_filter_policies_deliver_each_type_to_exactly_the_routed_queues() -> None:
    # GIVEN a topic and one queue per service subscribed with the policy built from the table
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    topic_arn = sns.create_topic(Name="order-events")["TopicArn"]
    queues = {}
    for service in SERVICES:
        url = sqs.create_queue(QueueName=f"{service}-queue")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        attributes = {}
        policy = filter_policy(service)
        if policy is not None:
            attributes = {
                "FilterPolicy": json.dumps(policy),
                "FilterPolicyScope": "MessageAttributes",
            }
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
        queues[service] = url

    # WHEN one event of every type is published
    events = one_of_each()
    EventPublisher(topic_arn, sns).publish_batch(events)

    # THEN each queue holds exactly the types the routing table sends it
    for service, url in queues.items():
        received = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            for message in batch:
                received.append(json.loads(json.loads(message["Body"])["Message"])["event_type"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        expected = sorted(t for t, consumers in ROUTES.items() if service in consumers)
        assert sorted(received) == expected, service


def test_the_readme_event_table_matches_the_routing_table() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    rows = [
        [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        for line in readme.splitlines()
        if re.match(r"^\| `(order|payment|inventory)\.[a-z_]+` \|", line)
    ]
    documented = {
        event_type: frozenset(c.strip() for c in consumers.split(","))
        for event_type, _producer, consumers in rows
    }

    assert documented == dict(ROUTES)
