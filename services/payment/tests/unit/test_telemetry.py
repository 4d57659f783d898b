"""Outcomes become EMF metrics (first time only) and masked log lines."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from orderflow.contracts import Money, derived_event_id
from orderflow.observability import Telemetry, build_logger, build_metrics, build_tracer
from orderflow.payment.adapters.telemetry import PaymentTelemetry
from orderflow.payment.domain import (
    Payment,
    PaymentRecorded,
    PaymentStatus,
    Refund,
    RefundRecorded,
    RefundRejected,
    RefundRejection,
    RefundRejectionReason,
    outcome_event,
)
from orderflow.testing import make_order

AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


@pytest.fixture
def telemetry():
    """The observer, its metrics, and the buffer its log lines go to (formatted as in Lambda)."""
    metrics = build_metrics("payment")
    metrics.clear_metrics()
    logger = build_logger("payment")
    buffer = io.StringIO()
    stream = logger.registered_handler.setStream(buffer)
    observer = PaymentTelemetry(
        Telemetry(service="payment", logger=logger, metrics=metrics, tracer=build_tracer("payment"))
    )
    yield observer, metrics, buffer
    logger.registered_handler.setStream(stream)
    metrics.clear_metrics()


def emitted(capsys, buffer) -> tuple[dict[str, float], list[dict], list[dict]]:
    """(metric name -> value, EMF documents, log lines) written so far."""
    values: dict[str, float] = {}
    documents = []
    for line in capsys.readouterr().out.splitlines():
        document = json.loads(line)
        if "_aws" in document:
            documents.append(document)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    value = document[metric["Name"]]
                    values[metric["Name"]] = value[0] if isinstance(value, list) else value
    logs = [json.loads(line) for line in buffer.getvalue().splitlines()]
    return values, documents, logs


def recorded(status: PaymentStatus, first_time: bool) -> PaymentRecorded:
    order = make_order("ord-1", items=[("sku-1", 1, "25.50")], email="jane.doe@example.com")
    payment = Payment(
        order_id="ord-1",
        status=status,
        amount=order.total,
        charged_at=AT,
        payment_id="ch_1" if status is PaymentStatus.PAID else None,
        decline_code="card_declined" if status is PaymentStatus.DECLINED else None,
    )
    return PaymentRecorded(
        payment=payment, event=outcome_event(order, payment), first_time=first_time
    )


def test_a_first_charge_counts_once_with_its_amount_per_currency(telemetry, capsys):
    observer, metrics, buffer = telemetry

    # WHEN a charge is recorded, then replayed
    observer.observe(recorded(PaymentStatus.PAID, first_time=True))
    observer.observe(recorded(PaymentStatus.PAID, first_time=False))
    metrics.flush_metrics()

    # THEN one charge is counted, and the amount carries its currency as a dimension
    values, documents, logs = emitted(capsys, buffer)
    assert values == {"ChargedAmount": 25.5, "Charges": 1.0}
    assert [line["message"] for line in logs] == ["payment recorded", "payment already recorded"]
    (amount,) = [d for d in documents if "ChargedAmount" in d]
    assert amount["currency"] == "EUR"
    assert amount["service"] == "payment"


def test_a_decline_counts_as_a_decline_not_a_charge(telemetry, capsys):
    observer, metrics, buffer = telemetry
    observer.observe(recorded(PaymentStatus.DECLINED, first_time=True))
    metrics.flush_metrics()
    values, _, logs = emitted(capsys, buffer)
    assert values == {"Declines": 1.0}
    (line,) = logs
    assert line["status"] == "declined"
    assert line["decline_code"] == "card_declined"
    assert "jane.doe@example.com" not in buffer.getvalue()


def test_a_refund_counts_refunds_and_refunded_amount(telemetry, capsys):
    observer, metrics, buffer = telemetry
    refund = Refund(
        order_id="ord-1",
        refund_id="re_1",
        payment_id="ch_1",
        amount=Money(amount=Decimal("4.00"), currency="EUR"),
        refunded_at=AT,
    )
    observer.observe(RefundRecorded(refund=refund, first_time=True))
    metrics.flush_metrics()
    values, _, _ = emitted(capsys, buffer)
    assert values == {"Refunds": 1.0, "RefundedAmount": 4.0}


def test_a_rejected_refund_is_counted_and_logged_with_its_reason(telemetry, capsys):
    observer, metrics, buffer = telemetry
    rejection = RefundRejection(
        order_id="ord-404",
        event_id=derived_event_id("ord-404", "order.refunded"),
        reason=RefundRejectionReason.NOT_PAID,
        amount=Money(amount=Decimal("4.00"), currency="EUR"),
        rejected_at=AT,
    )
    observer.observe(RefundRejected(rejection=rejection, first_time=True))
    metrics.flush_metrics()
    values, _, logs = emitted(capsys, buffer)
    assert values == {"RefundsRejected": 1.0}
    (line,) = [entry for entry in logs if entry["message"] == "refund rejected"]
    assert line["level"] == "WARNING"
    assert line["reason"] == "not_paid"
    assert line["order_id"] == "ord-404"
