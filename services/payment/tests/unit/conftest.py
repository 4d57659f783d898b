"""The cashier over the in-memory ports (``orderflow.payment.adapters.memory``). No network."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from orderflow.idempotency import MemoryOnceOnly
from orderflow.messaging import MemoryTopic
from orderflow.payment.adapters.memory import MemoryGateway, MemoryObserver, MemoryPayments
from orderflow.payment.domain import Cashier

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


@dataclasses.dataclass
class Desk:
    """A cashier over in-memory ports, with the ports at hand for assertions.

    The gateway ignores idempotency keys (``MemoryGateway``), so a test that sees one charge
    proves the cashier's own once-only logic.
    """

    cashier: Cashier
    gateway: MemoryGateway
    once: MemoryOnceOnly
    payments: MemoryPayments
    topic: MemoryTopic
    log: MemoryObserver


@pytest.fixture
def desk() -> Desk:
    gateway, once, payments = MemoryGateway(), MemoryOnceOnly(), MemoryPayments()
    topic, log = MemoryTopic(), MemoryObserver()
    cashier = Cashier(
        gateway=gateway,
        repository=payments,
        publisher=topic,
        once=once,
        observer=log,
        clock=lambda: NOW,
    )
    return Desk(cashier, gateway, once, payments, topic, log)
