"""On the local runtime, run as Lambda runs it, an order's trace holds what payment publishes.

The functions start with Lambda's environment (so Powertools' Tracer is on, as on AWS), and
``orderflow trace`` reads the order back from X-Ray: payment's ``payment.completed`` must reach
notifications and analytics inside the order's trace, not the trace of payment's invocation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from orderflow.contracts import OrderCreated
from orderflow.local.runtime import LocalRuntime
from orderflow.messaging import EventPublisher
from orderflow.observability.tracing import DAEMON_ADDRESS_ENV, traced_work
from orderflow.platform.tracing import Span, TraceNotFoundError, order_journey
from orderflow.testing import make_order

from .conftest import PIPELINE, PIPELINE_FAULTS, LocalRun, mismatches

pytestmark = pytest.mark.e2e

TRACE_TIMEOUT = 180.0
PAYMENT_COMPLETED_CONSUMERS = {"notifications", "analytics"}


def spans(roots: list[Span]) -> Iterator[tuple[Span | None, Span]]:
    """(parent, span) for every span of the trees."""
    stack: list[tuple[Span | None, Span]] = [(None, root) for root in roots]
    while stack:
        parent, span = stack.pop()
        yield parent, span
        stack.extend((span, child) for child in span.children)


def payment_completed_handled(roots: list[Span]) -> set[str]:
    """The services whose work on payment.completed shows in these trees."""
    return {
        s.name for _, s in spans(roots) if s.annotations.get("event_type") == "payment.completed"
    }


def journey_with_payment_completed(runtime: LocalRuntime, order_id: str) -> list[Span]:
    """The order's journey once both consumers of payment.completed show in X-Ray (or as it is).

    Polled: the pipeline and the daemon's uploads run on their own; the timeout is a guard.
    """
    deadline = time.monotonic() + TRACE_TIMEOUT
    roots: list[Span] = []
    while time.monotonic() < deadline:
        runtime.xray_daemon.flush()
        try:
            roots = order_journey(runtime.client("xray"), order_id)
        except TraceNotFoundError:
            roots = []
        if payment_completed_handled(roots) >= PAYMENT_COMPLETED_CONSUMERS:
            return roots
        time.sleep(0.5)  # a guard between polls of X-Ray, not a synchronisation
    return roots


@pytest.mark.e2e_runtime(PIPELINE)
def test_payment_completed_stays_in_its_orders_trace(
    local_run: Callable[..., LocalRun], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the order API publishing one order inside its own traced work
    run = local_run(PIPELINE_FAULTS)
    runtime = run.runtime
    order: OrderCreated = make_order("ord-trace-e2e", items=(("sku-mug", 1, "12.00"),))
    run.seed_for([order])
    monkeypatch.setenv(DAEMON_ADDRESS_ENV, runtime.xray_daemon.address)
    annotations = {"order_id": order.order_id, "event_type": order.TYPE, "service": "order-api"}
    with traced_work("order-api", None, annotations) as published:
        EventPublisher(run.resources.topic_arn, client=run.client("sns")).publish(order)
    run.record([order])
    assert published is not None

    # WHEN the pipeline handles it: payment charges and publishes payment.completed, which
    # notifications and analytics consume
    roots = journey_with_payment_completed(runtime, order.order_id)

    # THEN the order's journey is one trace, rooted at the order API's publish ...
    assert [r.name for r in roots] == ["order-api"], [r.to_dict() for r in roots]
    (root,) = roots
    assert root.trace_id == published.trace_id
    everything = list(spans(roots))
    assert {s.trace_id for _, s in everything} == {published.trace_id}
    # ... where notifications and analytics handle payment.completed beneath payment's work
    handled = [
        (p, s) for p, s in everything if s.annotations.get("event_type") == "payment.completed"
    ]
    assert {s.name for _, s in handled} == PAYMENT_COMPLETED_CONSUMERS
    assert {p.name for p, _ in handled if p is not None} == {"payment"}
    # ... and payment's own annotation (through its Tracer) is on the order's segment
    (payment,) = [s for _, s in everything if s.name == "payment"]
    assert payment.annotations["payment_status"] == "paid"
    # AND the order went through everything else too
    run.settle()
    result = run.reconciliation()
    assert result.ok, mismatches(result)
