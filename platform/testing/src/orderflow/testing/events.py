"""Builders for events shaped exactly as AWS delivers them (SQS record with an SNS body)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from orderflow.contracts.events import EventEnvelope, LineItem, Money, OrderCreated, utc_now
from orderflow.messaging.lambda_events import lambda_sqs_event, lambda_sqs_record, sns_notification

TEST_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:orderflow-test-order-events"
TEST_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orderflow-test-queue"


def sqs_record(
    event: EventEnvelope | str,
    *,
    message_id: str | None = None,
    receive_count: int = 1,
    raw: bool = False,
    queue_arn: str = TEST_QUEUE_ARN,
) -> dict[str, Any]:
    """A Lambda SQS record carrying ``event`` (SNS-wrapped unless ``raw``; a str is the body)."""
    if isinstance(event, str):
        body = event
    elif raw:
        body = event.model_dump_json()
    else:
        body = sns_notification(event, TEST_TOPIC_ARN)
    now_ms = str(int(time.time() * 1000))
    message = {
        "MessageId": message_id or str(uuid.uuid4()),
        "ReceiptHandle": f"rh-{uuid.uuid4()}",
        "Body": body,
        "Attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": now_ms,
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": now_ms,
        },
    }
    return lambda_sqs_record(message, queue_arn)


def sqs_event(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A Lambda SQS event holding ``records``."""
    return lambda_sqs_event(records)


def make_order(
    order_id: str | None = None,
    *,
    items: Sequence[tuple[str, int, str]] = (("sku-1", 1, "10.00"),),
    email: str = "jane.doe@example.com",
    payment_token: str = "tok_visa",  # noqa: S107  (a test card token, not a secret)
    currency: str = "EUR",
) -> OrderCreated:
    """An ``order.created`` whose total is the items' sum."""
    line_items = tuple(LineItem(sku=s, quantity=q, unit_price=Decimal(p)) for s, q, p in items)
    total = sum((i.unit_price * i.quantity for i in line_items), Decimal(0))
    oid = order_id or f"ord-{uuid.uuid4().hex[:12]}"
    return OrderCreated(
        event_id=uuid.uuid4(),
        occurred_at=utc_now(),
        order_id=oid,
        correlation_id=f"corr-{oid}",
        producer="order-api",
        customer_email=email,
        customer_id=f"cust-{oid}",
        items=line_items,
        total=Money(amount=total, currency=currency),
        payment_token=payment_token,
    )


@dataclass
class FakeLambdaContext:
    """The parts of a Lambda context that handlers and Powertools read."""

    function_name: str = "orderflow-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:orderflow-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_seconds: float = 30.0
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))
