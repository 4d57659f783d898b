"""The batch shell fails only the records that fail, and records why."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orderflow.consumer import SqsConsumer
from orderflow.contracts import OrderCreated, OrderEvent
from orderflow.failures import FailureLedger
from orderflow.observability import build_logger
from orderflow.testing import FakeLambdaContext, make_order, sqs_event, sqs_record


def consumer(ledger: FailureLedger | None, logger_name: str = "payment") -> SqsConsumer:
    return SqsConsumer(
        "payment",
        logger=build_logger(logger_name),
        failure_ledger=ledger,
    )


def test_poison_and_malformed_records_fail_alone_and_are_recorded(ledger: FailureLedger) -> None:
    # GIVEN ten records: eight good orders, one the domain rejects, one not even JSON
    orders = [make_order(f"ord-{n}") for n in range(9)]
    records = [sqs_record(o, message_id=f"m-{n}") for n, o in enumerate(orders)]
    records.append(sqs_record("definitely not json", message_id="m-bad", receive_count=2))
    handled: list[str] = []

    def charge(event: OrderEvent) -> None:
        if event.order_id == "ord-4":
            raise ValueError(f"card for {event.order_id} cannot be charged")
        handled.append(event.order_id)

    # WHEN the batch is processed
    response = consumer(ledger).process(sqs_event(records), FakeLambdaContext(), charge)  # type: ignore[arg-type]

    # THEN exactly the two bad records are reported, the rest handled once
    failed = sorted(item["itemIdentifier"] for item in response["batchItemFailures"])
    assert failed == ["m-4", "m-bad"]
    assert sorted(handled) == sorted(f"ord-{n}" for n in range(9) if n != 4)
    found = ledger.lookup(["m-4", "m-bad"])
    assert found["m-4"].exception_type == "ValueError"
    assert found["m-4"].order_id == "ord-4"
    assert found["m-bad"].exception_type == "MalformedMessageError"
    assert found["m-bad"].receive_count == 2


def test_an_event_not_routed_to_the_service_fails(ledger: FailureLedger) -> None:
    shipped = json.loads(make_order("ord-1").model_dump_json())
    shipped.update(
        event_type="order.shipped",
        carrier="dhl",
        tracking_number="T1",
    )
    for field in ("customer_id", "items", "total", "payment_token"):
        del shipped[field]
    record = sqs_record(json.dumps(shipped), message_id="m-1")

    response = consumer(ledger).process(sqs_event([record]), FakeLambdaContext(), lambda e: None)  # type: ignore[arg-type]

    assert response["batchItemFailures"] == [{"itemIdentifier": "m-1"}]
    assert ledger.lookup(["m-1"])["m-1"].exception_type == "UnexpectedEventError"


def test_a_batch_of_good_records_reports_no_failures() -> None:
    seen: list[OrderCreated] = []
    records = [sqs_record(make_order()) for _ in range(3)]

    response = consumer(None).process(sqs_event(records), FakeLambdaContext(), seen.append)  # type: ignore[arg-type]

    assert response == {"batchItemFailures": []}
    assert len(seen) == 3


def test_logs_of_a_failing_batch_carry_no_customer_email(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A logger of its own: Powertools binds a logger's stream when it is first built.
    logger_name = "payment-masking"
    orders = [make_order(email=f"customer{n}@shop.example") for n in range(3)]

    def fail(event: Any) -> None:
        raise RuntimeError(f"could not reach {event.customer_email}")

    consumer(None, logger_name).process(
        sqs_event([sqs_record(o) for o in orders]),
        FakeLambdaContext(),  # type: ignore[arg-type]
        fail,
    )

    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert "record failed" in output
    assert "@shop.example" not in output
    assert "c***@s***" in output
