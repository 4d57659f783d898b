"""Orders for ``orderflow publish`` and ``orderflow load``: from a file, from flags, or a mix.

A file holds one order event as JSON. Envelope fields the order API would fill in (event_id,
occurred_at, correlation_id, producer) may be left out; everything else is validated against
the contract, and anything wrong becomes one :class:`OrderFileError` line.

``order_traffic`` is a realistic day of orders: every order is created; some are cancelled,
most of the rest ship, and some shipped orders are refunded, each follow-up after its order.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from orderflow.contracts import (
    ContractError,
    EventEnvelope,
    LineItem,
    Money,
    OrderCancelled,
    OrderCreated,
    OrderRefunded,
    OrderShipped,
    parse_event,
    utc_now,
)
from orderflow.platform.errors import PlatformError

PRODUCER = "order-api"

CATALOG: dict[str, Decimal] = {
    "sku-tee": Decimal("19.90"),
    "sku-hoodie": Decimal("49.00"),
    "sku-cap": Decimal("15.50"),
    "sku-socks": Decimal("7.25"),
    "sku-mug": Decimal("12.00"),
    "sku-poster": Decimal("9.99"),
    "sku-bottle": Decimal("24.00"),
    "sku-sticker": Decimal("2.50"),
}
"""What ``load`` sells (sku -> unit price); stock for these skus must be seeded first."""

CANCEL_SHARE = 0.10
SHIP_SHARE = 0.70
REFUND_SHARE = 0.08
CARRIERS = ("UPS", "DHL", "FedEx", "USPS")


class OrderFileError(PlatformError):
    """An order file that cannot be read or is not a valid order event."""


def _envelope_defaults(order_id: str) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "occurred_at": utc_now().isoformat(),
        "correlation_id": f"corr-{order_id}",
        "producer": PRODUCER,
    }


def order_from_file(path: Path) -> EventEnvelope:
    """The order event in a JSON file, validated against its contract."""
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise OrderFileError(f"{path}: cannot read: {error.strerror or error}") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise OrderFileError(f"{path}: not JSON: {error}") from error
    if not isinstance(document, dict):
        raise OrderFileError(f"{path}: expected a JSON object, found {type(document).__name__}")
    document.setdefault("event_type", OrderCreated.TYPE)
    order_id = document.get("order_id")
    if isinstance(order_id, str) and order_id:
        for name, value in _envelope_defaults(order_id).items():
            document.setdefault(name, value)
    try:
        event: EventEnvelope = parse_event(json.dumps(document))
    except ContractError as error:
        raise OrderFileError(f"{path}: {' '.join(str(error).split())}") from error
    return event


def parse_line_item(text: str) -> LineItem:
    """``SKU:QUANTITY[:UNIT_PRICE]`` (price from the catalog when left out)."""
    parts = text.split(":")
    if len(parts) not in {2, 3}:
        raise OrderFileError(f"item {text!r}: expected SKU:QUANTITY[:UNIT_PRICE]")
    sku, quantity = parts[0], parts[1]
    price = parts[2] if len(parts) == 3 else CATALOG.get(sku)
    if price is None:
        raise OrderFileError(f"item {text!r}: {sku} is not in the catalog; give a unit price")
    try:
        return LineItem(sku=sku, quantity=int(quantity), unit_price=Decimal(str(price)))
    except (ValueError, ArithmeticError) as error:
        raise OrderFileError(f"item {text!r}: {' '.join(str(error).split())}") from error


def order_from_flags(
    *,
    order_id: str | None,
    items: Sequence[str],
    email: str,
    currency: str,
    payment_token: str,
    customer_id: str | None = None,
) -> OrderCreated:
    """An ``order.created`` built from command-line flags."""
    line_items = tuple(parse_line_item(i) for i in items)
    if not line_items:
        raise OrderFileError("an order needs at least one --item SKU:QUANTITY[:UNIT_PRICE]")
    oid = order_id or f"ord-{uuid.uuid4().hex[:12]}"
    total = sum((i.unit_price * i.quantity for i in line_items), Decimal(0))
    try:
        return OrderCreated(
            **_envelope_defaults(oid),
            order_id=oid,
            customer_email=email,
            customer_id=customer_id or f"cust-{oid}",
            items=line_items,
            total=Money(amount=total, currency=currency),
            payment_token=payment_token,
        )
    except ValueError as error:
        raise OrderFileError(f"order {oid}: {' '.join(str(error).split())}") from error


@dataclass(frozen=True)
class TrafficMix:
    """How many events of each type a traffic run published."""

    created: int = 0
    cancelled: int = 0
    shipped: int = 0
    refunded: int = 0


def order_traffic(
    orders: int, *, seed: int | None = None, currency: str = "EUR"
) -> Iterator[EventEnvelope]:
    """Events for ``orders`` orders: creates first, each follow-up a few orders later."""
    rng = random.Random(seed)  # noqa: S311  (traffic shape, not security)
    run = uuid.UUID(int=rng.getrandbits(128)).hex[:8]
    follow_ups: list[tuple[int, EventEnvelope]] = []
    for n in range(orders):
        created = _created(rng, f"ord-{run}-{n:06d}", currency)
        yield created
        due = n + rng.randint(1, 5)
        follow_ups.extend((due, event) for event in _follow_ups(rng, created))
        ready = [e for d, e in follow_ups if d <= n]
        follow_ups = [(d, e) for d, e in follow_ups if d > n]
        yield from ready
    yield from (event for _, event in follow_ups)


def _event_fields(rng: random.Random, order_id: str, email: str) -> dict[str, Any]:
    return {
        "event_id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "occurred_at": utc_now(),
        "order_id": order_id,
        "correlation_id": f"corr-{order_id}",
        "producer": PRODUCER,
        "customer_email": email,
    }


def _created(rng: random.Random, order_id: str, currency: str) -> OrderCreated:
    skus = rng.sample(sorted(CATALOG), k=rng.choice((1, 1, 1, 2, 2, 3)))
    items = tuple(
        LineItem(sku=sku, quantity=rng.choice((1, 1, 1, 2, 3)), unit_price=CATALOG[sku])
        for sku in skus
    )
    total = sum((i.unit_price * i.quantity for i in items), Decimal(0))
    return OrderCreated(
        **_event_fields(rng, order_id, f"{order_id}@example.com"),
        customer_id=f"cust-{rng.randint(1, 9999):04d}",
        items=items,
        total=Money(amount=total, currency=currency),
        payment_token=rng.choice(("tok_visa", "tok_visa", "tok_visa", "tok_mastercard")),
    )


def _follow_ups(rng: random.Random, order: OrderCreated) -> list[EventEnvelope]:
    fields = _event_fields(rng, order.order_id, order.customer_email)
    roll = rng.random()
    if roll < CANCEL_SHARE:
        return [OrderCancelled(**fields, reason="customer changed their mind")]
    if roll < CANCEL_SHARE + SHIP_SHARE:
        shipped = OrderShipped(
            **fields,
            carrier=rng.choice(CARRIERS),
            tracking_number=f"TRK{rng.randint(10**9, 10**10 - 1)}",
        )
        if rng.random() < REFUND_SHARE / SHIP_SHARE:
            refund_fields = {**fields, "event_id": uuid.UUID(int=rng.getrandbits(128), version=4)}
            return [shipped, OrderRefunded(**refund_fields, amount=order.total, reason="returned")]
        return [shipped]
    return []


def traffic_mix(events: Sequence[EventEnvelope]) -> TrafficMix:
    """Count events by type."""
    types = [e.TYPE for e in events]
    return TrafficMix(
        created=types.count(OrderCreated.TYPE),
        cancelled=types.count(OrderCancelled.TYPE),
        shipped=types.count(OrderShipped.TYPE),
        refunded=types.count(OrderRefunded.TYPE),
    )
