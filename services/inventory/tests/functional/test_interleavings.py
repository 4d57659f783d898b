"""Property: under any interleaving of creates, cancels, duplicates and failed publishes, every
level ends at initial - sum(accepted orders) + sum(their cancellations), and each crossing and
each shortfall is announced exactly once.

Deliveries go through the Lambda handler as AWS-shaped SQS events. The ledger is in memory for
many examples and DynamoDB in moto (tables from template.yaml) for a few.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from orderflow.consumer import LambdaEntry
from orderflow.contracts import (
    InventoryLowStock,
    InventoryOutOfStock,
    OrderCancelled,
    OrderCreated,
    utc_now,
)
from orderflow.inventory.adapters.dynamodb import DynamoDBStockLedger
from orderflow.inventory.adapters.memory import MemoryObserver, MemoryStockLedger
from orderflow.inventory.admin import audit_stock, seed_stock
from orderflow.inventory.bootstrap import SERVICE
from orderflow.inventory.domain import Inventory, OrderOutcome, StockSetting
from orderflow.messaging import MemoryTopic, PublishError
from orderflow.retry import NO_PAUSE
from orderflow.testing import (
    FakeLambdaContext,
    create_tables,
    make_order,
    sqs_event,
    sqs_record,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
TEMPLATE = Path(__file__).parents[2] / "template.yaml"
SKUS = ("sku-a", "sku-b")


@dataclass(frozen=True)
class Scenario:
    initial: dict[str, int]
    thresholds: dict[str, int]
    orders: list[OrderCreated]
    # (kind, order index, the publish of this delivery fails)
    deliveries: list[tuple[str, int, bool]]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    initial = {sku: draw(st.integers(0, 12)) for sku in SKUS}
    thresholds = {sku: draw(st.integers(0, 10)) for sku in SKUS}
    lines = st.lists(
        st.tuples(st.sampled_from(SKUS), st.integers(1, 4)),
        min_size=1,
        max_size=len(SKUS),
        unique_by=lambda line: line[0],
    )
    orders = [
        make_order(f"ord-{n}", items=[(sku, q, "1.00") for sku, q in draw(lines)])
        for n in range(draw(st.integers(1, 6)))
    ]
    delivery = st.tuples(
        st.sampled_from(["create", "cancel"]),
        st.integers(0, len(orders) - 1),
        st.sampled_from([False, False, False, True]),
    )
    return Scenario(initial, thresholds, orders, draw(st.lists(delivery, max_size=25)))


@dataclass
class Model:
    """The reference: orders applied one at a time, by the rules in the README."""

    levels: dict[str, int]
    thresholds: dict[str, int]
    fate: dict[str, str] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)
    crossings: set[tuple[str, str]] = field(default_factory=set)

    def create(self, order: OrderCreated) -> None:
        if order.order_id in self.fate:
            return
        if any(self.levels[line.sku] < line.quantity for line in order.items):
            self.fate[order.order_id] = "out_of_stock"
            return
        self.fate[order.order_id] = "reserved"
        for line in order.items:
            before = self.levels[line.sku]
            self.levels[line.sku] -= line.quantity
            if before >= self.thresholds[line.sku] > self.levels[line.sku]:
                self.crossings.add((order.order_id, line.sku))

    def cancel(self, order: OrderCreated) -> None:
        if order.order_id in self.cancelled:
            return
        self.cancelled.add(order.order_id)
        fate = self.fate.setdefault(order.order_id, "cancelled_first")
        if fate == "reserved":
            for line in order.items:
                self.levels[line.sku] += line.quantity


class FlakySink:
    """Passes events on, except when told the next publish fails."""

    def __init__(self, sink: MemoryTopic) -> None:
        self.sink = sink
        self.fail_next = False

    def publish_batch(self, events):
        if self.fail_next:
            raise PublishError({str(e.event_id): "InternalError" for e in events})
        return self.sink.publish_batch(events)


def cancellation(order_id: str) -> OrderCancelled:
    return OrderCancelled(
        event_id=uuid.uuid4(),
        occurred_at=utc_now(),
        order_id=order_id,
        correlation_id=f"corr-{order_id}",
        producer="order-api",
        customer_email="jane.doe@example.com",
    )


def play(scenario: Scenario, ledger) -> None:
    """Deliver the scenario through the handler and check the outcome against the model."""
    seed_stock(
        ledger,
        [StockSetting(sku, scenario.initial[sku], scenario.thresholds[sku]) for sku in SKUS],
    )
    sink = FlakySink(MemoryTopic())
    inventory = Inventory(ledger, sink, observer=MemoryObserver(), backoff=NO_PAUSE)
    handler = LambdaEntry(SERVICE, lambda _telemetry: inventory)  # as handler.py builds it
    model = Model(dict(scenario.initial), scenario.thresholds)
    retries: list[dict] = []

    for kind, index, publish_fails in scenario.deliveries:
        order = scenario.orders[index]
        event = order if kind == "create" else cancellation(order.order_id)
        getattr(model, kind)(order)
        sink.fail_next = publish_fails
        record = sqs_record(event)
        response = handler(sqs_event([record]), FakeLambdaContext())
        if response["batchItemFailures"]:
            retries.append(record)
    # SQS redelivers what failed until it succeeds.
    sink.fail_next = False
    for record in retries:
        assert handler(sqs_event([record]), FakeLambdaContext())["batchItemFailures"] == []

    accepted = [
        order
        for order in scenario.orders
        if (record := ledger.history(order.order_id).record) is not None
        and record.outcome is OrderOutcome.RESERVED
    ]
    cancelled = [o for o in accepted if ledger.history(o.order_id).cancellation is not None]
    levels = {sku: lv.available for sku, lv in ledger.levels(SKUS).items()}
    for sku in SKUS:
        taken = sum(line.quantity for o in accepted for line in o.items if line.sku == sku)
        returned = sum(line.quantity for o in cancelled for line in o.items if line.sku == sku)
        assert levels[sku] == scenario.initial[sku] - taken + returned
    assert levels == model.levels
    assert {o.order_id for o in accepted} == {k for k, v in model.fate.items() if v == "reserved"}
    assert audit_stock(ledger) == []

    published = sink.sink.events
    alerts = [(e.order_id, e.sku) for e in published if isinstance(e, InventoryLowStock)]
    assert sorted(alerts) == sorted(model.crossings)  # each crossing once, none twice
    shortfalls = [e.order_id for e in published if isinstance(e, InventoryOutOfStock)]
    assert sorted(shortfalls) == sorted(k for k, v in model.fate.items() if v == "out_of_stock")


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # aws_environment is stateless
)
@given(scenario=scenarios())
def test_any_interleaving_ends_exact_in_memory(scenario: Scenario) -> None:
    play(scenario, MemoryStockLedger())


@contextmanager
def moto_ledger() -> Iterator[DynamoDBStockLedger]:
    with mock_aws():
        client = boto3.client("dynamodb")
        tables = create_tables(TEMPLATE, client)
        yield DynamoDBStockLedger(
            client, stock_table=tables["StockTable"], movements_table=tables["MovementsTable"]
        )


@pytest.mark.functional
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # aws_environment is stateless
)
@given(scenario=scenarios())
def test_any_interleaving_ends_exact_on_dynamodb(scenario: Scenario) -> None:
    with moto_ledger() as ledger:
        play(scenario, ledger)
