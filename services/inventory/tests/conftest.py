"""Fixtures: a fake AWS environment, in-memory ports, and the service's stack in moto."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from orderflow.consumer import LambdaEntry
from orderflow.contracts import EventEnvelope, OrderCancelled, parse_body, utc_now
from orderflow.inventory import bootstrap
from orderflow.inventory.adapters.dynamodb import DynamoDBStockLedger
from orderflow.inventory.adapters.memory import MemoryObserver, MemoryStockLedger
from orderflow.inventory.admin import seed_stock
from orderflow.inventory.domain import Inventory, StockSetting
from orderflow.inventory.handler import handler
from orderflow.messaging import MemoryTopic
from orderflow.retry import NO_PAUSE
from orderflow.testing import FakeLambdaContext, create_tables, sqs_event, sqs_record

TEMPLATE = Path(__file__).parents[1] / "template.yaml"


def cancellation(order_id: str, *, email: str = "jane.doe@example.com") -> OrderCancelled:
    """An ``order.cancelled`` for ``order_id``."""
    return OrderCancelled(
        event_id=uuid.uuid4(),
        occurred_at=utc_now(),
        order_id=order_id,
        correlation_id=f"corr-{order_id}",
        producer="order-api",
        customer_email=email,
        reason="changed my mind",
    )


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and region, no tracing daemon, no real endpoint, a fresh container."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_DEV": "false",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "FAILURE_LEDGER_TABLE"):
        monkeypatch.delenv(name, raising=False)
    bootstrap.service.cache_clear()
    yield
    bootstrap.service.cache_clear()


@pytest.fixture
def cancel() -> Callable[..., OrderCancelled]:
    return cancellation


@pytest.fixture
def ledger() -> MemoryStockLedger:
    return MemoryStockLedger()


@pytest.fixture
def sink() -> MemoryTopic:
    return MemoryTopic()


@pytest.fixture
def observer() -> MemoryObserver:
    return MemoryObserver()


@pytest.fixture
def inventory(ledger: MemoryStockLedger, sink: MemoryTopic, observer: MemoryObserver) -> Inventory:
    return Inventory(ledger, sink, observer=observer, backoff=NO_PAUSE)


def lambda_entry(inventory: Inventory) -> LambdaEntry:
    """The Lambda entry point as ``handler.py`` builds it, over a given inventory."""
    return LambdaEntry(bootstrap.SERVICE, lambda _telemetry: inventory)


@pytest.fixture
def entry_over() -> Callable[[Inventory], LambdaEntry]:
    return lambda_entry


@pytest.fixture
def stock(ledger: MemoryStockLedger) -> Callable[..., None]:
    """Seed the in-memory ledger: ``stock(sku_1=20, sku_2=(5, 3))`` (level, threshold)."""

    def seed(**levels: int | tuple[int, int]) -> None:
        settings = [
            StockSetting(sku.replace("_", "-"), *value)
            if isinstance(value, tuple)
            else StockSetting(sku.replace("_", "-"), value)
            for sku, value in levels.items()
        ]
        seed_stock(ledger, settings)

    return seed


@dataclass
class Stack:
    """The inventory stack in moto: its tables (from template.yaml), the topic, a tap on it."""

    dynamodb: Any
    sqs: Any
    tables: dict[str, str]
    topic_arn: str
    tap_url: str
    received: list[EventEnvelope] = field(default_factory=list)

    def published(self) -> list[EventEnvelope]:
        """Every event published to the topic so far, in arrival order."""
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.tap_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return list(self.received)
            for message in messages:
                self.received.append(parse_body(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.tap_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def ledger(self) -> DynamoDBStockLedger:
        return DynamoDBStockLedger(
            self.dynamodb,
            stock_table=self.tables["StockTable"],
            movements_table=self.tables["MovementsTable"],
        )


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """moto with the template's tables, the order-events topic and a raw tap queue on it."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        sns = boto3.client("sns")
        sqs = boto3.client("sqs")
        tables = create_tables(TEMPLATE, dynamodb)
        topic_arn = sns.create_topic(Name="orderflow-test-order-events")["TopicArn"]
        tap_url = sqs.create_queue(QueueName="orderflow-test-tap")["QueueUrl"]
        tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=tap_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        monkeypatch.setenv("STOCK_TABLE", tables["StockTable"])
        monkeypatch.setenv("MOVEMENTS_TABLE", tables["MovementsTable"])
        monkeypatch.setenv("TOPIC_ARN", topic_arn)
        yield Stack(dynamodb, sqs, tables, topic_arn, tap_url)


@pytest.fixture
def deliver() -> Callable[..., dict[str, Any]]:
    """Invoke the Lambda handler with one SQS batch carrying ``events`` (SNS-wrapped)."""

    def invoke(*events: EventEnvelope | str, receive_count: int = 1) -> dict[str, Any]:
        records = [sqs_record(e, receive_count=receive_count) for e in events]
        return dict(handler(sqs_event(records), FakeLambdaContext()))

    return invoke


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]


def deliver_until_done(
    invoke: Callable[[Sequence[dict[str, Any]]], dict[str, Any]],
    records: Sequence[dict[str, Any]],
    *,
    max_rounds: int = 20,
) -> int:
    """Redeliver failed records as SQS would, until none fail; return the number of rounds."""
    pending = list(records)
    for round_number in range(1, max_rounds + 1):
        failed = set(failed_ids(invoke(pending)))
        pending = [r for r in pending if r["messageId"] in failed]
        if not pending:
            return round_number
    raise AssertionError(f"{len(pending)} record(s) still failing after {max_rounds} rounds")


@pytest.fixture
def redeliver() -> Callable[..., int]:
    return deliver_until_done


@pytest.fixture
def failures() -> Callable[[dict[str, Any]], list[str]]:
    return failed_ids
