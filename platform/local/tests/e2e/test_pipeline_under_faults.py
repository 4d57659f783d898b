"""The pipeline on the local runtime under injected faults: every effect still happens once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest

from orderflow.analytics.adapters.dynamodb import AnalyticsTables, DynamoAnalyticsStore
from orderflow.analytics.rebuild import rebuild
from orderflow.contracts import SERVICES, EventEnvelope, OrderCancelled, OrderRefunded
from orderflow.failures import FailureLedger
from orderflow.local.faults import FaultPlan, publish_malformed

from .conftest import (
    PIPELINE,
    PIPELINE_FAULTS,
    QUIET_TIMEOUT,
    SLOW_EMAIL,
    LocalRun,
    mismatches,
)

pytestmark = pytest.mark.e2e

STORM = "storm"
STORM_FAULTS = FaultPlan(
    duplicate_delivery_rate=0.2,
    crash_after_side_effects=dict.fromkeys(SERVICES, 1.0),
    crash_limit=2,
    seed=11,
)
"""The storm runtime: SQS delivers a second copy of one message in five (sent while the first
is still being handled, so another environment can take it at the same time), and each
function's first two invocations die after their side effects, before Lambda deletes the
batch."""


@pytest.mark.e2e_runtime(STORM)
def test_a_crash_after_the_side_effects_never_doubles_an_effect(
    local_run: Callable[..., LocalRun],
) -> None:
    # GIVEN a fresh storm runtime: every function's first two invocations die after their side
    # effects, before Lambda could delete the batch
    run = local_run(STORM_FAULTS)
    # WHEN a burst goes through (the crashed batches come back after their visibility timeout)
    run.publish(run.orders(8, seed=5))
    run.settle()
    # THEN every function crashed twice on this burst, and no charge, email or stock movement
    # doubled
    crashes = {
        service: sum(
            1 for i in run.invocations() if i["service"] == service and i["outcome"] == "crash"
        )
        for service in SERVICES
    }
    assert crashes == dict.fromkeys(SERVICES, 2)
    result = run.reconciliation()
    assert result.ok, mismatches(result)


def overlapping_copies(
    invocations: Iterable[Mapping[str, Any]], service: str, single_event_orders: set[str]
) -> set[str]:
    """Orders whose one event ``service`` handled in two invocations running at the same time.

    Invocations that overlap in time ran in two environments (an environment runs one at a
    time); an order that routes one event only to ``service`` appearing in both is that event
    delivered twice at once.
    """
    own = [i for i in invocations if i["service"] == service]
    found: set[str] = set()
    for n, first in enumerate(own):
        for second in own[n + 1 :]:
            if first["started"] < second["ended"] and second["started"] < first["ended"]:
                found |= set(first["order_ids"]) & set(second["order_ids"]) & single_event_orders
    return found


def analytics_store(run: LocalRun) -> DynamoAnalyticsStore:
    outputs = run.resources.services["analytics"].outputs
    return DynamoAnalyticsStore(
        run.client("dynamodb"),
        AnalyticsTables(
            events=outputs["EventStoreTableName"],
            order_status=outputs["OrderStatusTableName"],
            hourly_metrics=outputs["HourlyMetricsTableName"],
        ),
    )


def orders_with_one_event_for_payment_and_inventory(events: Iterable[EventEnvelope]) -> set[str]:
    """Orders neither cancelled nor refunded: payment and inventory get one event of each."""
    events = list(events)
    followed = {e.order_id for e in events if isinstance(e, OrderCancelled | OrderRefunded)}
    return {e.order_id for e in events} - followed


@pytest.mark.e2e_runtime(STORM)
def test_reconciliation_holds_with_twenty_percent_duplicate_deliveries(
    local_run: Callable[..., LocalRun],
) -> None:
    # GIVEN SQS delivering a second copy of one message in five, and an order API that
    # publishes every event of its burst twice at once (a storm of duplicates, some of them
    # handled by two environments at the same time), every event on the topic watched
    run = local_run(STORM_FAULTS)
    events = run.orders(12, seed=11)
    tap = run.tap()
    # WHEN the burst goes through
    run.publish(events, copies=2)
    run.settle()
    invocations = run.invocations()
    # THEN duplicates were delivered, some to two environments at once ...
    assert sum(i["duplicates"] for i in invocations) > 0
    single = orders_with_one_event_for_payment_and_inventory(events)
    at_once = {s: overlapping_copies(invocations, s, single) for s in ("payment", "inventory")}
    assert any(at_once.values()), "no event was handled by two environments at once"
    # ... and still every effect happened exactly once
    result = run.reconciliation()
    assert result.ok, mismatches(result)
    # AND analytics' live projections equal a rebuild from its event store ...
    store = analytics_store(run)
    report = rebuild(store)
    assert report.equal, report.differences
    # ... which holds every event the topic carried: the burst's and what payment and
    # inventory published in answer (no event a consumer processed is missing)
    carried = tap.drain()
    assert {e.TYPE for e in carried} >= {"order.created", "payment.completed"}
    stored = {str(e.event_id) for e in store.events()}
    assert sorted(str(e.event_id) for e in carried if str(e.event_id) not in stored) == []


def clear_dlq(sqs: Any, url: str) -> int:
    """Take every message out of a DLQ (as an operator does once they are dealt with)."""
    cleared = 0
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        cleared += len(messages)
    return cleared


@pytest.mark.e2e_runtime(PIPELINE)
def test_malformed_messages_end_in_the_dlq_with_their_failure_recorded(
    local_run: Callable[..., LocalRun],
) -> None:
    # GIVEN four kinds of malformed messages on the topic
    run = local_run(PIPELINE_FAULTS)
    malformed = publish_malformed(run.client("sns"), run.resources.topic_arn, 4)
    run.record([])  # in flight now
    # WHEN good orders go through with them (a malformed message parks after its last receive)
    run.publish(run.orders(5, seed=3))
    run.settle(timeout=QUIET_TIMEOUT + run.longest_way_to_a_dlq())
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
        assert clear_dlq(sqs, url) == depth, service
    # AND the good orders were not affected: with the malformed messages cleared from the DLQs,
    # everything reconciles
    result = run.reconciliation()
    assert result.ok, mismatches(result)


@pytest.mark.e2e_runtime(PIPELINE)
def test_a_slow_email_provider_does_not_delay_payments(local_run: Callable[..., LocalRun]) -> None:
    # GIVEN SES answering every send a quarter of a second late
    run = local_run(PIPELINE_FAULTS)
    assert PIPELINE_FAULTS.dependencies["notifications"]["sesv2"] == SLOW_EMAIL
    # WHEN a burst goes through
    run.publish(run.orders(10, seed=9))
    run.settle()
    # THEN payment finished its share of the burst before notifications finished theirs
    invocations = run.invocations()
    succeeded = {
        service: [i["ended"] for i in invocations if i["service"] == service and i["succeeded"]]
        for service in ("payment", "notifications")
    }
    assert all(succeeded.values()), succeeded
    assert max(succeeded["payment"]) < max(succeeded["notifications"])
    result = run.reconciliation()
    assert result.ok, mismatches(result)
