"""The reconciliation: expected from what was published, actual from what services recorded."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from orderflow.contracts import Money, OrderCancelled, OrderRefunded, OrderShipped, utc_now
from orderflow.local.demo import DemoOptions, initial_stock, plan_faults
from orderflow.local.reconciliation import Observed, Published, entries_by_kind, reconcile
from orderflow.testing import make_order

TEMPLATES = {
    "order.created": "order-confirmation",
    "payment.completed": "payment-receipt",
    "order.shipped": "shipping-notification",
    "order.cancelled": "cancellation-confirmation",
}


def follow_up(kind: type[Any], order_id: str, **fields: Any) -> Any:
    return kind(
        event_id=uuid.uuid4(),
        occurred_at=utc_now(),
        order_id=order_id,
        correlation_id=f"corr-{order_id}",
        producer="order-api",
        customer_email="jane@example.com",
        **fields,
    )


def burst() -> Published:
    """Three orders: one cancelled, one shipped and refunded."""
    a = make_order("ord-a", items=(("sku-tee", 2, "10.00"),))
    b = make_order("ord-b", items=(("sku-tee", 1, "10.00"), ("sku-mug", 1, "5.00")))
    c = make_order("ord-c", items=(("sku-mug", 3, "5.00"),))
    events = [
        a,
        b,
        c,
        follow_up(OrderCancelled, "ord-a"),
        follow_up(OrderShipped, "ord-b", carrier="UPS", tracking_number="T1"),
        follow_up(OrderRefunded, "ord-b", amount=Money(amount=Decimal("15.00"), currency="EUR")),
    ]
    return Published(events, {"sku-tee": 10, "sku-mug": 10})


def everything_right(published: Published) -> Observed:
    orders = [o.order_id for o in published.orders]
    emails = [("orderflow-local-order-confirmation", o) for o in orders]
    emails += [("orderflow-local-payment-receipt", o) for o in orders]
    emails += [("orderflow-local-cancellation-confirmation", "ord-a")]
    emails += [("orderflow-local-shipping-notification", "ord-b")]
    return Observed(
        charges=dict.fromkeys(orders, 1),
        declines={},
        refunds={"ord-b": 1},
        payment_records=frozenset(orders),
        stock={"sku-tee": 9, "sku-mug": 6},
        inventory_recorded=frozenset(orders),
        inventory_cancelled=frozenset({"ord-a"}),
        emails=emails,
        analytics_event_ids=frozenset(str(e.event_id) for e in published.events),
        analytics_totals={
            "orders": 3,
            "cancellations": 1,
            "shipments": 1,
            "refunds": 1,
            "payments": 3,
            "revenue": {"EUR": "50.00"},
            "refunded": {"EUR": "15.00"},
        },
        queue_depths={"orderflow-local-payment": 0, "orderflow-local-payment-dlq": 0},
    )


def failed_checks(published: Published, observed: Observed) -> list[str]:
    result = reconcile(published, observed, TEMPLATES, "local")
    return [c.name for c in result.checks if not c.ok]


def test_stock_is_initial_minus_ordered_plus_cancelled() -> None:
    assert burst().expected_stock() == {"sku-tee": 9, "sku-mug": 6}


def test_a_run_where_every_effect_happened_once_reconciles() -> None:
    published = burst()
    result = reconcile(published, everything_right(published), TEMPLATES, "local")
    assert result.ok
    assert result.lost == 0


def test_a_double_charge_does_not_reconcile() -> None:
    published = burst()
    observed = replace(everything_right(published), charges={"ord-a": 2, "ord-b": 1, "ord-c": 1})
    assert failed_checks(published, observed) == [
        "orders charged exactly once",
        "orders charged twice or more",
    ]


def test_a_missing_email_is_a_lost_message() -> None:
    published = burst()
    right = everything_right(published)
    observed = replace(right, emails=[e for e in right.emails if e[1] != "ord-c"])
    result = reconcile(published, observed, TEMPLATES, "local")
    assert result.lost == 2
    assert "messages lost" in [c.name for c in result.checks if not c.ok]


def test_a_second_email_for_one_event_does_not_reconcile() -> None:
    published = burst()
    right = everything_right(published)
    observed = replace(right, emails=[*right.emails, right.emails[0]])
    assert failed_checks(published, observed) == ["emails sent twice for one event"]


def test_stock_off_by_one_and_a_parked_message_do_not_reconcile() -> None:
    published = burst()
    right = everything_right(published)
    observed = replace(
        right,
        stock={"sku-tee": 8, "sku-mug": 6},
        queue_depths={"orderflow-local-payment": 0, "orderflow-local-payment-dlq": 1},
    )
    assert failed_checks(published, observed) == [
        "stock sku-tee",
        "orderflow-local-payment-dlq empty",
    ]


def test_analytics_totals_are_compared_with_what_was_published() -> None:
    published = burst()
    right = everything_right(published)
    observed = replace(right, analytics_totals={**right.analytics_totals, "refunds": 0})
    assert failed_checks(published, observed) == ["refunds"]


def test_the_demo_spreads_its_dozen_unlucky_orders_over_the_burst() -> None:
    orders = [make_order(f"ord-{n:03d}") for n in range(60)]
    [bug] = plan_faults(DemoOptions(bug_service="analytics"), orders).consumer_bugs
    assert bug.service == "analytics"
    assert len(set(bug.order_ids)) == 12
    assert bug.order_ids[0] != orders[0].order_id
    assert bug.order_ids[-1] != orders[-1].order_id


def test_a_big_bursts_unlucky_orders_come_in_its_first_fifth() -> None:
    # Their retries then run while the rest of the burst drains.
    orders = [make_order(f"ord-{n:04d}") for n in range(1000)]
    [bug] = plan_faults(DemoOptions(), orders).consumer_bugs
    first_fifth = {o.order_id for o in orders[:200]}
    assert len(set(bug.order_ids)) == 12
    assert set(bug.order_ids) <= first_fifth


def test_a_small_demo_burst_gets_fewer_unlucky_orders() -> None:
    orders = [make_order(f"ord-{n:03d}") for n in range(20)]
    [bug] = plan_faults(DemoOptions(), orders).consumer_bugs
    assert len(bug.order_ids) == 4


def test_the_demo_seeds_every_catalog_sku_with_headroom_over_the_burst() -> None:
    orders = [make_order("ord-1", items=(("sku-tee", 4, "19.90"),))]
    stock = initial_stock(orders)
    assert stock["sku-tee"][0] == 24
    assert all(available >= 20 for available, _ in stock.values())


def test_one_scan_finds_the_orders_holding_each_kind_of_entry(
    aws: Callable[[str], Any],
) -> None:
    # GIVEN a ledger table keyed (order_id, entry) with records, cancellations and movements
    dynamodb = aws("dynamodb")
    dynamodb.create_table(
        TableName="movements",
        KeySchema=[
            {"AttributeName": "order_id", "KeyType": "HASH"},
            {"AttributeName": "entry", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "order_id", "AttributeType": "S"},
            {"AttributeName": "entry", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for order_id, entry in [
        ("ord-a", "order"),
        ("ord-a", "reserve#sku-tee"),
        ("ord-a", "cancel"),
        ("ord-b", "order"),
        ("ord-c", "reserve#sku-mug"),
    ]:
        dynamodb.put_item(
            TableName="movements", Item={"order_id": {"S": order_id}, "entry": {"S": entry}}
        )
    # WHEN the reconciliation reads it
    found = entries_by_kind(dynamodb, "movements", ("order", "cancel"))
    # THEN each kind names exactly the orders that hold one
    assert found == {"order": {"ord-a", "ord-b"}, "cancel": {"ord-a"}}
