"""Fixtures shared by the unit and functional tests: the in-memory ports (from
``adapters/memory.py``), a realistic event stream, delivery."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from orderflow.analytics import bootstrap
from orderflow.analytics.adapters.memory import MemoryAnalyticsStore, MemoryObserver
from orderflow.analytics.domain import Recorder
from orderflow.analytics.handler import handler
from orderflow.analytics.ports import AnalyticsStore
from orderflow.contracts import (
    InventoryLowStock,
    InventoryOutOfStock,
    OrderCancelled,
    OrderCreated,
    OrderEvent,
    OrderRefunded,
    OrderShipped,
    PaymentCompleted,
    PaymentFailed,
    StockShortfall,
    derived_event_id,
)
from orderflow.retry import NO_PAUSE
from orderflow.testing import FakeLambdaContext, make_order, sqs_event, sqs_record

START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so nothing can reach a real account; a fresh container."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    bootstrap.service.cache_clear()  # a fresh container


# --- the in-memory ports and the recorder over them ---------------------------------------------


@pytest.fixture
def memory_store() -> MemoryAnalyticsStore:
    return MemoryAnalyticsStore()


@pytest.fixture
def new_memory_store() -> Callable[[], MemoryAnalyticsStore]:
    return MemoryAnalyticsStore


@pytest.fixture
def observer() -> MemoryObserver:
    return MemoryObserver()


@pytest.fixture
def recorder_over(observer: MemoryObserver) -> Callable[[AnalyticsStore], Recorder]:
    """A ``Recorder`` over the given store, reporting to ``observer``, never pausing."""
    return lambda store: Recorder(store, observer=observer, backoff=NO_PAUSE)


@pytest.fixture
def recorder(
    recorder_over: Callable[[AnalyticsStore], Recorder], memory_store: MemoryAnalyticsStore
) -> Recorder:
    return recorder_over(memory_store)


# --- a realistic stream of order events --------------------------------------------------------

# Each story is what happens to one order, step by step, with the status the business expects
# after each step. Written out by hand, independent of the status lattice in the code.
STORIES: dict[str, tuple[tuple[str, str], ...]] = {
    "shipped": (
        ("order.created", "created"),
        ("payment.completed", "paid"),
        ("order.shipped", "shipped"),
    ),
    "shipped_then_refunded": (
        ("order.created", "created"),
        ("payment.completed", "paid"),
        ("order.shipped", "shipped"),
        ("order.refunded", "refunded"),
    ),
    "cancelled_and_refunded": (
        ("order.created", "created"),
        ("payment.completed", "paid"),
        ("order.cancelled", "cancelled"),
        ("order.refunded", "refunded"),
    ),
    "paid_awaiting_shipment": (
        ("order.created", "created"),
        ("payment.completed", "paid"),
    ),
    "declined": (
        ("order.created", "created"),
        ("payment.failed", "payment_failed"),
    ),
    "declined_then_cancelled": (
        ("order.created", "created"),
        ("payment.failed", "payment_failed"),
        ("order.cancelled", "cancelled"),
    ),
    # Inventory and payment both react to order.created: stock ran out, the card was charged
    # anyway, and the money goes back.
    "out_of_stock_refunded": (
        ("order.created", "created"),
        ("inventory.out_of_stock", "out_of_stock"),
        ("payment.completed", "out_of_stock"),
        ("order.refunded", "refunded"),
    ),
    "awaiting_payment": (("order.created", "created"),),
}
STORY_WEIGHTS = {
    "shipped": 34,
    "shipped_then_refunded": 8,
    "cancelled_and_refunded": 8,
    "paid_awaiting_shipment": 10,
    "declined": 12,
    "declined_then_cancelled": 5,
    "out_of_stock_refunded": 7,
    "awaiting_payment": 6,
}
CURRENCIES = ("EUR", "USD", "GBP")


@dataclass
class OrderStream:
    """Distinct events of many orders, in time order, and what the business expects of them."""

    events: list[OrderEvent]
    final_status: dict[str, str]

    def deliveries(self, duplicates: int, seed: int = 11) -> list[OrderEvent]:
        """Every event once plus ``duplicates`` redeliveries, shuffled: what SQS may hand us."""
        rng = random.Random(seed)
        stream = self.events + rng.choices(self.events, k=duplicates)
        rng.shuffle(stream)
        return stream

    def count(self, event_type: str) -> int:
        return sum(1 for e in self.events if event_type == e.TYPE)

    def amounts(self, event_type: str) -> dict[str, Decimal]:
        totals: Counter[str] = Counter()
        for event in self.events:
            if event_type == event.TYPE:
                money = event.amount  # type: ignore[union-attr]
                totals[money.currency] += money.amount
        return {currency: Decimal(amount) for currency, amount in sorted(totals.items())}


def build_order_stream(events: int, seed: int = 7) -> OrderStream:
    """Exactly ``events`` distinct events from whole order stories (the last one may be cut)."""
    rng = random.Random(seed)
    names, weights = zip(*STORY_WEIGHTS.items(), strict=True)
    stream: list[OrderEvent] = []
    final_status: dict[str, str] = {}
    index = 0
    while len(stream) < events:
        order_id = f"ord-{index:05d}"
        story = STORIES[rng.choices(names, weights)[0]]
        steps = list(story[: events - len(stream)])
        created = _created(rng, order_id, START + timedelta(seconds=40 * index))
        at = created.occurred_at
        for event_type, status in steps:
            if event_type != "order.created":
                at += timedelta(minutes=rng.randint(1, 25), seconds=rng.randint(0, 59))
            stream.append(
                _event(event_type, created, at) if event_type != "order.created" else created
            )
            final_status[order_id] = status
            # Some orders cross a sku's reorder threshold: stock news, counted but statusless.
            if event_type == "order.created" and len(stream) < events and rng.random() < 0.1:
                stream.append(_low_stock(created, at + timedelta(seconds=5)))
        index += 1
    stream.sort(key=lambda e: (e.occurred_at, str(e.event_id)))
    return OrderStream(events=stream, final_status=final_status)


def _created(rng: random.Random, order_id: str, at: datetime) -> OrderCreated:
    items = tuple(
        (f"sku-{n}", rng.randint(1, 3), f"{rng.randint(2, 120)}.{rng.randint(0, 99):02d}")
        for n in rng.sample(range(1, 40), rng.randint(1, 3))
    )
    order = make_order(order_id, items=items, currency=rng.choice(CURRENCIES))
    return order.model_copy(update={"occurred_at": at})


def _event(event_type: str, created: OrderCreated, at: datetime) -> OrderEvent:
    common: dict[str, Any] = {
        "event_id": derived_event_id(created.order_id, event_type),
        "occurred_at": at,
        "order_id": created.order_id,
        "correlation_id": created.correlation_id,
        "customer_email": created.customer_email,
    }
    total = created.total
    match event_type:
        case "payment.completed":
            return PaymentCompleted(
                **common, producer="payment", payment_id=f"pay-{created.order_id}", amount=total
            )
        case "payment.failed":
            return PaymentFailed(
                **common, producer="payment", amount=total, decline_code="insufficient_funds"
            )
        case "order.shipped":
            return OrderShipped(
                **common, producer="order-api", carrier="DHL", tracking_number=created.order_id
            )
        case "order.cancelled":
            return OrderCancelled(**common, producer="order-api", reason="customer asked")
        case "order.refunded":
            return OrderRefunded(**common, producer="order-api", amount=total)
        case "inventory.out_of_stock":
            sku = created.items[0].sku
            shortage = StockShortfall(sku=sku, requested=created.items[0].quantity, available=0)
            return InventoryOutOfStock(**common, producer="inventory", shortfalls=(shortage,))
    raise ValueError(event_type)


def _low_stock(created: OrderCreated, at: datetime) -> InventoryLowStock:
    return InventoryLowStock(
        event_id=uuid.uuid5(created.event_id, "low-stock"),
        occurred_at=at,
        order_id=created.order_id,
        correlation_id=created.correlation_id,
        producer="inventory",
        sku=created.items[0].sku,
        available=4,
        threshold=10,
    )


@pytest.fixture(scope="session")
def order_stream() -> Callable[..., OrderStream]:
    return build_order_stream


def clock(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return START.replace(hour=hour, minute=minute, second=second)


@pytest.fixture(scope="session")
def story_of() -> Callable[..., list[OrderEvent]]:
    """One order's events: ``story_of("shipped", order_id=..., total="30.00")``."""

    def build(name: str, order_id: str = "ord-story", total: str = "30.00") -> list[OrderEvent]:
        created = make_order(order_id, items=(("sku-1", 1, total),)).model_copy(
            update={"occurred_at": clock(10)}
        )
        events: list[OrderEvent] = []
        for minutes, (event_type, _) in enumerate(STORIES[name]):
            moment = clock(10, minutes * 10)
            events.append(
                created if event_type == "order.created" else _event(event_type, created, moment)
            )
        return events

    return build


@pytest.fixture(scope="session")
def stories() -> dict[str, tuple[tuple[str, str], ...]]:
    return STORIES


# --- delivery through the Lambda handler ---------------------------------------------------------


Delivery = Callable[..., list[str]]


@pytest.fixture
def deliver() -> Delivery:
    """Send events (or raw bodies) to the handler in SQS batches; return the failed message ids."""

    def send(
        items: Sequence[OrderEvent | str], batch_size: int = 10, receive_count: int = 1
    ) -> list[str]:
        failed: list[str] = []
        for start in range(0, len(items), batch_size):
            records = [
                sqs_record(item, receive_count=receive_count)
                for item in items[start : start + batch_size]
            ]
            response = handler(sqs_event(records), FakeLambdaContext())
            failed.extend(f["itemIdentifier"] for f in response["batchItemFailures"])
        return failed

    return send
