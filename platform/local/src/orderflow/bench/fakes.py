"""In-memory ports for the services whose packages expose none, and each service's domain on them.

Benchmarks measure our code, not a network: every port here keeps the write-once rules of the
adapter it stands for (a key runs once, an entry is recorded once, a projection moves one
version at a time), so the domain takes the same branches it takes in production. Inventory
ships its own in-memory ledger and sink, which are used as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from orderflow.analytics.domain import (
    HourlyMetrics,
    OrderView,
    ProjectionConflictError,
    record_event,
)
from orderflow.contracts import EventEnvelope, OrderEvent
from orderflow.idempotency import MemoryOnceOnly
from orderflow.inventory.adapters.memory import InMemoryEventSink, InMemoryStockLedger
from orderflow.inventory.admin import seed_stock
from orderflow.inventory.domain import Inventory, StockSetting
from orderflow.messaging import MemoryTopic
from orderflow.notifications.adapters.memory import MemorySentEmails
from orderflow.notifications.domain import Email, send_notification
from orderflow.payment.adapters.memory import MemoryPayments, OutcomeLog
from orderflow.payment.domain import (
    Cashier,
)
from orderflow.payment.ports import ChargeApproved, ChargeResult
from orderflow.platform.orders import CATALOG

DomainEntry = Callable[[Any], None]
"""A service's domain entry point for one parsed event (what the consumer shell calls)."""

STOCK_LEVEL = 1_000_000
"""Seeded per sku: enough that no benchmark order runs out (that path is not the common one)."""


class ApprovingGateway:
    """``PaymentGateway`` that approves every card, once per idempotency key."""

    def __init__(self) -> None:
        self.charges: dict[str, ChargeResult] = {}
        self.refunds: dict[str, str] = {}

    def charge(
        self,
        *,
        idempotency_key: str,
        order_id: str,
        amount: object,
        payment_token: str,
        correlation_id: str = "",
    ) -> ChargeResult:
        if idempotency_key not in self.charges:
            self.charges[idempotency_key] = ChargeApproved(payment_id=f"ch_{order_id}")
        return self.charges[idempotency_key]

    def refund(self, *, idempotency_key: str, payment_id: str, amount: object) -> str:
        return self.refunds.setdefault(idempotency_key, f"re_{payment_id}")


class MemoryEmailSender:
    """``EmailSender`` that keeps what it sent."""

    def __init__(self) -> None:
        self.sent: list[Email] = []

    def send(self, email: Email) -> str:
        self.sent.append(email)
        return f"ses-{len(self.sent)}"


class MemoryAnalyticsStore:
    """``AnalyticsStore``: an event is stored once; a projection moves one version at a time."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], OrderEvent] = {}
        self.views: dict[str, OrderView] = {}
        self.hourly: dict[str, HourlyMetrics] = {}

    def order_view(self, order_id: str) -> OrderView | None:
        return self.views.get(order_id)

    def append(self, event: OrderEvent, *, order: OrderView | None, hourly: HourlyMetrics) -> bool:
        key = (event.order_id, str(event.event_id))
        if key in self.stored:
            return False
        if order is not None:
            current = self.views.get(order.order_id)
            if (current.version if current else 0) != order.version - 1:
                raise ProjectionConflictError(f"order {order.order_id} moved on")
            self.views[order.order_id] = order
        self.stored[key] = event
        previous = self.hourly.get(hourly.hour)
        self.hourly[hourly.hour] = hourly if previous is None else previous + hourly
        return True


@dataclass
class MemoryBusinessMetrics:
    """``BusinessMetrics`` that keeps each contribution."""

    contributions: list[HourlyMetrics] = field(default_factory=list)

    def record(self, contribution: HourlyMetrics) -> None:
        self.contributions.append(contribution)


@dataclass(frozen=True)
class ServiceOnFakes:
    """A service's domain entry over fresh in-memory ports, and what it published."""

    handle: DomainEntry
    published: Callable[[], list[EventEnvelope]]


def payment_on_fakes() -> ServiceOnFakes:
    """The cashier over an approving gateway and in-memory stores."""
    topic = MemoryTopic()
    cashier = Cashier(
        gateway=ApprovingGateway(),
        repository=MemoryPayments(),
        publisher=topic,
        once=MemoryOnceOnly(),
        observer=OutcomeLog(),
    )
    return ServiceOnFakes(cashier.handle, lambda: list(topic.events))


def stock_settings(skus: Iterable[str] = CATALOG) -> list[StockSetting]:
    """Every catalogue sku at ``STOCK_LEVEL``."""
    return [StockSetting(sku, STOCK_LEVEL) for sku in skus]


def inventory_on_fakes() -> ServiceOnFakes:
    """The inventory over its own in-memory ledger (catalogue stocked) and sink."""
    ledger, sink = InMemoryStockLedger(), InMemoryEventSink()
    seed_stock(ledger, stock_settings(), seed_id="bench")
    inventory = Inventory(ledger, sink, pause=lambda attempt: None)

    def handle(event: EventEnvelope) -> None:
        inventory.handle(event)

    return ServiceOnFakes(handle, lambda: list(sink.published))


def notifications_on_fakes() -> ServiceOnFakes:
    """Templated emails sent once per event, into memory."""
    sender, once, sent = MemoryEmailSender(), MemoryOnceOnly(), MemorySentEmails()

    def handle(event: EventEnvelope) -> None:
        send_notification(event, sender, once, sent)

    return ServiceOnFakes(handle, list)


def analytics_on_fakes() -> ServiceOnFakes:
    """Events recorded once into an in-memory store and its projections."""
    store, metrics = MemoryAnalyticsStore(), MemoryBusinessMetrics()

    def handle(event: OrderEvent) -> None:
        record_event(event, store, metrics)

    return ServiceOnFakes(handle, list)


ON_FAKES: dict[str, Callable[[], ServiceOnFakes]] = {
    "payment": payment_on_fakes,
    "inventory": inventory_on_fakes,
    "notifications": notifications_on_fakes,
    "analytics": analytics_on_fakes,
}
"""Each service's domain on fresh in-memory ports, by service."""
