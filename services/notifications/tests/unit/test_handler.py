"""The Lambda entry over in-memory ports: partial failures, skips, duplicates, metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from orderflow.consumer import LambdaEntry
from orderflow.contracts import EventEnvelope, consumed_by
from orderflow.notifications import bootstrap
from orderflow.notifications.adapters.memory import MemoryObserver
from orderflow.notifications.adapters.telemetry import NotificationsTelemetry
from orderflow.notifications.domain import TEMPLATES, Notifier
from orderflow.settings import ConfigError
from orderflow.testing import FakeLambdaContext, sqs_event, sqs_record

EventFactory = Callable[..., EventEnvelope]
Metrics = Callable[[], dict[tuple[str, str], float]]


def address(event_type: str) -> str:
    return f"{event_type.replace('.', '-')}@customers.example"


@pytest.fixture
def entry(fakes: Any, monkeypatch: pytest.MonkeyPatch) -> LambdaEntry:
    """The service's entry as its handler builds it, over the in-memory ports (no ledger)."""
    monkeypatch.delenv("FAILURE_LEDGER_TABLE", raising=False)

    def service(telemetry: Any) -> Notifier:
        return Notifier(
            sender=fakes.sender,
            once=fakes.once,
            sent=fakes.sent,
            observer=NotificationsTelemetry(telemetry),
        )

    return LambdaEntry(bootstrap.SERVICE, service)


def test_a_batch_fails_only_the_record_whose_email_was_refused(
    customer_event: EventFactory, fakes: Any, entry: LambdaEntry, emitted_metrics: Metrics
) -> None:
    # GIVEN one event of every type routed here, and a provider refusing one customer
    routed = sorted(consumed_by("notifications"))
    records = [sqs_record(customer_event(t, email=address(t)), message_id=f"m-{t}") for t in routed]
    fakes.sender.refuse.add(address("order.shipped"))

    # WHEN the batch is handled
    response = entry(sqs_event(records), FakeLambdaContext())

    # THEN only that record returns to the queue; every other templated event got its email
    assert response["batchItemFailures"] == [{"itemIdentifier": "m-order.shipped"}]
    sent = sorted((e.template, e.recipient) for e in fakes.sender.sent)
    expected = sorted((TEMPLATES[t], address(t)) for t in TEMPLATES if t != "order.shipped")
    assert sent == expected
    # AND the metrics say so: one per template sent, one skip (order.refunded), one failure
    metrics = emitted_metrics()
    for event_type, template in TEMPLATES.items():
        expected = 0 if event_type == "order.shipped" else 1
        assert metrics.get(("EmailsSent", template), 0) == expected
    assert metrics[("Skipped", "")] == 1
    assert metrics[("Failed", "")] == 1


def test_duplicate_records_in_one_batch_send_one_email(
    customer_event: EventFactory, fakes: Any, entry: LambdaEntry, emitted_metrics: Metrics
) -> None:
    # GIVEN the same event delivered three times in one batch (SNS duplicates)
    event = customer_event("payment.completed")
    records = [sqs_record(event, message_id=f"m-{n}") for n in range(3)]

    # WHEN the batch is handled
    response = entry(sqs_event(records), FakeLambdaContext())

    # THEN all three are acknowledged, one email went out, two duplicates were counted
    assert response["batchItemFailures"] == []
    assert [e.key for e in fakes.sender.sent] == [f"email-{event.event_id}"]
    metrics = emitted_metrics()
    assert metrics[("EmailsSent", "payment-receipt")] == 1
    assert metrics[("Duplicates", "")] == 2
    assert metrics[("Failed", "")] == 0


def test_a_missing_setting_is_named() -> None:
    environ = {"STAGE": "test", "IDEMPOTENCY_TABLE": "i", "SENT_EMAILS_TABLE": "s"}

    with pytest.raises(ConfigError, match="SENDER_ADDRESS is not set"):
        bootstrap.build(environ, observer=MemoryObserver())
