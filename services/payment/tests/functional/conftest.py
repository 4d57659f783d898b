"""The payment stack in moto: its tables from template.yaml, the topic, and a probe queue.

The probe queue is subscribed to the topic like a downstream consumer, so tests read what payment
really published, SNS envelope and all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from orderflow.consumer import SqsConsumer
from orderflow.contracts import OrderEvent, parse_body
from orderflow.emulator import dynamodb_transactions
from orderflow.emulator.fixtures import extension_fixture
from orderflow.failures import FailureLedger, FailureRecord
from orderflow.payment import bootstrap
from orderflow.payment import handler as payment
from orderflow.payment.adapters.gateway import JournalCounts, read_journal
from orderflow.testing import FakeLambdaContext, create_tables, sqs_event

# DynamoDB transactions atomic and isolated, as DynamoDB's are (TransactWriteItems, Amazon
# DynamoDB API Reference): plain moto's rollback restores whole tables, erasing others' writes.
atomic_transactions = extension_fixture(dynamodb_transactions, autouse=True)


@pytest.fixture
def aws(monkeypatch) -> Iterator[None]:
    """Fake credentials in us-east-1, and every AWS call served by moto in-process."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


@dataclasses.dataclass
class PaymentStack:
    """Handles on the deployed pieces, and the verbs tests use on them."""

    dynamodb: Any
    sns: Any
    sqs: Any
    topic_arn: str
    probe_queue_url: str
    payments_table: str
    idempotency_table: str
    failure_ledger_table: str
    journal_path: Path
    monkeypatch: pytest.MonkeyPatch

    def cold_start(self, **environ: str) -> None:
        """A new container: the environment is read again and every client is rebuilt."""
        for name, value in environ.items():
            self.monkeypatch.setenv(name, value)
        bootstrap.service.cache_clear()
        self.monkeypatch.setattr(
            payment.handler,
            "consumer",
            SqsConsumer("payment", logger=payment.handler.telemetry.logger),
        )

    def deliver(self, *records: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Invoke the handler the way the SQS event source mapping does."""
        return dict(payment.handler(sqs_event(list(records)), context or FakeLambdaContext()))

    def published(self) -> list[OrderEvent]:
        """Everything payment published since the last call, parsed from the SNS envelopes."""
        events: list[OrderEvent] = []
        while True:
            response = self.sqs.receive_message(
                QueueUrl=self.probe_queue_url, MaxNumberOfMessages=10
            )
            messages = response.get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(parse_body(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.probe_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def journal(self) -> JournalCounts:
        """What the card provider did, counted from its own journal."""
        return read_journal(self.journal_path)

    def entries(self, order_id: str) -> dict[str, dict[str, Any]]:
        """The payments-table items of an order, by entry."""
        response = self.dynamodb.query(
            TableName=self.payments_table,
            KeyConditionExpression="order_id = :o",
            ExpressionAttributeValues={":o": {"S": order_id}},
            ConsistentRead=True,
        )
        return {item["entry"]["S"]: item for item in response["Items"]}

    def expire_idempotency_records(self) -> int:
        """Delete every once-only record, as DynamoDB's TTL does once they expire (15 days)."""
        items = self.dynamodb.scan(TableName=self.idempotency_table, ConsistentRead=True)["Items"]
        for item in items:
            self.dynamodb.delete_item(TableName=self.idempotency_table, Key={"id": item["id"]})
        return len(items)

    def pass_invocation_deadlines(self) -> int:
        """Put every in-progress once-only record's deadline (its invocation's) in the past.

        What time does to the record of an invocation Lambda killed: by the time SQS hands the
        message out again (visibility timeout >= 6x the function timeout) its deadline is long
        behind, and Powertools lets the retry take the record over.
        """
        items = self.dynamodb.scan(TableName=self.idempotency_table, ConsistentRead=True)["Items"]
        in_progress = [i for i in items if i.get("status", {}).get("S") == "INPROGRESS"]
        for item in in_progress:
            self.dynamodb.update_item(
                TableName=self.idempotency_table,
                Key={"id": item["id"]},
                UpdateExpression="SET in_progress_expiration = :past",
                ExpressionAttributeValues={":past": {"N": "0"}},
            )
        return len(in_progress)

    def failure(self, message_id: str) -> FailureRecord | None:
        """What the failure ledger holds for a message id."""
        ledger = FailureLedger(self.failure_ledger_table, client=self.dynamodb)
        return ledger.lookup([message_id]).get(message_id)


@pytest.fixture
def stack(aws, template_path, tmp_path, monkeypatch) -> Iterator[PaymentStack]:
    dynamodb = boto3.client("dynamodb")
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    tables = create_tables(template_path, dynamodb)
    # The failure ledger belongs to the platform stack; its key is the SQS message id.
    failure_ledger = "orderflow-test-failure-ledger"
    dynamodb.create_table(
        TableName=failure_ledger,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "message_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "message_id", "KeyType": "HASH"}],
    )
    topic_arn = sns.create_topic(Name="orderflow-test-order-events")["TopicArn"]
    probe_url = sqs.create_queue(QueueName="orderflow-test-probe")["QueueUrl"]
    probe_arn = sqs.get_queue_attributes(QueueUrl=probe_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=probe_arn)

    deployed = PaymentStack(
        dynamodb=dynamodb,
        sns=sns,
        sqs=sqs,
        topic_arn=topic_arn,
        probe_queue_url=probe_url,
        payments_table=tables["PaymentsTable"],
        idempotency_table=tables["IdempotencyTable"],
        failure_ledger_table=failure_ledger,
        journal_path=tmp_path / "gateway.sqlite3",
        monkeypatch=monkeypatch,
    )
    for name in (
        "GATEWAY_OUTAGE",
        "GATEWAY_ERROR_RATE",
        "GATEWAY_LOST_RESPONSE_RATE",
        "GATEWAY_KEY_RETENTION_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    deployed.cold_start(
        TOPIC_ARN=topic_arn,
        PAYMENTS_TABLE=tables["PaymentsTable"],
        IDEMPOTENCY_TABLE=tables["IdempotencyTable"],
        FAILURE_LEDGER_TABLE=failure_ledger,
        GATEWAY_JOURNAL_PATH=str(deployed.journal_path),
        GATEWAY_LATENCY_MS="0",
        POWERTOOLS_SERVICE_NAME="payment",
    )
    yield deployed
    bootstrap.service.cache_clear()
