"""In-memory payments table and outcome log: the same write-once rules as the DynamoDB adapter.

For unit tests and benchmarks that run the cashier without AWS.
"""

from __future__ import annotations

import dataclasses
import uuid

from orderflow.payment.domain import (
    Payment,
    PaymentOutcome,
    PaymentStatus,
    Refund,
    RefundRejection,
)


class MemoryPayments:
    """The payments table as dicts, with the same write-once rules."""

    def __init__(self) -> None:
        self.payments: dict[str, Payment] = {}
        self.refunds: dict[str, Refund] = {}
        self.rejections: dict[tuple[str, uuid.UUID], RefundRejection] = {}

    def payment_of(self, order_id: str) -> Payment | None:
        return self.payments.get(order_id)

    def refund_of(self, order_id: str) -> Refund | None:
        return self.refunds.get(order_id)

    def record_payment(self, payment: Payment) -> bool:
        if payment.order_id in self.payments:
            return False
        self.payments[payment.order_id] = payment
        return True

    def record_refund(self, refund: Refund) -> bool:
        if refund.order_id in self.refunds:
            return False
        self.refunds[refund.order_id] = refund
        paid = self.payments[refund.order_id]
        self.payments[refund.order_id] = dataclasses.replace(paid, status=PaymentStatus.REFUNDED)
        return True

    def record_refund_rejection(self, rejection: RefundRejection) -> bool:
        key = (rejection.order_id, rejection.event_id)
        if key in self.rejections:
            return False
        self.rejections[key] = rejection
        return True


class OutcomeLog:
    """``OutcomeObserver`` that keeps every outcome, in order."""

    def __init__(self) -> None:
        self.outcomes: list[PaymentOutcome] = []

    def observe(self, outcome: PaymentOutcome) -> None:
        self.outcomes.append(outcome)
