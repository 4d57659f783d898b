"""Functional fixtures: moto in-process, with the tables from this service's own template.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from orderflow.analytics import bootstrap
from orderflow.analytics.adapters.dynamodb import AnalyticsTables, DynamoAnalyticsStore
from orderflow.analytics.handler import handler
from orderflow.consumer import SqsConsumer
from orderflow.emulator import dynamodb_transactions
from orderflow.emulator.fixtures import extension_fixture
from orderflow.failures import FailureLedger
from orderflow.testing import create_tables

TEMPLATE = Path(__file__).parents[2] / "template.yaml"
STAGE = "test"
FAILURE_LEDGER = f"orderflow-{STAGE}-failure-ledger"


# DynamoDB transactions atomic and isolated, as DynamoDB's are (TransactWriteItems, Amazon
# DynamoDB API Reference): plain moto's rollback restores whole tables, erasing others' writes.
atomic_transactions = extension_fixture(dynamodb_transactions, autouse=True)


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def tables(dynamodb: Any) -> AnalyticsTables:
    create_tables(TEMPLATE, dynamodb, stage=STAGE)
    return AnalyticsTables.for_stage(STAGE)


@pytest.fixture
def dynamo_store(dynamodb: Any, tables: AnalyticsTables) -> DynamoAnalyticsStore:
    return DynamoAnalyticsStore(dynamodb, tables)


@pytest.fixture
def failure_ledger(dynamodb: Any) -> FailureLedger:
    """The platform's failure ledger table (its key schema is the shared FailureLedger's)."""
    dynamodb.create_table(
        TableName=FAILURE_LEDGER,
        KeySchema=[{"AttributeName": "message_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "message_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return FailureLedger(FAILURE_LEDGER, dynamodb)


@pytest.fixture
def live_handler(
    monkeypatch: pytest.MonkeyPatch,
    tables: AnalyticsTables,
    failure_ledger: FailureLedger,
    dynamo_store: DynamoAnalyticsStore,
) -> Iterator[DynamoAnalyticsStore]:
    """The handler configured as template.yaml configures it, against moto."""
    for field, name in bootstrap.TABLE_ENVIRONMENT.items():
        monkeypatch.setenv(name, getattr(tables, field))
    monkeypatch.setenv("FAILURE_LEDGER_TABLE", FAILURE_LEDGER)
    consumer = SqsConsumer(
        bootstrap.SERVICE,
        logger=handler.telemetry.logger,
        failure_ledger=failure_ledger,
    )
    monkeypatch.setattr(handler, "consumer", consumer)
    bootstrap.service.cache_clear()
    yield dynamo_store
    bootstrap.service.cache_clear()
