"""Event contracts: every event that crosses a service boundary in orderflow.

All models are frozen and forbid unknown fields. Money is ``Decimal`` with a currency and is never
accepted as a JSON float, because a float has already lost the cents by the time we see it.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

SCHEMA_VERSION = 1
"""Major version of the contracts. A breaking change to any event must bump it."""

_EVENT_ID_NAMESPACE = uuid.UUID("6f1c2a4e-8d0b-4f57-9a43-2f3c1d7e5b90")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _reject_float(value: Any) -> Any:
    if isinstance(value, float):
        # pydantic turns ValueError (not TypeError) into a validation error
        raise ValueError("money must be a decimal string such as '12.50', not a JSON float")  # noqa: TRY004
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("not an email address")
    return value


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


DecimalAmount = Annotated[
    Decimal,
    BeforeValidator(_reject_float),
    Field(ge=0, max_digits=14, decimal_places=2),
    PlainSerializer(str, return_type=str, when_used="json"),
]
"""A non-negative amount with at most two decimal places, serialised as a string."""

Currency = Annotated[str, Field(pattern=_CURRENCY.pattern)]
Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
OrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]


class Contract(BaseModel):
    """Base of every value object in a contract: frozen, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Money(Contract):
    amount: DecimalAmount
    currency: Currency


class LineItem(Contract):
    sku: Sku
    quantity: Annotated[int, Field(gt=0, le=10_000)]
    unit_price: DecimalAmount


class StockShortfall(Contract):
    sku: Sku
    requested: Annotated[int, Field(gt=0)]
    available: Annotated[int, Field(ge=0)]


class EventEnvelope(Contract):
    """Fields every event carries. ``event_id`` is the idempotency key downstream."""

    event_id: uuid.UUID
    schema_version: Literal[1] = 1
    occurred_at: UtcDatetime
    order_id: OrderId
    correlation_id: Annotated[str, Field(min_length=1, max_length=128)]
    producer: Annotated[str, Field(min_length=1, max_length=64)]

    TYPE: ClassVar[str]


class CustomerFacing(EventEnvelope):
    """An event notifications may act on: it carries the customer's address."""

    customer_email: Email


class OrderCreated(CustomerFacing):
    TYPE: ClassVar[str] = "order.created"
    event_type: Literal["order.created"] = "order.created"
    customer_id: Annotated[str, Field(min_length=1, max_length=64)]
    items: Annotated[tuple[LineItem, ...], Field(min_length=1, max_length=100)]
    total: Money
    payment_token: Annotated[str, Field(min_length=1, max_length=128)]

    @model_validator(mode="after")
    def _total_matches_items(self) -> OrderCreated:
        expected = sum((i.unit_price * i.quantity for i in self.items), Decimal(0))
        if expected != self.total.amount:
            raise ValueError(f"total {self.total.amount} does not equal the items' sum {expected}")
        skus = [i.sku for i in self.items]
        if len(set(skus)) != len(skus):
            raise ValueError("an order lists each sku once")
        return self


class OrderCancelled(CustomerFacing):
    TYPE: ClassVar[str] = "order.cancelled"
    event_type: Literal["order.cancelled"] = "order.cancelled"
    reason: Annotated[str, Field(max_length=500)] = ""


class OrderRefunded(CustomerFacing):
    TYPE: ClassVar[str] = "order.refunded"
    event_type: Literal["order.refunded"] = "order.refunded"
    amount: Money
    reason: Annotated[str, Field(max_length=500)] = ""


class OrderShipped(CustomerFacing):
    TYPE: ClassVar[str] = "order.shipped"
    event_type: Literal["order.shipped"] = "order.shipped"
    carrier: Annotated[str, Field(min_length=1, max_length=64)]
    tracking_number: Annotated[str, Field(min_length=1, max_length=64)]


class PaymentCompleted(CustomerFacing):
    TYPE: ClassVar[str] = "payment.completed"
    event_type: Literal["payment.completed"] = "payment.completed"
    payment_id: Annotated[str, Field(min_length=1, max_length=128)]
    amount: Money


class PaymentFailed(CustomerFacing):
    TYPE: ClassVar[str] = "payment.failed"
    event_type: Literal["payment.failed"] = "payment.failed"
    amount: Money
    decline_code: Annotated[str, Field(min_length=1, max_length=64)]


class InventoryLowStock(EventEnvelope):
    """Reorder alert: the sku's level crossed its threshold (the order that crossed it)."""

    TYPE: ClassVar[str] = "inventory.low_stock"
    event_type: Literal["inventory.low_stock"] = "inventory.low_stock"
    sku: Sku
    available: Annotated[int, Field(ge=0)]
    threshold: Annotated[int, Field(ge=0)]


class InventoryOutOfStock(CustomerFacing):
    """The order could not be reserved: nothing was taken (all-or-nothing reservation)."""

    TYPE: ClassVar[str] = "inventory.out_of_stock"
    event_type: Literal["inventory.out_of_stock"] = "inventory.out_of_stock"
    shortfalls: Annotated[tuple[StockShortfall, ...], Field(min_length=1)]


OrderEvent = Annotated[
    OrderCreated
    | OrderCancelled
    | OrderRefunded
    | OrderShipped
    | PaymentCompleted
    | PaymentFailed
    | InventoryLowStock
    | InventoryOutOfStock,
    Field(discriminator="event_type"),
]
"""Any orderflow event, parsed by its ``event_type``."""

EVENT_MODELS: tuple[type[EventEnvelope], ...] = (
    OrderCreated,
    OrderCancelled,
    OrderRefunded,
    OrderShipped,
    PaymentCompleted,
    PaymentFailed,
    InventoryLowStock,
    InventoryOutOfStock,
)
EVENT_TYPES: frozenset[str] = frozenset(m.TYPE for m in EVENT_MODELS)


def derived_event_id(order_id: str, event_type: str, *discriminators: str) -> uuid.UUID:
    """Deterministic id of a derived event, so a retried publish is the same event."""
    name = ":".join((order_id, event_type, *discriminators))
    return uuid.uuid5(_EVENT_ID_NAMESPACE, name)


def utc_now() -> datetime:
    """The current time in UTC, the only timezone contracts carry."""
    return datetime.now(UTC)
