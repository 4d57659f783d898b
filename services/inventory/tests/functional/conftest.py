"""Inventory's functional tests run on the embedded AWS's DynamoDB: moto with the emulator."""

from __future__ import annotations

from orderflow.emulator import dynamodb_transactions
from orderflow.emulator.fixtures import extension_fixture

# DynamoDB transactions atomic and isolated, as DynamoDB's are (TransactWriteItems, Amazon
# DynamoDB API Reference): plain moto's rollback restores whole tables, erasing others' writes.
atomic_transactions = extension_fixture(dynamodb_transactions, autouse=True)
