"""The Lambda entry point with in-memory ports: routing, partial failures, configuration."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from orderflow.contracts import Money, PaymentCompleted, utc_now
from orderflow.inventory import bootstrap
from orderflow.inventory.handler import handler
from orderflow.testing import FakeLambdaContext, make_order, sqs_event, sqs_record

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def wired(monkeypatch, inventory):
    monkeypatch.setattr(bootstrap, "inventory", lambda: inventory)
    return inventory


def test_an_event_not_routed_to_inventory_fails_its_record_only(wired, stock, failures):
    # GIVEN a batch holding an order and a payment event (which SNS should never route here)
    stock(sku_1=3)
    stray = PaymentCompleted(
        event_id=uuid.uuid4(),
        occurred_at=utc_now(),
        order_id="ord-1",
        correlation_id="corr-ord-1",
        producer="payment",
        customer_email="jane.doe@example.com",
        payment_id="pay-1",
        amount=Money(amount="1.00", currency="EUR"),
    )
    records = [sqs_record(make_order("ord-1", items=[("sku-1", 1, "1.00")])), sqs_record(stray)]

    # WHEN the batch is handled
    response = handler(sqs_event(records), FakeLambdaContext())

    # THEN the stray record returns to the queue and the order took its stock
    assert failures(response) == [records[1]["messageId"]]
    assert wired.ledger.levels(["sku-1"])["sku-1"].available == 2


def test_raw_delivery_bodies_are_handled_too(wired, stock, failures):
    stock(sku_1=3)
    order = make_order("ord-1", items=[("sku-1", 2, "1.00")])
    response = handler(sqs_event([sqs_record(order, raw=True)]), FakeLambdaContext())
    assert failures(response) == []
    assert wired.ledger.levels(["sku-1"])["sku-1"].available == 1


def test_missing_configuration_fails_the_record_naming_the_variable(monkeypatch, failures, caplog):
    # GIVEN a container without its table names
    monkeypatch.delenv("STOCK_TABLE", raising=False)
    record = sqs_record(make_order("ord-1"))

    # WHEN a record arrives
    response = handler(sqs_event([record]), FakeLambdaContext())

    # THEN the record fails (it stays queued) and the log says what is missing
    assert failures(response) == [record["messageId"]]
    (logged,) = [r for r in caplog.records if r.getMessage() == "record failed"]
    assert logged.error == "MissingSettingError: environment variable STOCK_TABLE is not set"


def test_importing_the_handler_does_not_import_boto3():
    # Cold start: boto3 loads on the first record, not when Lambda imports the module.
    code = "import sys, orderflow.inventory.handler; print('boto3' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
