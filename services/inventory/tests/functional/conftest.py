"""Inventory's functional tests run on the embedded AWS's DynamoDB: moto with the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orderflow.emulator import dynamodb_transactions


@pytest.fixture(autouse=True)
def atomic_transactions() -> Iterator[None]:
    """DynamoDB transactions atomic and isolated, as DynamoDB's are (the emulator's extension).

    Plain moto rolls a cancelled TransactWriteItems back by restoring whole-table copies, which
    can erase another writer's commit; TransactWriteItems, Amazon DynamoDB API Reference:
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
    """
    dynamodb_transactions.install()
    yield
    dynamodb_transactions.uninstall()
