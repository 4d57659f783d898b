"""The pipeline on the local runtime under injected faults: every effect still happens once."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from orderflow.failures import FailureLedger
from orderflow.local.faults import DependencyFault, FaultPlan

from .conftest import LocalRun, mismatches

pytestmark = pytest.mark.e2e


def test_reconciliation_holds_with_twenty_percent_duplicate_deliveries(
    local_run: Callable[..., LocalRun],
) -> None:
    # GIVEN SQS delivering a second copy of one message in five
    run = local_run(FaultPlan(duplicate_delivery_rate=0.2, seed=11))
    # WHEN a burst of orders goes through
    run.publish(run.orders(12, seed=11))
    run.settle()
    # THEN duplicates were delivered, and still every effect happened exactly once
    duplicates = sum(w.snapshot().duplicates for w in run.runtime.workers.values())
    assert duplicates > 0
    result = run.reconciliation()
    assert result.ok, mismatches(result)


def test_a_crash_after_the_side_effects_never_doubles_an_effect(
    local_run: Callable[..., LocalRun],
) -> None:
    # GIVEN every function's first two invocations dying after their side effects, before
    # Lambda could delete the batch
    crashing = dict.fromkeys(("payment", "inventory", "notifications", "analytics"), 1.0)
    run = local_run(FaultPlan(crash_after_side_effects=crashing, crash_limit=2, seed=5))
    # WHEN a burst goes through (the crashed batches come back after their visibility timeout)
    run.publish(run.orders(8, seed=5))
    run.settle()
    # THEN every function crashed twice, and no charge, email or stock movement doubled
    crashes = {name: w.snapshot().invocations["crash"] for name, w in run.runtime.workers.items()}
    assert crashes == dict.fromkeys(crashing, 2)
    result = run.reconciliation()
    assert result.ok, mismatches(result)


def test_malformed_messages_end_in_the_dlq_with_their_failure_recorded(
    local_run: Callable[..., LocalRun],
) -> None:
    # GIVEN two receives before a message is dead-lettered, and a run that publishes four kinds
    # of malformed messages once it is up
    two_tries = {"MaxReceiveCount": "2"}
    run = local_run(
        FaultPlan(malformed_messages=4),
        clock_factor=12.0,
        stack_overrides=dict.fromkeys(
            ("payment", "inventory", "notifications", "analytics"), two_tries
        ),
    )
    malformed = run.runtime.malformed
    # WHEN good orders go through with them
    run.publish(run.orders(5, seed=3))
    run.settle()
    # THEN each DLQ holds exactly the malformed messages routed to it (analytics takes every
    # type, the others the three that claim to be order.created) ...
    sqs = run.client("sqs")
    ledger = FailureLedger(run.resources.failure_ledger_table, run.client("dynamodb"))
    expected_depth = {"analytics": 4, "payment": 3, "inventory": 3, "notifications": 3}
    for service, depth in expected_depth.items():
        url = run.resources.services[service].dlq_url
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        carried = [json.loads(m["Body"])["Message"] for m in messages]
        assert len(carried) == depth, service
        assert set(carried) <= set(malformed), service
        ids = [m["MessageId"] for m in messages]
        # ... with why each failed recorded under its message id
        records = ledger.lookup(ids)
        assert sorted(records) == sorted(ids), service
        assert {r.service for r in records.values()} == {service}
        assert {r.exception_type for r in records.values()} <= {
            "MalformedMessageError",
            "ContractViolationError",
            "UnknownEventTypeError",
        }
    # AND the good orders were not affected: everything else reconciles
    result = run.reconciliation()
    not_parked = [m for m in mismatches(result) if "-dlq empty" not in m]
    assert not_parked == []


def test_a_slow_email_provider_does_not_delay_payments(local_run: Callable[..., LocalRun]) -> None:
    # GIVEN SES answering every send a quarter of a second late
    slow_ses = FaultPlan(dependencies={"notifications": {"sesv2": DependencyFault(latency_ms=250)}})
    run = local_run(slow_ses, clock_factor=4.0)
    # WHEN a burst goes through
    run.publish(run.orders(10, seed=9))
    run.settle()
    # THEN payment finished its share before notifications finished theirs
    payment = run.runtime.workers["payment"].snapshot()
    notifications = run.runtime.workers["notifications"].snapshot()
    assert payment.last_success is not None
    assert notifications.last_success is not None
    assert payment.last_success < notifications.last_success
    result = run.reconciliation()
    assert result.ok, mismatches(result)
