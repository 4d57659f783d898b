"""Every payment port in memory: the payments table, a card gateway and the observer.

The table keeps the DynamoDB adapter's write-once rules, so the cashier takes the branches it
takes in production. For unit tests, in-memory runs and benchmarks that run the cashier without
AWS; the once-only store and the topic are the shared ``MemoryOnceOnly`` and ``MemoryTopic``.
Pure Python: safe in a Lambda zip.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter

from orderflow.contracts import Money
from orderflow.payment.domain import (
    ChargeApproved,
    ChargeDeclined,
    ChargeResult,
    GatewayUnavailableError,
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


class MemoryGateway:
    """``PaymentGateway`` in memory that ignores idempotency keys: every call moves money.

    The worst case on purpose, so a test that counts one charge proves the cashier's own
    once-only logic. Tokens in ``decline_tokens`` are declined (``card_declined``); with
    ``unavailable_for = n`` the next ``n`` calls raise ``GatewayUnavailableError``. Counts per
    order: ``calls`` (charge calls received), ``charges`` (approved) and ``refunds``.
    """

    def __init__(self, decline_tokens: frozenset[str] = frozenset({"tok_decline"})) -> None:
        self.decline_tokens = decline_tokens
        self.calls: Counter[str] = Counter()
        self.charges: Counter[str] = Counter()
        self.refunds: Counter[str] = Counter()
        self.unavailable_for = 0
        self._orders: dict[str, str] = {}

    def charge(
        self,
        *,
        idempotency_key: str,
        order_id: str,
        amount: Money,
        payment_token: str,
        correlation_id: str = "",
    ) -> ChargeResult:
        self.calls[order_id] += 1
        self._maybe_unavailable()
        if payment_token in self.decline_tokens:
            return ChargeDeclined(decline_code="card_declined")
        self.charges[order_id] += 1
        payment_id = f"ch_{uuid.uuid4().hex[:12]}"
        self._orders[payment_id] = order_id
        return ChargeApproved(payment_id=payment_id)

    def refund(self, *, idempotency_key: str, payment_id: str, amount: Money) -> str:
        self._maybe_unavailable()
        self.refunds[self._orders[payment_id]] += 1
        return f"re_{uuid.uuid4().hex[:12]}"

    def _maybe_unavailable(self) -> None:
        if self.unavailable_for:
            self.unavailable_for -= 1
            raise GatewayUnavailableError("payment gateway timed out")


class MemoryObserver:
    """``PaymentObserver`` that keeps every outcome, in order."""

    def __init__(self) -> None:
        self.outcomes: list[PaymentOutcome] = []

    def observe(self, outcome: PaymentOutcome) -> None:
        self.outcomes.append(outcome)
