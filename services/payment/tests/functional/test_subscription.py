"""Through the topic: the template's subscription delivers payment exactly what it is routed."""

from __future__ import annotations

import json
import uuid

import pytest

from orderflow.contracts import OrderCancelled, parse_sqs_record, utc_now
from orderflow.messaging import EventPublisher
from orderflow.messaging.lambda_events import lambda_sqs_record
from orderflow.templates import load_template, resolve, resources_of_type
from orderflow.testing import make_order, template_parameters

pytestmark = [
    pytest.mark.functional,
    # Replays record nothing new, so their invocations flush no metrics; that is the point.
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]


def drain(sqs, queue_url: str, queue_arn: str) -> list[dict]:
    """Receive everything on a queue as Lambda's event source mapping would hand it over."""
    records = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return records
        for message in messages:
            records.append(lambda_sqs_record(message, queue_arn))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_only_routed_types_reach_payment_and_its_own_outcomes_do_not_loop_back(
    stack, template_path, refund_of
):
    # GIVEN payment's queue subscribed to the topic exactly as template.yaml subscribes it
    template = load_template(template_path)
    (subscription,) = resources_of_type(template, "AWS::SNS::Subscription").values()
    queue = resources_of_type(template, "AWS::SQS::Queue")["Queue"]
    name = resolve(queue["QueueName"], template_parameters("test"))
    queue_url = stack.sqs.create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": str(queue["VisibilityTimeout"])}
    )["QueueUrl"]
    queue_arn = stack.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    stack.sns.subscribe(
        TopicArn=stack.topic_arn,
        Protocol=subscription["Protocol"],
        Endpoint=queue_arn,
        Attributes={
            "FilterPolicy": json.dumps(subscription["FilterPolicy"]),
            "FilterPolicyScope": subscription["FilterPolicyScope"],
            "RawMessageDelivery": str(subscription["RawMessageDelivery"]).lower(),
        },
    )

    # WHEN the order API publishes an order, a cancellation and a refund of it
    order = make_order("ord-topic")
    cancelled = OrderCancelled(
        event_id=uuid.uuid4(),
        occurred_at=utc_now(),
        order_id=order.order_id,
        correlation_id=order.correlation_id,
        producer="order-api",
        customer_email=order.customer_email,
    )
    publisher = EventPublisher(stack.topic_arn)
    for event in (order, cancelled, refund_of(order)):
        publisher.publish(event)
    records = drain(stack.sqs, queue_url, queue_arn)

    # THEN payment's queue received the order and the refund, not the cancellation
    records.sort(key=lambda r: parse_sqs_record(r).TYPE)  # SQS does not keep order; the test does
    assert [parse_sqs_record(r).TYPE for r in records] == ["order.created", "order.refunded"]

    # AND the handler charges and refunds from those records
    assert stack.deliver(*records) == {"batchItemFailures": []}
    journal = stack.journal()
    assert journal.charges == {"ord-topic": 1}
    assert journal.refunds == {"ord-topic": 1}

    # AND the payment.completed it published did not come back to its own queue
    assert drain(stack.sqs, queue_url, queue_arn) == []
    assert [e.TYPE for e in stack.published() if e.producer == "payment"] == ["payment.completed"]
