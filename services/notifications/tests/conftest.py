"""Fixtures every notifications test uses: a safe AWS environment, events, logs and metrics."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from orderflow.contracts import (
    EventEnvelope,
    InventoryOutOfStock,
    OrderCancelled,
    OrderCreated,
    OrderRefunded,
    OrderShipped,
    PaymentCompleted,
    PaymentFailed,
    StockShortfall,
    utc_now,
)
from orderflow.testing import make_order

EventFactory = Callable[..., EventEnvelope]


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so nothing can reach a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SESV2", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def _event_of(event_type: str, order: OrderCreated) -> EventEnvelope:
    if event_type == "order.created":
        return order
    common: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "occurred_at": utc_now(),
        "order_id": order.order_id,
        "correlation_id": order.correlation_id,
        "customer_email": order.customer_email,
    }
    if event_type == "payment.completed":
        return PaymentCompleted(
            **common, producer="payment", payment_id=f"pay-{order.order_id}", amount=order.total
        )
    if event_type == "payment.failed":
        return PaymentFailed(
            **common, producer="payment", amount=order.total, decline_code="insufficient_funds"
        )
    if event_type == "order.shipped":
        return OrderShipped(
            **common, producer="order-api", carrier="DHL", tracking_number="JD014600001"
        )
    if event_type == "order.cancelled":
        return OrderCancelled(**common, producer="order-api", reason="ordered twice")
    if event_type == "order.refunded":
        return OrderRefunded(
            **common, producer="order-api", amount=order.total, reason="arrived damaged"
        )
    if event_type == "inventory.out_of_stock":
        shortfalls = tuple(
            StockShortfall(sku=i.sku, requested=i.quantity, available=0) for i in order.items
        )
        return InventoryOutOfStock(**common, producer="inventory", shortfalls=shortfalls)
    raise ValueError(f"no customer-facing sample for {event_type}")


@pytest.fixture
def customer_event() -> EventFactory:
    """``customer_event(event_type, email=..., order_id=...)``: a valid event of that type."""

    def build(
        event_type: str, *, email: str = "jane.doe@example.com", order_id: str | None = None
    ) -> EventEnvelope:
        order = make_order(
            order_id, items=(("sku-1", 2, "10.00"), ("sku-2", 1, "5.50")), email=email
        )
        return _event_of(event_type, order)

    return build


@pytest.fixture
def service_logs() -> Iterator[io.StringIO]:
    """Everything the service's Logger writes, through its own (masking) formatter."""
    from orderflow.notifications import handler  # noqa: PLC0415

    logger = handler.handler.telemetry.logger
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)  # type: ignore[attr-defined]
    yield stream
    logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]


@pytest.fixture
def emitted_metrics(
    capsys: pytest.CaptureFixture[str],
) -> Callable[[], dict[tuple[str, str], float]]:
    """Reads the EMF blobs printed so far: (metric name, template or "") -> total."""

    def read() -> dict[tuple[str, str], float]:
        totals: dict[tuple[str, str], float] = {}
        for line in capsys.readouterr().out.splitlines():
            if not line.startswith("{"):
                continue
            blob = json.loads(line)
            if "_aws" not in blob:
                continue
            assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "orderflow"
            assert blob["service"] == "notifications"
            for metric in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = blob[metric["Name"]]
                total = sum(value) if isinstance(value, list) else value
                key = (metric["Name"], blob.get("template", ""))
                totals[key] = totals.get(key, 0) + total
        return totals

    return read
