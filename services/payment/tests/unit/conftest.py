"""In-memory stand-ins for the payment ports. No network, no boto3."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest

from orderflow.contracts import Money
from orderflow.payment.adapters.memory import MemoryPayments, OutcomeLog
from orderflow.payment.domain import (
    Cashier,
)
from orderflow.payment.ports import (
    ChargeApproved,
    ChargeDeclined,
    ChargeResult,
    GatewayUnavailableError,
)
from orderflow.testing import MemoryOnceOnly, MemoryTopic

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


class CarelessGateway:
    """A provider that ignores idempotency keys: every call it receives moves money.

    The worst case on purpose, so a test that sees one charge proves our own once-only logic.
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
        correlation_id: str,
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
