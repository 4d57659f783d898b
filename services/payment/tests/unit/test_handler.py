"""The Lambda entry over in-memory ports: partial batch responses with AWS-shaped events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from orderflow import idempotency
from orderflow.consumer import LambdaEntry, SqsConsumer
from orderflow.idempotency import OnceOnly
from orderflow.payment import bootstrap
from orderflow.payment import handler as payment
from orderflow.testing import FakeLambdaContext, make_order, sqs_event, sqs_record

# The in-memory desk reports outcomes to a list, so the entry's EMF flush has only Failed.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def container(desk, monkeypatch):
    """A warm container whose cashier is the in-memory desk's and which has no failure ledger."""
    monkeypatch.delenv("FAILURE_LEDGER_TABLE", raising=False)
    return LambdaEntry(bootstrap.SERVICE, lambda telemetry: desk.cashier), desk


def test_a_poison_record_fails_alone_and_the_other_nine_are_charged(container):
    entry, desk = container
    # GIVEN a batch of 10 SQS records with SNS bodies, one of them not JSON at all
    orders = [make_order(f"ord-{i}") for i in range(9)]
    records = [sqs_record(order) for order in orders]
    poison = sqs_record("{not json", message_id="poison-1")
    records.insert(4, poison)

    # WHEN the handler processes the batch
    response = entry(sqs_event(records), FakeLambdaContext())

    # THEN exactly the poison record is reported failed, and the nine orders were charged once
    assert response == {"batchItemFailures": [{"itemIdentifier": "poison-1"}]}
    assert dict(desk.gateway.charges) == {o.order_id: 1 for o in orders}
    assert len(desk.topic.ids("payment.completed")) == 9


def test_a_decline_is_not_reported_as_a_failure(container):
    entry, desk = container
    # GIVEN an order.created whose card is declined
    record = sqs_record(make_order("ord-d", payment_token="tok_decline"))

    # WHEN the handler processes it
    response = entry(sqs_event([record]), FakeLambdaContext())

    # THEN the record succeeded (no retry) and payment.failed went out
    assert response == {"batchItemFailures": []}
    assert len(desk.topic.ids("payment.failed")) == 1


@pytest.fixture
def wired_container(monkeypatch) -> Iterator[list[OnceOnly]]:
    """A new container configured as the stack configures it; the OnceOnly stores it builds."""
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:orderflow-test-order-events",
        "PAYMENTS_TABLE": "orderflow-test-payment-payments",
        "IDEMPOTENCY_TABLE": "orderflow-test-payment-idempotency",
        "PAYMENT_GATEWAY": "simulated",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FAILURE_LEDGER_TABLE", raising=False)
    built: list[OnceOnly] = []

    class Built(OnceOnly):
        """The real OnceOnly, remembered when the wiring builds one."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(idempotency, "OnceOnly", Built)
    monkeypatch.setattr(
        payment.handler, "consumer", SqsConsumer("payment", logger=payment.handler.telemetry.logger)
    )
    bootstrap.service.cache_clear()
    yield built
    bootstrap.service.cache_clear()


def test_each_invocation_registers_its_context_on_the_wirings_once_only_store(wired_container):
    # GIVEN a container whose wiring builds the real once-only store on the idempotency table
    # (on an in-process moto with no tables: the order fails there, after the wiring)
    batch = sqs_event([sqs_record(make_order("ord-ctx"), message_id="m-ctx")])
    first, second = FakeLambdaContext(), FakeLambdaContext()

    # WHEN two invocations run in it
    with mock_aws():
        assert payment.handler(batch, first)["batchItemFailures"] == [{"itemIdentifier": "m-ctx"}]
        (once,) = wired_container
        assert once.lambda_context is first
        payment.handler(batch, second)

    # THEN the store was built once, on the idempotency table, and knows the latest
    # invocation's deadline (for in-progress expiry)
    assert wired_container == [once]
    assert once.table_name == "orderflow-test-payment-idempotency"
    assert once.lambda_context is second
