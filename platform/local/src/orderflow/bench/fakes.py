"""Each service's domain on the in-memory adapters it ships (``adapters/memory.py``).

Benchmarks measure our code, not a network: every memory adapter keeps the write-once rules of
the adapter it stands for (a key runs once, an entry is recorded once, a projection moves one
version at a time), so the domain takes the same branches it takes in production. The bench
has no fakes of its own: it uses the services' and shared's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from orderflow.analytics.adapters.memory import MemoryAnalyticsStore
from orderflow.analytics.adapters.memory import MemoryObserver as AnalyticsLog
from orderflow.analytics.domain import Recorder
from orderflow.contracts import EventEnvelope
from orderflow.idempotency import MemoryOnceOnly
from orderflow.inventory.adapters.memory import MemoryObserver as InventoryLog
from orderflow.inventory.adapters.memory import MemoryStockLedger
from orderflow.inventory.admin import seed_stock
from orderflow.inventory.domain import Inventory, StockSetting
from orderflow.messaging import MemoryTopic
from orderflow.notifications.adapters.memory import MemoryEmailSender, MemorySentEmails
from orderflow.notifications.adapters.memory import MemoryObserver as NotificationsLog
from orderflow.notifications.domain import Notifier
from orderflow.payment.adapters.memory import MemoryGateway, MemoryPayments
from orderflow.payment.adapters.memory import MemoryObserver as PaymentLog
from orderflow.payment.domain import Cashier
from orderflow.platform.orders import CATALOG
from orderflow.retry import NO_PAUSE

DomainEntry = Callable[[Any], object]
"""A service's domain entry point for one parsed event (what the consumer shell calls)."""

STOCK_LEVEL = 1_000_000
"""Seeded per sku: enough that no benchmark order runs out (that path is not the common one)."""


@dataclass(frozen=True)
class ServiceOnFakes:
    """A service's domain entry over fresh in-memory ports, and what it published."""

    handle: DomainEntry
    published: Callable[[], list[EventEnvelope]]


def payment_on_fakes() -> ServiceOnFakes:
    """The cashier over the in-memory gateway and stores."""
    topic = MemoryTopic()
    cashier = Cashier(
        gateway=MemoryGateway(),
        repository=MemoryPayments(),
        publisher=topic,
        once=MemoryOnceOnly(),
        observer=PaymentLog(),
    )
    return ServiceOnFakes(cashier.handle, lambda: list(topic.events))


def stock_settings(skus: Iterable[str] = CATALOG) -> list[StockSetting]:
    """Every catalogue sku at ``STOCK_LEVEL``."""
    return [StockSetting(sku, STOCK_LEVEL) for sku in skus]


def inventory_on_fakes() -> ServiceOnFakes:
    """The inventory over its in-memory ledger (catalogue stocked) and topic."""
    ledger, topic = MemoryStockLedger(), MemoryTopic()
    seed_stock(ledger, stock_settings(), seed_id="bench", backoff=NO_PAUSE)
    inventory = Inventory(ledger, topic, observer=InventoryLog(), backoff=NO_PAUSE)
    return ServiceOnFakes(inventory.handle, lambda: list(topic.events))


def notifications_on_fakes() -> ServiceOnFakes:
    """Templated emails sent once per event, into memory."""
    notifier = Notifier(
        sender=MemoryEmailSender(),
        once=MemoryOnceOnly(),
        sent=MemorySentEmails(),
        observer=NotificationsLog(),
    )
    return ServiceOnFakes(notifier.handle, list)


def analytics_on_fakes() -> ServiceOnFakes:
    """Events recorded once into an in-memory store and its projections."""
    recorder = Recorder(MemoryAnalyticsStore(), observer=AnalyticsLog())
    return ServiceOnFakes(recorder.handle, list)


ON_FAKES: dict[str, Callable[[], ServiceOnFakes]] = {
    "payment": payment_on_fakes,
    "inventory": inventory_on_fakes,
    "notifications": notifications_on_fakes,
    "analytics": analytics_on_fakes,
}
"""Each service's domain on fresh in-memory ports, by service."""
