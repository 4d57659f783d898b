"""Event contracts: every event that crosses a service boundary in orderflow.

All models are frozen and forbid unknown fields. Money is ``Decimal`` with a currency and is never
accepted as a JSON float, because a float has already lost the cents by the time we see it.

Each scalar on the wire has one exact form, checked by the model and stated, with the same
pattern, in the exported JSON Schema, so that a document the schema accepts is one every consumer
accepts and the other way round (the rules JSON Schema cannot state, such as an order's total
equalling its items, are in the schema's description).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)

SCHEMA_VERSION = 1
"""Major version of the contracts. A breaking change to any event must bump it."""

_EVENT_ID_NAMESPACE = uuid.UUID("6f1c2a4e-8d0b-4f57-9a43-2f3c1d7e5b90")

# Patterns are written in the subset on which ECMA-262 (what JSON Schema specifies), Python's re
# and pydantic's Rust regex agree: ASCII classes only, no \s or \d, anchored with ^ and $.
MONEY_PATTERN = r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$"
"""A non-negative amount: at most 12 digits before the point and 2 after; no sign, exponent,
leading zero or blank."""
_NOT_IN_EMAIL = r"[^@\x00-\x20\x7f]"
EMAIL_PATTERN = rf"^{_NOT_IN_EMAIL}+@{_NOT_IN_EMAIL}+\.{_NOT_IN_EMAIL}+$"
IDENTIFIER_PATTERN = r"^[A-Za-z0-9_-]+$"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_YEAR = "(?:19|2[0-9])[0-9]{2}"
_LEAP_YEAR = "(?:(?:19|2[0-9])(?:0[48]|[2468][048]|[13579][26])|2[048]00)"
_DATE = (
    f"(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
    f"|{_LEAP_YEAR}-02-29)"
)
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?"
_OFFSET = "(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
DATE_TIME_PATTERN = f"^{_DATE}T{_TIME}{_OFFSET}$"
"""An RFC 3339 date-time with its offset, a real calendar day of the years 1900-2999, no leap
second (Python's datetime has none)."""
_CURRENCY_PATTERN = r"^[A-Z]{3}$"

_MONEY = re.compile(MONEY_PATTERN)
_UUID = re.compile(UUID_PATTERN)
_DATE_TIME = re.compile(DATE_TIME_PATTERN)
_MONEY_FORM = (
    "a decimal string such as '12.50' (no sign, up to 12 digits before the point, 2 after)"
)


def _money(value: Any) -> Decimal:
    """The amount of a money value given as its decimal string (or, from Python, a Decimal)."""
    if isinstance(value, float):
        raise ValueError(f"money must be {_MONEY_FORM}, not a JSON float")  # noqa: TRY004
    if isinstance(value, int):
        raise ValueError(f"money must be {_MONEY_FORM}, not a JSON number")  # noqa: TRY004
    if isinstance(value, Decimal):
        text = format(value, "f")
        if value.is_finite() and not _MONEY.fullmatch(text):
            text = format(value.normalize(), "f")  # 10.500 is 10.5
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"money must be {_MONEY_FORM}")  # noqa: TRY004
    if not _MONEY.fullmatch(text):
        raise ValueError(f"money must be {_MONEY_FORM}, not {text!r}")
    return Decimal(text)


def _money_text(value: Decimal) -> str:
    return format(value, "f")


def _json_integer(value: Any) -> Any:
    """JSON integers only (5 or 5.0, which JSON Schema counts as the same integer), not "5"/true."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON integer")  # noqa: TRY004
    return value


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be the integer 1, not a boolean")  # noqa: TRY004
    return value


def _uuid_form(value: Any) -> Any:
    if isinstance(value, str) and not _UUID.fullmatch(value):
        raise ValueError("must be a UUID in its 8-4-4-4-12 hex form")
    return value


def _date_time_form(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise ValueError(
            "must be an RFC 3339 date-time with an offset, such as 2026-11-27T10:00:00Z"
        )
    return value


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


DecimalAmount = Annotated[
    Decimal,
    PlainValidator(_money),
    PlainSerializer(_money_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN}),
]
"""A non-negative amount with at most two decimal places, serialised as a string."""

Currency = Annotated[str, Field(pattern=_CURRENCY_PATTERN)]
Email = Annotated[str, Field(max_length=254, pattern=EMAIL_PATTERN)]
UtcDatetime = Annotated[
    AwareDatetime,
    BeforeValidator(_date_time_form),
    AfterValidator(_utc),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": DATE_TIME_PATTERN}),
]
EventId = Annotated[
    uuid.UUID,
    BeforeValidator(_uuid_form),
    WithJsonSchema({"type": "string", "format": "uuid", "pattern": UUID_PATTERN}),
]
OrderId = Annotated[str, Field(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)]
Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)]
# Bounds come before the validator, so that pydantic states them in JSON Schema's own words.
Quantity = Annotated[int, Field(gt=0, le=10_000), BeforeValidator(_json_integer)]
StockCount = Annotated[int, Field(ge=0, le=1_000_000_000), BeforeValidator(_json_integer)]


def _event_type_is_required(schema: dict[str, Any]) -> None:
    """Consumers parse by ``event_type`` (the union's tag): a document without it is rejected,
    although each model defaults it."""
    required: list[str] = schema.setdefault("required", [])
    if "event_type" not in required:
        required.insert(0, "event_type")


class Contract(BaseModel):
    """Base of every value object in a contract: frozen, strict about unknown fields.

    Each model builds its validator and serializer on first use, not at import: a function
    builds only the contracts it receives or publishes, and its cold start none of them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    @classmethod
    def __pydantic_on_complete__(cls) -> None:
        """Build the value objects a contract holds when it is built.

        Its validator makes them inline, and an instance whose own class was never built cannot
        be serialised by inference (``pydantic_core.to_json``, an ``Any`` field).
        """
        for field in cls.__pydantic_fields__.values():
            for held in (field.annotation, *get_args(field.annotation)):
                if isinstance(held, type) and issubclass(held, Contract):
                    held.model_rebuild()


class Money(Contract):
    amount: DecimalAmount
    currency: Currency


class LineItem(Contract):
    sku: Sku
    quantity: Quantity
    unit_price: DecimalAmount


class StockShortfall(Contract):
    sku: Sku
    requested: Quantity
    available: StockCount


class EventEnvelope(Contract):
    """Fields every event carries. ``event_id`` is the idempotency key downstream."""

    model_config = ConfigDict(json_schema_extra=_event_type_is_required)

    event_id: EventId
    schema_version: Annotated[Literal[1], BeforeValidator(_not_bool)] = 1
    occurred_at: UtcDatetime
    order_id: OrderId
    correlation_id: Annotated[str, Field(min_length=1, max_length=128)]
    producer: Annotated[str, Field(min_length=1, max_length=64)]

    TYPE: ClassVar[str]


class CustomerFacing(EventEnvelope):
    """An event notifications may act on: it carries the customer's address."""

    customer_email: Email


class OrderCreated(CustomerFacing):
    """A customer placed an order. Also required: total.amount equals the sum of quantity times
    unit_price over the items, and each sku appears once."""

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
    available: StockCount
    threshold: StockCount


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
