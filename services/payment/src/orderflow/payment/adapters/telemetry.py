"""The payment observer: outcomes as Powertools logs, EMF metrics and X-Ray annotations.

Metrics count what was recorded for the first time, so a redelivered message does not count a
charge twice: the dashboards agree with the payments table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from orderflow.observability import METRICS_NAMESPACE
from orderflow.payment.domain import (
    PaymentOutcome,
    PaymentRecorded,
    PaymentStatus,
    RefundRecorded,
    RefundRejected,
)

if TYPE_CHECKING:
    from orderflow.contracts import Money
    from orderflow.observability import Telemetry


class PaymentTelemetry:
    """``PaymentObserver`` that logs, counts and annotates each outcome (the entry's Telemetry)."""

    def __init__(self, telemetry: Telemetry) -> None:
        self._service = telemetry.service
        self._logger = telemetry.logger
        self._metrics = telemetry.metrics
        self._tracer = telemetry.tracer

    def observe(self, outcome: PaymentOutcome) -> None:
        """Log the outcome; count it when it was recorded for the first time."""
        if isinstance(outcome, PaymentRecorded):
            self._payment(outcome)
        elif isinstance(outcome, RefundRecorded):
            self._refund(outcome)
        else:
            self._rejection(outcome)

    def _payment(self, outcome: PaymentRecorded) -> None:
        payment = outcome.payment
        self._tracer.put_annotation("payment_status", payment.status.value)
        self._logger.info(
            "payment recorded" if outcome.first_time else "payment already recorded",
            extra={
                "order_id": payment.order_id,
                "status": payment.status.value,
                "payment_id": payment.payment_id,
                "decline_code": payment.decline_code,
                "amount": str(payment.amount.amount),
                "currency": payment.amount.currency,
                "event_id": str(outcome.event.event_id),
            },
        )
        if not outcome.first_time:
            return
        if payment.status is PaymentStatus.DECLINED:
            self._metrics.add_metric(name="Declines", unit=MetricUnit.Count, value=1)
        else:
            self._metrics.add_metric(name="Charges", unit=MetricUnit.Count, value=1)
            self._amount("ChargedAmount", payment.amount)

    def _refund(self, outcome: RefundRecorded) -> None:
        refund = outcome.refund
        self._tracer.put_annotation("payment_status", PaymentStatus.REFUNDED.value)
        self._logger.info(
            "refund recorded" if outcome.first_time else "refund already recorded",
            extra={
                "order_id": refund.order_id,
                "refund_id": refund.refund_id,
                "payment_id": refund.payment_id,
                "amount": str(refund.amount.amount),
                "currency": refund.amount.currency,
            },
        )
        if outcome.first_time:
            self._metrics.add_metric(name="Refunds", unit=MetricUnit.Count, value=1)
            self._amount("RefundedAmount", refund.amount)

    def _rejection(self, outcome: RefundRejected) -> None:
        rejection = outcome.rejection
        self._tracer.put_annotation("payment_status", "refund_rejected")
        self._logger.warning(
            "refund rejected",
            extra={
                "order_id": rejection.order_id,
                "reason": rejection.reason.value,
                "refund_event_id": str(rejection.event_id),
                "amount": str(rejection.amount.amount),
                "currency": rejection.amount.currency,
                "first_time": outcome.first_time,
            },
        )
        if outcome.first_time:
            self._metrics.add_metric(name="RefundsRejected", unit=MetricUnit.Count, value=1)

    def _amount(self, name: str, money: Money) -> None:
        # Amounts carry their currency as a dimension: a sum across currencies means nothing.
        with single_metric(
            name=name,
            unit=MetricUnit.NoUnit,
            value=float(money.amount),
            namespace=METRICS_NAMESPACE,
        ) as metric:
            metric.add_dimension(name="service", value=self._service)
            metric.add_dimension(name="currency", value=money.currency)
