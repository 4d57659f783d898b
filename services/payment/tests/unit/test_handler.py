"""The Lambda handler over in-memory ports: partial batch responses with AWS-shaped events."""

from __future__ import annotations

import pytest

from orderflow.consumer import SqsConsumer
from orderflow.payment import bootstrap
from orderflow.payment import handler as payment
from orderflow.testing import FakeLambdaContext, make_order, sqs_event, sqs_record

# The in-memory desk reports outcomes to a list, so the handler's EMF flush has nothing to send.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def container(desk, monkeypatch):
    """A warm container whose wiring is the in-memory desk and which has no failure ledger."""
    monkeypatch.delenv("FAILURE_LEDGER_TABLE", raising=False)
    monkeypatch.setattr(payment, "consumer", SqsConsumer("payment", logger=payment.logger))
    monkeypatch.setattr(
        bootstrap, "wiring", lambda observer: bootstrap.Wiring(cashier=desk.cashier, once=desk.once)
    )
    return desk


def test_a_poison_record_fails_alone_and_the_other_nine_are_charged(container):
    # GIVEN a batch of 10 SQS records with SNS bodies, one of them not JSON at all
    orders = [make_order(f"ord-{i}") for i in range(9)]
    records = [sqs_record(order) for order in orders]
    poison = sqs_record("{not json", message_id="poison-1")
    records.insert(4, poison)

    # WHEN the handler processes the batch
    response = payment.handler(sqs_event(records), FakeLambdaContext())

    # THEN exactly the poison record is reported failed, and the nine orders were charged once
    assert response == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
    assert dict(container.gateway.charges) == {o.order_id: 1 for o in orders}
    assert len(container.topic.ids("payment.completed")) == 9


def test_a_decline_is_not_reported_as_a_failure(container):
    # GIVEN an order.created whose card is declined
    record = sqs_record(make_order("ord-d", payment_token="tok_decline"))

    # WHEN the handler processes it
    response = payment.handler(sqs_event([record]), FakeLambdaContext())

    # THEN the record succeeded (no retry) and payment.failed went out
    assert response == {"batchItemFailures": []}
    assert len(container.topic.ids("payment.failed")) == 1


def test_each_invocation_registers_its_context_for_in_progress_expiry(container):
    # GIVEN an invocation context
    context = FakeLambdaContext()

    # WHEN the handler runs
    payment.handler(sqs_event([sqs_record(make_order())]), context)

    # THEN the once-only store knows the invocation's deadline
    assert container.once.contexts == [context]
