"""Failure records group the same bug under one fingerprint and survive repeated failures."""

from __future__ import annotations

import json

import pytest

from orderflow.consumer import SqsConsumer
from orderflow.failures import FailureLedger, fingerprint
from orderflow.observability import build_logger
from orderflow.testing import FakeLambdaContext, make_order, sqs_event, sqs_record


def test_fingerprint_ignores_ids_numbers_and_emails() -> None:
    a = fingerprint("inventory", "StockError", "order ord-42 needs 3 of sku-7 for a@b.com")
    b = fingerprint("inventory", "StockError", "order ord-99 needs 12 of sku-3 for c@d.org")

    assert a == b


def test_fingerprint_separates_kinds_and_services() -> None:
    base = fingerprint("payment", "GatewayError", "gateway timed out")

    assert base != fingerprint("payment", "ValueError", "gateway timed out")
    assert base != fingerprint("payment", "GatewayError", "card expired")
    assert base != fingerprint("inventory", "GatewayError", "gateway timed out")


@pytest.mark.functional
def test_a_record_keeps_first_seen_and_counts_every_failure(ledger: FailureLedger) -> None:

    for receive_count in (1, 2, 3):
        ledger.record(
            message_id="m-1",
            service="analytics",
            error=KeyError("no projection for ord-1"),
            event_type="order.shipped",
            order_id="ord-1",
            receive_count=receive_count,
        )
    ledger.record(message_id="m-2", service="analytics", error=KeyError("no projection for ord-2"))

    found = ledger.lookup(["m-1", "m-2", "m-unknown"])
    assert set(found) == {"m-1", "m-2"}
    first = found["m-1"]
    assert (first.failures, first.receive_count, first.exception_type) == (3, 3, "KeyError")
    assert first.first_seen <= first.last_seen
    assert first.event_type == "order.shipped"
    assert found["m-2"].fingerprint == first.fingerprint


@pytest.mark.functional
@pytest.mark.parametrize("raw", [False, True], ids=["sns-wrapped", "raw-delivery"])
def test_a_contract_violation_is_recorded_with_the_order_id_it_names(
    ledger: FailureLedger, raw: bool
) -> None:
    # GIVEN a consumer with a ledger, and an order whose total is a JSON float
    document = json.loads(make_order("ord-float").model_dump_json())
    document["total"]["amount"] = 10.0
    event = json.dumps(document)
    body = event if raw else json.dumps({"Type": "Notification", "Message": event})
    poisoned = json.loads(make_order("ord-2").model_dump_json())
    poisoned.update(order_id="jane@example.com", items=[])
    records = [
        sqs_record(body, message_id="m-float"),
        sqs_record(json.dumps(poisoned), message_id="m-email"),
    ]

    # WHEN the batch is processed
    consumer = SqsConsumer("payment", logger=build_logger("payment"), failure_ledger=ledger)
    response = consumer.process(sqs_event(records), FakeLambdaContext(), lambda _: None)  # type: ignore[arg-type]

    # THEN both fail, and the ledger names the order of the first (dlq inspect shows it),
    # while an "order id" that is no valid one is not recorded as one
    assert len(response["batchItemFailures"]) == 2
    found = ledger.lookup(["m-float", "m-email"])
    assert found["m-float"].exception_type == "ContractViolationError"
    assert found["m-float"].order_id == "ord-float"
    assert found["m-email"].order_id == "-"
