"""The notifications handler against moto: DynamoDB idempotency and SES v2 templated sends."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from orderflow import naming
from orderflow.contracts import EventEnvelope, consumed_by
from orderflow.notifications import bootstrap, handler
from orderflow.notifications.adapters import SesEmailSender
from orderflow.notifications.domain import TEMPLATES, EmailDeliveryError, email_for
from orderflow.testing import FakeLambdaContext, sqs_event, sqs_record

pytestmark = pytest.mark.functional

EventFactory = Callable[..., EventEnvelope]
Metrics = Callable[[], dict[tuple[str, str], float]]
# What SES says when it refuses a recipient (sandbox): it names the address.
NOT_VERIFIED = (
    "Email address is not verified. The following identities failed the check in region "
    "US-EAST-1: {address}"
)


def address(event_type: str) -> str:
    return f"{event_type.replace('.', '-')}@customers.example"


def deliver(*records: dict[str, Any]) -> list[str]:
    """Invoke the handler with one SQS batch; return the message ids it failed."""
    response = handler.handler(sqs_event(records), FakeLambdaContext())
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def test_three_duplicate_deliveries_send_one_email(aws: Any, customer_event: EventFactory) -> None:
    # GIVEN an order.created event
    event = customer_event("order.created", email="ann@customers.example")

    # WHEN SQS delivers it three times, in three invocations (SNS duplicate, retry, redrive)
    failed = [deliver(sqs_record(event, message_id=f"m-{n}", receive_count=n)) for n in (1, 2, 3)]

    # THEN every delivery is acknowledged, and SES sent exactly one email
    assert failed == [[], [], []]
    assert [(e.template, e.recipients) for e in aws.sent()] == [
        (naming.email_template("test", "order-confirmation"), ["ann@customers.example"])
    ]


def test_an_event_redriven_after_its_idempotency_record_expired_is_emailed_once(
    aws: Any, customer_event: EventFactory
) -> None:
    # GIVEN an email sent, whose once-only record has since expired: a DLQ redrive gives the
    # message a new id and restarts its retention, so it can come back after 15 days
    event = customer_event("payment.completed", email="lee@customers.example")
    assert deliver(sqs_record(event, message_id="m-first")) == []
    assert aws.expire_idempotency_records() > 0

    # WHEN the event is redriven once more, into a fresh container
    bootstrap.service.cache_clear()
    failed = deliver(sqs_record(event, message_id="m-redriven"))

    # THEN the sent-email ledger decided: SES sent exactly one email
    assert failed == []
    assert [e.recipients for e in aws.sent()] == [["lee@customers.example"]]


def test_three_copies_in_one_batch_send_one_email(aws: Any, customer_event: EventFactory) -> None:
    event = customer_event("order.shipped")

    failed = deliver(*(sqs_record(event, message_id=f"m-{n}") for n in range(3)))

    assert failed == []
    assert len(aws.sent()) == 1


def test_each_event_type_gets_its_template_sent_to_its_customer(
    aws: Any, customer_event: EventFactory, emitted_metrics: Metrics
) -> None:
    # GIVEN one event of every templated type, each for a different customer
    events = {t: customer_event(t, email=address(t)) for t in sorted(TEMPLATES)}

    # WHEN they arrive in one batch
    failed = deliver(*(sqs_record(e) for e in events.values()))

    # THEN each customer got the type's template, from the sender, with the event as data
    assert failed == []
    sent = {e.recipients[0]: e for e in aws.sent()}
    assert set(sent) == {address(t) for t in TEMPLATES}
    for event_type, event in events.items():
        email = sent[address(event_type)]
        assert email.template == naming.email_template("test", TEMPLATES[event_type])
        assert email.recipients == [address(event_type)]
        assert email.sender == "orders@shop.example"
        assert email.data["order_id"] == event.order_id
        assert email.data["event_type"] == event_type
        assert "payment_token" not in email.data
    # AND one EmailsSent per template was emitted
    metrics = emitted_metrics()
    assert {k: v for k, v in metrics.items() if k[0] == "EmailsSent"} == {
        ("EmailsSent", template): 1 for template in TEMPLATES.values()
    }


def test_a_type_without_template_is_acknowledged_and_skipped(
    aws: Any, customer_event: EventFactory, emitted_metrics: Metrics
) -> None:
    # GIVEN an order.refunded event, routed here but with no template
    refunded = customer_event("order.refunded")

    # WHEN it is delivered
    failed = deliver(sqs_record(refunded))

    # THEN it is acknowledged (not failed), nothing is sent, and it counts as skipped
    assert failed == []
    assert aws.sent() == []
    metrics = emitted_metrics()
    assert metrics[("Skipped", "")] == 1
    assert metrics[("Failed", "")] == 0


def test_ses_throttling_fails_only_that_record_and_its_retry_sends_it_once(
    aws: Any, customer_event: EventFactory, service_logs: io.StringIO
) -> None:
    # GIVEN three orders, and SES throttling the sends to one of the customers
    events = {
        name: customer_event("order.created", email=f"{name}@customers.example")
        for name in ("ann", "bob", "cy")
    }
    records = {name: sqs_record(e, message_id=f"m-{name}") for name, e in events.items()}
    aws.fail_sends_to(
        "bob@customers.example", 429, "TooManyRequestsException", "Maximum sending rate exceeded."
    )

    # WHEN the batch is delivered
    failed = deliver(*records.values())

    # THEN only bob's record failed (it will retry, then land in the DLQ); the others were sent
    assert failed == ["m-bob"]
    assert sorted(e.recipients[0] for e in aws.sent()) == [
        "ann@customers.example",
        "cy@customers.example",
    ]
    assert "EmailDeliveryError" in service_logs.getvalue()
    assert "TooManyRequestsException" in service_logs.getvalue()

    # WHEN SES recovers and SQS redelivers bob's message
    aws.heal()
    retried = deliver(sqs_record(events["bob"], message_id="m-bob", receive_count=2))

    # THEN bob's email is sent, and nobody got a second one
    assert retried == []
    assert sorted(e.recipients[0] for e in aws.sent()) == [
        "ann@customers.example",
        "bob@customers.example",
        "cy@customers.example",
    ]


def test_an_email_is_not_sent_without_time_for_it_and_its_record(
    aws: Any, customer_event: EventFactory
) -> None:
    # GIVEN an invocation with 18 s left: more than the 10 s record budget, less than the 19 s
    # a send and its once-only record need at their worst
    event = customer_event("order.created", email="ann@customers.example")
    record = sqs_record(event, message_id="m-1")

    # WHEN the record is delivered
    response = handler.handler(sqs_event([record]), FakeLambdaContext(timeout_seconds=18.0))

    # THEN SES was not called and the record goes back; its retry, with time, sends it once
    assert [i["itemIdentifier"] for i in response["batchItemFailures"]] == ["m-1"]
    assert aws.sent() == []
    assert deliver(sqs_record(event, message_id="m-1", receive_count=2)) == []
    assert [e.recipients for e in aws.sent()] == [["ann@customers.example"]]


def test_ses_unreachable_fails_the_record(
    aws: Any, customer_event: EventFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an SES endpoint nobody listens on
    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", "http://127.0.0.1:9")

    # WHEN an order's email is due
    failed = deliver(sqs_record(customer_event("order.created"), message_id="m-1"))

    # THEN the record fails (to retry later) and nothing was sent
    assert failed == ["m-1"]
    assert aws.sent() == []


def test_an_ses_error_naming_the_customer_does_not_carry_the_address(
    aws: Any, customer_event: EventFactory
) -> None:
    # GIVEN SES refusing a recipient with a message that names the address
    event = customer_event("payment.failed", email="dee@customers.example")
    aws.fail_sends_to(
        "dee@customers.example",
        400,
        "MessageRejected",
        NOT_VERIFIED.format(address="dee@customers.example"),
    )
    sender = SesEmailSender(boto3.client("sesv2"), sender="orders@shop.example", stage="test")
    email = email_for(event)
    assert email is not None

    # WHEN the send fails
    with pytest.raises(EmailDeliveryError) as raised:
        sender.send(email)

    # THEN neither our error nor the botocore error under it (what X-Ray records) has the address
    assert "MessageRejected" in str(raised.value)
    assert "dee@customers.example" not in str(raised.value)
    assert "dee@customers.example" not in str(raised.value.__cause__)
    assert "d***@c***" in str(raised.value.__cause__)


def test_the_logs_of_a_full_batch_carry_no_customer_email(
    aws: Any, customer_event: EventFactory, service_logs: io.StringIO
) -> None:
    # GIVEN a batch with every type routed here, a duplicate, and one send SES refuses
    # with an error that names the customer
    events = [customer_event(t, email=address(t)) for t in sorted(consumed_by("notifications"))]
    records = [sqs_record(e) for e in events] + [sqs_record(events[0])]
    refused = address("payment.completed")
    aws.fail_sends_to(refused, 400, "MessageRejected", NOT_VERIFIED.format(address=refused))

    # WHEN the batch is handled
    failed = deliver(*records)

    # THEN the logs tell the story (sends, a skip, a failure) without one customer address
    output = service_logs.getvalue()
    assert len(failed) == 1
    lines = [json.loads(line) for line in output.splitlines()]
    messages = {line["message"] for line in lines}
    assert {"email sent", "email skipped", "email already_sent", "record failed"} <= messages
    for event in events:
        assert event.customer_email not in output  # type: ignore[attr-defined]
    assert "@customers.example" not in output
    assert "p***@c***" in output  # the refusal was logged, with the address masked
