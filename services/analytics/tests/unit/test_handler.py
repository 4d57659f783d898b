"""The Lambda handler over an in-memory store: partial batch failures and business metrics."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import defaultdict

import pytest

from orderflow.analytics import bootstrap
from orderflow.analytics.adapters.telemetry import AnalyticsTelemetry
from orderflow.analytics.domain import BACKOFF, OrderStatus
from orderflow.analytics.handler import handler
from orderflow.consumer import LambdaEntry
from orderflow.settings import ConfigError
from orderflow.testing import FakeLambdaContext, make_order, sqs_event, sqs_record

TABLES = {
    "EVENT_STORE_TABLE": "events",
    "ORDER_STATUS_TABLE": "order-status",
    "HOURLY_METRICS_TABLE": "hourly-metrics",
}

POISON = {
    "not json": "{not json",
    "unknown event type": json.dumps({"event_type": "order.teleported", "order_id": "x"}),
    "float money": json.dumps(
        {
            "event_type": "payment.completed",
            "event_id": "5f0c6a4e-8d0b-4f57-9a43-2f3c1d7e5b90",
            "occurred_at": "2026-11-27T10:00:00Z",
            "order_id": "ord-float",
            "correlation_id": "c",
            "producer": "payment",
            "customer_email": "a@example.com",
            "payment_id": "p",
            "amount": {"amount": 10.1, "currency": "EUR"},
        }
    ),
}


@pytest.mark.parametrize("poison", sorted(POISON))
def test_a_poison_record_fails_only_itself(poison, story_of, memory_store, serve_from):
    # GIVEN a batch with a poison record between two good events of one order
    serve_from(memory_store)
    created, paid = story_of("paid_awaiting_shipment")
    batch = sqs_event(
        [
            sqs_record(created, message_id="m-created"),
            sqs_record(POISON[poison], message_id="m-poison"),
            sqs_record(paid, message_id="m-paid"),
        ]
    )

    # WHEN the handler runs
    response = handler(batch, FakeLambdaContext())

    # THEN only the poison goes back to the queue, and both good events are recorded
    assert response["batchItemFailures"] == [{"itemIdentifier": "m-poison"}]
    assert len(memory_store.stored) == 2
    assert memory_store.order_view(created.order_id).status is OrderStatus.PAID


def test_a_record_the_store_cannot_take_fails_only_itself(story_of, memory_store, serve_from):
    # GIVEN a batch where one order's events contradict each other (two totals for one order)
    serve_from(memory_store)
    first = story_of("awaiting_payment", order_id="ord-twice")[0]
    second = story_of("awaiting_payment", order_id="ord-twice", total="99.00")[0]
    second = second.model_copy(update={"event_id": uuid.uuid4()})
    other = story_of("awaiting_payment", order_id="ord-fine")[0]
    batch = sqs_event(
        [
            sqs_record(first, message_id="m-first"),
            sqs_record(second, message_id="m-second"),
            sqs_record(other, message_id="m-other"),
        ]
    )

    # WHEN the handler runs
    response = handler(batch, FakeLambdaContext())

    # THEN the contradicting record fails, visibly, and nothing of it was written
    assert response["batchItemFailures"] == [{"itemIdentifier": "m-second"}]
    assert {key[0] for key in memory_store.stored} == {"ord-twice", "ord-fine"}
    assert memory_store.order_view("ord-twice").total == first.total.amount


def emf_values(output: str) -> dict[tuple[str, str], float]:
    """Sum of each EMF metric in stdout, keyed by (metric, currency dimension or "")."""
    sums: dict[tuple[str, str], float] = defaultdict(float)
    for line in output.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                sums[(metric["Name"], blob.get("currency", ""))] += sum(values)
    return dict(sums)


def test_business_metrics_count_each_event_once(
    story_of, memory_store, serve_from, deliver, capsys
):
    # GIVEN two paid orders (EUR 30.00 and EUR 12.50), every event delivered twice
    serve_from(memory_store)
    events = story_of("paid_awaiting_shipment", order_id="ord-a") + story_of(
        "paid_awaiting_shipment", order_id="ord-b", total="12.50"
    )
    capsys.readouterr()

    # WHEN delivered, duplicates in separate batches
    assert deliver(events, batch_size=2) == []
    assert deliver(events, batch_size=2) == []

    # THEN the EMF output counts two orders and EUR 42.50 of revenue, duplicates adding nothing
    metrics = emf_values(capsys.readouterr().out)
    assert metrics[("OrdersCreated", "")] == 2
    assert metrics[("Revenue", "EUR")] == pytest.approx(42.50)


def test_the_handler_is_the_shared_entry_over_the_bootstrap(monkeypatch):
    for name, value in TABLES.items():
        monkeypatch.setenv(name, value)
    assert isinstance(handler, LambdaEntry)
    assert handler.service == bootstrap.SERVICE == "analytics"
    # One recorder per container, reporting through the entry's telemetry, with the default
    # backoff (6 attempts, 20 ms doubling).
    recorder = bootstrap.service(handler.telemetry)
    assert recorder is bootstrap.service(handler.telemetry)
    assert isinstance(recorder.observer, AnalyticsTelemetry)
    assert recorder._backoff == BACKOFF


def test_build_reads_the_tables_from_the_given_environment(observer):
    recorder = bootstrap.build(TABLES, observer=observer)
    tables = recorder.store.tables
    assert (tables.events, tables.order_status, tables.hourly_metrics) == (
        "events",
        "order-status",
        "hourly-metrics",
    )
    assert recorder.observer is observer
    with pytest.raises(ConfigError, match="environment variable ORDER_STATUS_TABLE is not set"):
        bootstrap.build({**TABLES, "ORDER_STATUS_TABLE": " "}, observer=observer)


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_missing_configuration_fails_each_record_naming_the_variable(monkeypatch, caplog):
    # GIVEN a container without its table names
    for name in TABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("FAILURE_LEDGER_TABLE", raising=False)
    record = sqs_record(make_order("ord-1"), message_id="m-1")

    bootstrap.service.cache_clear()  # a new container, built from this environment

    # WHEN a batch arrives
    response = handler(sqs_event([record]), FakeLambdaContext())

    # THEN the record fails (it stays queued) and its failure names a variable
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    errors = [getattr(r, "error", "") for r in caplog.records if r.getMessage() == "record failed"]
    assert len(errors) == 1
    assert errors[0].startswith("ConfigError: environment variable EVENT_STORE_TABLE is not set")


def test_importing_the_handler_does_not_import_boto3():
    # Cold start: boto3 loads on the first record, not when Lambda imports the module.
    code = "import sys, orderflow.analytics.handler; print('boto3' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
