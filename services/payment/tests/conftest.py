"""Builders every payment test uses."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from orderflow.contracts import Money, OrderCreated, OrderRefunded, utc_now

TEMPLATE = Path(__file__).parents[1] / "template.yaml"


@pytest.fixture(scope="session")
def template_path() -> Path:
    return TEMPLATE


@pytest.fixture
def refund_of() -> Callable[..., OrderRefunded]:
    """``refund_of(order, amount="4.00")``: an order.refunded of ``order`` (in full by default)."""

    def build(order: OrderCreated, amount: str | None = None) -> OrderRefunded:
        return OrderRefunded(
            event_id=uuid.uuid4(),
            occurred_at=utc_now(),
            order_id=order.order_id,
            correlation_id=order.correlation_id,
            producer="order-api",
            customer_email=order.customer_email,
            amount=Money(
                amount=Decimal(amount) if amount is not None else order.total.amount,
                currency=order.total.currency,
            ),
            reason="customer changed their mind",
        )

    return build
