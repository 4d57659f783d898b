from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from orderflow.failures import FailureLedger


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and a region, so nothing can reach a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return


@pytest.fixture
def ledger() -> Iterator[FailureLedger]:
    """A failure ledger on an in-process moto table."""
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName="failures",
            KeySchema=[{"AttributeName": "message_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "message_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield FailureLedger("failures", client)
