"""In-memory stand-ins for the payment ports. No network, no boto3."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from orderflow.contracts import EventEnvelope, Money
from orderflow.payment.domain import (
    Cashier,
    Payment,
    PaymentOutcome,
    PaymentStatus,
    Refund,
    RefundRejection,
)
from orderflow.payment.ports import (
    ChargeApproved,
    ChargeDeclined,
    ChargeResult,
    GatewayUnavailableError,
)

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


class CarelessGateway:
    """A provider that ignores idempotency keys: every call it receives moves money.

    The worst case on purpose, so a test that sees one charge proves our own once-only logic.
    """

    def __init__(self, decline_tokens: frozenset[str] = frozenset({"tok_decline"})) -> None:
        self.decline_tokens = decline_tokens
        self.charges: Counter[str] = Counter()
        self.refunds: Counter[str] = Counter()
        self.unavailable_for = 0
        self._orders: dict[str, str] = {}

    def charge(
        self, *, idempotency_key: str, order_id: str, amount: Money, payment_token: str
    ) -> ChargeResult:
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


class MemoryOnceOnly:
    """Remembers each key's result; an effect that raises is not remembered (Powertools too)."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}
        self.contexts: list[object] = []

    def run(self, key: str, effect: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if key not in self.results:
            self.results[key] = effect()
        return self.results[key]

    def register_lambda_context(self, context: object) -> None:
        self.contexts.append(context)


class MemoryPayments:
    """The payments table as dicts, with the same write-once rules."""

    def __init__(self) -> None:
        self.payments: dict[str, Payment] = {}
        self.refunds: dict[str, Refund] = {}
        self.rejections: dict[tuple[str, uuid.UUID], RefundRejection] = {}

    def payment_of(self, order_id: str) -> Payment | None:
        return self.payments.get(order_id)

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


class MemoryTopic:
    """Events published, in order; can be told to fail the next publishes."""

    def __init__(self) -> None:
        self.events: list[EventEnvelope] = []
        self.failing = 0

    def publish(self, event: EventEnvelope) -> str:
        if self.failing:
            self.failing -= 1
            raise ConnectionError("SNS unreachable")
        self.events.append(event)
        return f"msg-{len(self.events)}"

    def ids(self, event_type: str) -> set[uuid.UUID]:
        return {e.event_id for e in self.events if event_type == e.TYPE}


class OutcomeLog:
    def __init__(self) -> None:
        self.outcomes: list[PaymentOutcome] = []

    def observe(self, outcome: PaymentOutcome) -> None:
        self.outcomes.append(outcome)


@dataclasses.dataclass
class Desk:
    """A cashier over in-memory ports, with the ports at hand for assertions."""

    cashier: Cashier
    gateway: CarelessGateway
    once: MemoryOnceOnly
    payments: MemoryPayments
    topic: MemoryTopic
    log: OutcomeLog


@pytest.fixture
def desk() -> Desk:
    gateway, once, payments = CarelessGateway(), MemoryOnceOnly(), MemoryPayments()
    topic, log = MemoryTopic(), OutcomeLog()
    cashier = Cashier(
        gateway=gateway,
        repository=payments,
        publisher=topic,
        once=once,
        observer=log,
        clock=lambda: NOW,
    )
    return Desk(cashier, gateway, once, payments, topic, log)
