"""Orders for publish and load: files and flags become valid contracts; traffic is realistic."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from orderflow.contracts import OrderCreated, OrderShipped
from orderflow.platform.orders import (
    CATALOG,
    OrderFileError,
    order_from_file,
    order_from_flags,
    order_traffic,
    traffic_mix,
)

ORDER = {
    "order_id": "ord-1",
    "customer_email": "ana@example.com",
    "customer_id": "c-1",
    "items": [{"sku": "sku-tee", "quantity": 2, "unit_price": "19.90"}],
    "total": {"amount": "39.80", "currency": "EUR"},
    "payment_token": "tok_visa",
}


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "order.json"
    path.write_text(json.dumps(document))
    return path


def test_a_file_without_envelope_fields_becomes_a_complete_order(tmp_path: Path) -> None:
    # GIVEN an order as a person would write it (no event id, time, producer)
    # WHEN it is read
    event = order_from_file(write(tmp_path, ORDER))

    # THEN it is an order.created from the order API with the envelope filled in
    assert isinstance(event, OrderCreated)
    assert event.total.amount == Decimal("39.80")
    assert (event.producer, event.correlation_id) == ("order-api", "corr-ord-1")


def test_a_file_may_hold_another_order_event(tmp_path: Path) -> None:
    shipped = {
        "event_type": "order.shipped",
        "order_id": "ord-1",
        "customer_email": "ana@example.com",
        "carrier": "UPS",
        "tracking_number": "1Z",
    }
    assert isinstance(order_from_file(write(tmp_path, shipped)), OrderShipped)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([ORDER], "expected a JSON object, found list"),
        (
            {**ORDER, "total": {"amount": "1.00", "currency": "EUR"}},
            "does not equal the items' sum",
        ),
        ({**ORDER, "total": {"amount": 39.8, "currency": "EUR"}}, "not a JSON float"),
        ({**ORDER, "event_type": "order.teleported"}, "unknown event_type 'order.teleported'"),
        ({k: v for k, v in ORDER.items() if k != "customer_email"}, "customer_email"),
    ],
)
def test_a_bad_file_is_one_line_naming_file_and_problem(
    tmp_path: Path, document: object, problem: str
) -> None:
    with pytest.raises(OrderFileError) as raised:
        order_from_file(write(tmp_path, document))
    message = str(raised.value)
    assert message.startswith(str(tmp_path / "order.json"))
    assert problem in message
    assert "\n" not in message


def test_flags_build_an_order_priced_from_the_catalog() -> None:
    order = order_from_flags(
        order_id="ord-9",
        items=["sku-tee:2", "sku-mug:1:10.00"],
        email="ana@example.com",
        currency="EUR",
        payment_token="tok_visa",
    )
    assert order.total.amount == CATALOG["sku-tee"] * 2 + Decimal("10.00")
    assert [i.sku for i in order.items] == ["sku-tee", "sku-mug"]


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        ([], "needs at least one --item"),
        (["sku-tee"], "expected SKU:QUANTITY[:UNIT_PRICE]"),
        (["sku-unknown:1"], "not in the catalog"),
        (["sku-tee:zero"], "sku-tee:zero"),
    ],
)
def test_bad_flags_are_one_line(items: list[str], problem: str) -> None:
    with pytest.raises(OrderFileError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        order_from_flags(
            order_id=None, items=items, email="a@example.com", currency="EUR", payment_token="t"
        )


def test_traffic_follows_each_order_after_it_was_created() -> None:
    # GIVEN a day of 500 orders
    events = list(order_traffic(500, seed=3))

    # WHEN the follow-ups are compared with their orders
    created_at = {e.order_id: i for i, e in enumerate(events) if isinstance(e, OrderCreated)}

    # THEN every order is created once, every follow-up comes after its order,
    # and refunds only follow shipped orders, for the full order total
    assert len(created_at) == 500
    shipped = set()
    for position, event in enumerate(events):
        assert created_at[event.order_id] <= position
        if event.TYPE == "order.shipped":
            shipped.add(event.order_id)
        if event.TYPE == "order.refunded":
            assert event.order_id in shipped
    mix = traffic_mix(events)
    assert mix.created == 500
    assert 20 < mix.cancelled < 90
    assert 280 < mix.shipped < 420
    assert 10 < mix.refunded < 70
    assert len({e.event_id for e in events}) == len(events)


def test_the_same_seed_gives_the_same_mix() -> None:
    first = [(e.TYPE, e.order_id) for e in order_traffic(50, seed=11)]
    second = [(e.TYPE, e.order_id) for e in order_traffic(50, seed=11)]
    assert first == second
