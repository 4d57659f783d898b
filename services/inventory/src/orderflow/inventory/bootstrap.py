"""Builds the inventory service's adapters once per container, from the environment."""

from __future__ import annotations

import functools
import os

from orderflow.inventory.domain import Inventory, InventoryError

STOCK_TABLE_ENV = "STOCK_TABLE"
MOVEMENTS_TABLE_ENV = "MOVEMENTS_TABLE"
TOPIC_ARN_ENV = "TOPIC_ARN"


class MissingSettingError(InventoryError):
    """An environment variable the service needs is not set."""


def setting(name: str) -> str:
    """The value of environment variable ``name``; raises if it is unset or empty."""
    value = os.environ.get(name, "")
    if not value:
        raise MissingSettingError(f"environment variable {name} is not set")
    return value


@functools.cache
def inventory() -> Inventory:
    """The service over DynamoDB and the order-events topic (built on first use)."""
    import boto3  # noqa: PLC0415  (deferred: keeps cold start off the import path)

    from orderflow.consumer import CLIENT_TIMEOUTS  # noqa: PLC0415
    from orderflow.inventory.adapters.dynamodb import DynamoDBStockLedger  # noqa: PLC0415
    from orderflow.messaging import EventPublisher  # noqa: PLC0415

    # Timeouts the consumer shell's record budget outlasts (boto3's defaults are 60 s each).
    config = CLIENT_TIMEOUTS.botocore_config()
    ledger = DynamoDBStockLedger(
        boto3.client("dynamodb", config=config),
        stock_table=setting(STOCK_TABLE_ENV),
        movements_table=setting(MOVEMENTS_TABLE_ENV),
    )
    publisher = EventPublisher(setting(TOPIC_ARN_ENV), client=boto3.client("sns", config=config))
    return Inventory(ledger, publisher)
