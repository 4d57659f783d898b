"""The Lambda entry point with in-memory ports: routing, partial failures, configuration."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from orderflow.consumer import LambdaEntry
from orderflow.contracts import Money, PaymentCompleted, utc_now
from orderflow.inventory import bootstrap
from orderflow.inventory.adapters.telemetry import InventoryTelemetry
from orderflow.inventory.domain import PRODUCER, Inventory
from orderflow.inventory.handler import handler
from orderflow.retry import NO_PAUSE
from orderflow.settings import ConfigError
from orderflow.testing import FakeLambdaContext, make_order, sqs_event, sqs_record

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture
def wired(inventory, entry_over):
    """The entry point as handler.py builds it, over the in-memory inventory."""
    return entry_over(inventory)


def test_the_handler_is_the_shared_entry_over_the_bootstrap(monkeypatch):
    for name in ("STOCK_TABLE", "MOVEMENTS_TABLE", "TOPIC_ARN"):
        monkeypatch.setenv(name, f"test-{name.lower()}")
    assert isinstance(handler, LambdaEntry)
    assert handler.service == bootstrap.SERVICE == "inventory"
    assert PRODUCER == bootstrap.SERVICE  # the events it publishes name the service
    # One inventory per container: the entry builds it on every invocation, the bootstrap keeps it.
    assert bootstrap.service(handler.telemetry) is bootstrap.service(handler.telemetry)


def test_an_event_not_routed_to_inventory_fails_its_record_only(wired, ledger, stock, failures):
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
    response = wired(sqs_event(records), FakeLambdaContext())

    # THEN the stray record returns to the queue and the order took its stock
    assert failures(response) == [records[1]["messageId"]]
    assert ledger.levels(["sku-1"])["sku-1"].available == 2


def test_raw_delivery_bodies_are_handled_too(wired, ledger, stock, failures):
    stock(sku_1=3)
    order = make_order("ord-1", items=[("sku-1", 2, "1.00")])
    response = wired(sqs_event([sqs_record(order, raw=True)]), FakeLambdaContext())
    assert failures(response) == []
    assert ledger.levels(["sku-1"])["sku-1"].available == 1


def test_each_handled_event_is_logged_and_counted(ledger, sink, stock, capsys, caplog):
    # GIVEN the entry over an inventory that reports through the Powertools telemetry
    stock(sku_1=10, sku_2=0)
    entry = LambdaEntry(bootstrap.SERVICE, lambda telemetry: inventory)
    inventory = Inventory(
        ledger, sink, observer=InventoryTelemetry(entry.telemetry), backoff=NO_PAUSE
    )
    orders = [
        make_order("ord-1", items=[("sku-1", 1, "1.00")]),  # 10 -> 9: reserved, crosses
        make_order("ord-2", items=[("sku-2", 1, "1.00")]),  # out of stock
    ]

    # WHEN both arrive, the first twice
    entry(sqs_event([sqs_record(o) for o in [*orders, orders[0]]]), FakeLambdaContext())

    # THEN one "stock handled" line per event, with its order id and outcome
    handled = [(r.order_id, r.outcome) for r in caplog.records if r.getMessage() == "stock handled"]
    assert handled == [("ord-1", "reserved"), ("ord-2", "out_of_stock"), ("ord-1", "duplicate")]
    # AND the EMF counts of what was done (plus the entry's count of failed records)
    out = capsys.readouterr().out.splitlines()
    emf = [json.loads(line) for line in out if "_aws" in line]
    counts = {name: sum(blob[name]) for blob in emf for name in blob if name[:1].isupper()}
    assert counts == {
        "Reservations": 1,
        "OutOfStock": 1,
        "Duplicates": 1,
        "LowStockAlerts": 1,
        "Failed": 0,
    }
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert emf[0]["service"] == "inventory"


def test_missing_configuration_fails_each_record_naming_the_variable(monkeypatch, caplog):
    # GIVEN a container without its table names
    monkeypatch.delenv("STOCK_TABLE", raising=False)
    monkeypatch.delenv("FAILURE_LEDGER_TABLE", raising=False)
    record = sqs_record(make_order("ord-1"))

    bootstrap.service.cache_clear()  # a new container, built from this environment

    # WHEN a record arrives
    response = handler(sqs_event([record]), FakeLambdaContext())

    # THEN the record fails (it stays queued) and its failure names the variable
    assert response == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    errors = [getattr(r, "error", "") for r in caplog.records if r.getMessage() == "record failed"]
    assert len(errors) == 1
    assert errors[0].startswith("ConfigError: environment variable STOCK_TABLE is not set")


def test_build_reads_its_settings_from_the_given_environment(observer):
    environ = {"STOCK_TABLE": "stock", "MOVEMENTS_TABLE": "movements", "TOPIC_ARN": " "}
    with pytest.raises(ConfigError, match="environment variable TOPIC_ARN is not set"):
        bootstrap.build(environ, observer=observer)
    built = bootstrap.build({**environ, "TOPIC_ARN": "arn:aws:sns:us-east-1:1:t"}, observer)
    assert (built.ledger.stock_table, built.ledger.movements_table) == ("stock", "movements")
    assert built.observer is observer


def test_importing_the_handler_does_not_import_boto3():
    # Cold start: boto3 loads on the first record, not when Lambda imports the module.
    code = "import sys, orderflow.inventory.handler; print('boto3' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
