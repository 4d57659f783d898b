"""Slow providers, batches near their timeout, refunds racing their charges: effects once.

A slow email provider and a slow card provider make batches run close to the function's timeout
(30 real seconds: 20 of them before the record budget stops new records, 11 before an email or a
charge is no longer started); each function runs with its template's concurrency (as far as the
machine holds); every refunded order's refund is published before its charge, so the two race
through payment's environments. The consumer shell starts a record only with its time budget
left, and an effect only with the time it and its record need at their worst (19 s), so no
timeout cuts a send or a charge off from its once-only record: no email goes out twice and no
refund is missing (the refund that overtook its charge waits for it). A record not started still
used a receive; it comes back ahead of records received fewer times and has five receives (the
templates' MaxReceiveCount) to find the time. One that finds none parks in its DLQ unstarted, an
effect missing until it is redriven, so every DLQ must be empty here too.

CI runs ``RACE_ORDERS`` orders; ``ORDERFLOW_E2E_RACE_ORDERS=1000`` runs the long version.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from orderflow.contracts import EventEnvelope, OrderCancelled, OrderCreated, OrderRefunded
from orderflow.local.faults import DependencyFault, FaultPlan, GatewayFault
from orderflow.local.runtime import INVOCATION_LOG

from .conftest import LocalRun, mismatches, traffic

pytestmark = pytest.mark.e2e

RACE_ORDERS = int(os.environ.get("ORDERFLOW_E2E_RACE_ORDERS", "40"))
REFUND_EVERY = 4
"""One order in four is refunded (traffic alone refunds about one in thirteen)."""
SECONDS_PER_ORDER = 6.0
"""Settle guard per order: slow providers on a shared 2-core machine (a guard, not a wait)."""


def refunds_first(events: list[EventEnvelope], seed: int) -> list[EventEnvelope]:
    """``events`` with more orders refunded, each refund published just before its order."""
    rng = random.Random(seed)
    refunded = {e.order_id for e in events if isinstance(e, OrderRefunded)}
    cancelled = {e.order_id for e in events if isinstance(e, OrderCancelled)}
    refunds: dict[str, OrderRefunded] = {
        e.order_id: e for e in events if isinstance(e, OrderRefunded)
    }
    creates = [e for e in events if isinstance(e, OrderCreated)]
    for n, order in enumerate(creates):
        if n % REFUND_EVERY or order.order_id in refunded | cancelled:
            continue
        refunds[order.order_id] = OrderRefunded(
            event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
            occurred_at=order.occurred_at,
            order_id=order.order_id,
            correlation_id=order.correlation_id,
            producer=order.producer,
            customer_email=order.customer_email,
            amount=order.total,
            reason="returned before it was charged",
        )
    racing: list[EventEnvelope] = []
    for event in events:
        if isinstance(event, OrderRefunded):
            continue  # published ahead of its order instead
        if isinstance(event, OrderCreated) and event.order_id in refunds:
            racing.append(refunds[event.order_id])
        racing.append(event)
    return racing


def invocations(run: LocalRun) -> list[dict[str, object]]:
    log = Path(run.runtime.run_dir) / INVOCATION_LOG
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def test_slow_providers_and_racing_refunds_send_no_email_twice_and_miss_no_refund(
    local_run: Callable[..., LocalRun],
) -> None:
    # GIVEN a slow email provider, a slow card provider, the clock at x10 (retries come back
    # soon) and each function at its template's concurrency
    plan = FaultPlan(
        gateway=GatewayFault(latency_ms=250),
        dependencies={
            "notifications": {"sesv2": DependencyFault(latency_ms=300)},
            "analytics": {"dynamodb": DependencyFault(latency_ms=20)},
        },
        seed=17,
    )
    # Payment's BatchSize as its template advises for a slow gateway: records run one after
    # another, and a refund that overtook its charge has maxReceiveCount tries to see it.
    run = local_run(plan, clock_factor=10.0, stack_overrides={"payment": {"BatchSize": "5"}})
    events = refunds_first(traffic(RACE_ORDERS, seed=17), seed=17)
    run.seed_for(events)
    # WHEN the burst goes in, every refund ahead of its charge
    run.publish(events)
    run.settle(timeout=120 + SECONDS_PER_ORDER * RACE_ORDERS)
    # THEN no email went out twice, no refund is missing, and everything else reconciles too
    timed_out = sum(1 for i in invocations(run) if i["outcome"] == "timeout")
    result = run.reconciliation()
    checks = {(c.area, c.name): c for c in result.checks}
    twice = checks[("notifications", "emails sent twice for one event")]
    refunds = checks[("payment", "refunds (one per refunded order)")]
    assert twice.actual == "0", f"{timed_out} invocation(s) timed out"
    assert refunds.actual == refunds.expected
    assert int(refunds.expected) >= RACE_ORDERS // REFUND_EVERY // 2
    assert result.ok, [*mismatches(result), f"{timed_out} invocation(s) timed out"]
