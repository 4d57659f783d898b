"""Failure records group the same bug under one fingerprint and survive repeated failures."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from orderflow.failures import FailureLedger, fingerprint


def test_fingerprint_ignores_ids_numbers_and_emails() -> None:
    a = fingerprint("inventory", "StockError", "order ord-42 needs 3 of sku-7 for a@b.com")
    b = fingerprint("inventory", "StockError", "order ord-99 needs 12 of sku-3 for c@d.org")

    assert a == b


def test_fingerprint_separates_kinds_and_services() -> None:
    base = fingerprint("payment", "GatewayError", "gateway timed out")

    assert base != fingerprint("payment", "ValueError", "gateway timed out")
    assert base != fingerprint("payment", "GatewayError", "card expired")
    assert base != fingerprint("inventory", "GatewayError", "gateway timed out")


@pytest.mark.functional
@mock_aws
def test_a_record_keeps_first_seen_and_counts_every_failure() -> None:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="failures",
        KeySchema=[{"AttributeName": "message_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "message_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ledger = FailureLedger("failures", client)

    for receive_count in (1, 2, 3):
        ledger.record(
            message_id="m-1",
            service="analytics",
            error=KeyError("no projection for ord-1"),
            event_type="order.shipped",
            order_id="ord-1",
            receive_count=receive_count,
        )
    ledger.record(message_id="m-2", service="analytics", error=KeyError("no projection for ord-2"))

    found = ledger.lookup(["m-1", "m-2", "m-unknown"])
    assert set(found) == {"m-1", "m-2"}
    first = found["m-1"]
    assert (first.failures, first.receive_count, first.exception_type) == (3, 3, "KeyError")
    assert first.first_seen <= first.last_seen
    assert first.event_type == "order.shipped"
    assert found["m-2"].fingerprint == first.fingerprint
