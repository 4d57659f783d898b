"""The read side, for ``orderflow analytics report`` and the demo's reconciliation.

Every function returns plain, JSON-ready data: money as strings with two decimals (exact, never
floats), times as ISO 8601 UTC strings. Formatting into tables is the caller's job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from orderflow.analytics.domain import (
    COUNTERS,
    HOUR_FORMAT,
    AnalyticsError,
    HourlyMetrics,
    OrderView,
)
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
)

if TYPE_CHECKING:
    from orderflow.analytics.ports import EventHistory


class UnknownOrderError(AnalyticsError):
    """Analytics holds no event for the order."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"no analytics events for order {order_id!r}")
        self.order_id = order_id


def open_history(
    stage: str = "dev", *, region: str | None = None, endpoint_url: str | None = None
) -> EventHistory:
    """The analytics tables of ``stage`` (default credential chain; endpoint for an emulator)."""
    from orderflow.analytics.adapters.dynamodb import (  # noqa: PLC0415
        AnalyticsTables,
        DynamoAnalyticsStore,
    )

    tables = AnalyticsTables.for_stage(stage)
    return DynamoAnalyticsStore.connect(tables, region=region, endpoint_url=endpoint_url)


def hourly_table(
    history: EventHistory, *, start: datetime | None = None, end: datetime | None = None
) -> list[dict[str, Any]]:
    """One row per hour, oldest first: the hours that begin in [start, end) (naive means UTC)."""
    first = _utc(start).replace(minute=0, second=0, microsecond=0) if start else None
    last = _utc(end) if end else None
    rows = []
    for row in sorted(history.hours(), key=lambda r: r.hour):
        begins = datetime.strptime(row.hour, HOUR_FORMAT).replace(tzinfo=UTC)
        if (first is None or begins >= first) and (last is None or begins < last):
            rows.append(_metrics_row(row))
    return rows


def totals(history: EventHistory) -> dict[str, Any]:
    """Every counter and amount summed over all hours (what a reconciliation checks)."""
    total = HourlyMetrics(hour="all")
    hours = 0
    for row in history.hours():
        total = total + replace(row, hour="all")
        hours += 1
    summary = _metrics_row(total)
    del summary["hour"]
    return {**summary, "hours": hours}


def order_history(history: EventHistory, order_id: str) -> dict[str, Any]:
    """An order's current status and facts, and its events in time order."""
    events = history.order_events(order_id)
    view = history.order_view(order_id)
    if not events and view is None:
        raise UnknownOrderError(order_id)
    return {
        "order_id": order_id,
        **(_view_row(view) if view else {"status": None}),
        "events": [
            {
                "occurred_at": _iso(event.occurred_at),
                "event_type": event.TYPE,
                "event_id": str(event.event_id),
                "detail": describe(event),
            }
            for event in events
        ],
    }


def describe(event: OrderEvent) -> str:  # noqa: PLR0911  (one line per event type)
    """A short human line about what the event says (never the customer's email)."""
    match event:
        case OrderCreated():
            items = sum(item.quantity for item in event.items)
            noun = "item" if items == 1 else "items"
            return f"{_money(event.total.amount)} {event.total.currency}, {items} {noun}"
        case PaymentCompleted():
            return f"{_money(event.amount.amount)} {event.amount.currency} captured"
        case PaymentFailed():
            amount = f"{_money(event.amount.amount)} {event.amount.currency}"
            return f"{amount} declined: {event.decline_code}"
        case OrderShipped():
            return f"{event.carrier} {event.tracking_number}"
        case OrderCancelled():
            return event.reason or "cancelled"
        case OrderRefunded():
            reason = f": {event.reason}" if event.reason else ""
            return f"{_money(event.amount.amount)} {event.amount.currency} refunded{reason}"
        case InventoryOutOfStock():
            return ", ".join(
                f"{s.sku} wants {s.requested}, {s.available} left" for s in event.shortfalls
            )
        case InventoryLowStock():
            return f"{event.sku} at {event.available} (threshold {event.threshold})"


def _metrics_row(row: HourlyMetrics) -> dict[str, Any]:
    return {
        "hour": row.hour,
        **{name: getattr(row, name) for name in COUNTERS},
        "revenue": _amounts(row.revenue.items()),
        "refunded": _amounts(row.refunded.items()),
    }


def _view_row(view: OrderView) -> dict[str, Any]:
    return {
        "status": view.status.value,
        "currency": view.currency,
        "total": _money(view.total) if view.total is not None else None,
        "paid": _money(view.paid),
        "refunded": _money(view.refunded),
        "first_event_at": _iso(view.first_event_at),
        "last_event_at": _iso(view.last_event_at),
    }


def _amounts(amounts: Iterable[tuple[str, Decimal]]) -> dict[str, str]:
    return {currency: _money(amount) for currency, amount in sorted(amounts)}


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
