"""Builds the inventory service from the environment, once per container, on first use.

Environment (the template sets all of them):

* ``STOCK_TABLE``, ``MOVEMENTS_TABLE``: the stock ledger's two tables;
* ``TOPIC_ARN``: the order-events topic derived events are published to;
* ``FAILURE_LEDGER_TABLE``: read by the consumer shell to record why a record failed.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from orderflow.inventory.domain import Inventory
from orderflow.settings import required

if TYPE_CHECKING:
    from orderflow.inventory.ports import InventoryObserver
    from orderflow.observability import Telemetry

SERVICE = "inventory"
STOCK_TABLE_ENV = "STOCK_TABLE"
MOVEMENTS_TABLE_ENV = "MOVEMENTS_TABLE"
TOPIC_ARN_ENV = "TOPIC_ARN"


@functools.cache
def service(telemetry: Telemetry) -> Inventory:
    """The container's inventory, built from ``os.environ`` on first call and kept."""
    from orderflow.inventory.adapters.telemetry import InventoryTelemetry  # noqa: PLC0415

    return build(os.environ, observer=InventoryTelemetry(telemetry))


def build(environ: Mapping[str, str], observer: InventoryObserver) -> Inventory:
    """The inventory over DynamoDB and the order-events topic, as ``environ`` names them.

    Raises ``orderflow.settings.ConfigError`` naming the first variable that is not set.
    """
    stock_table = required(STOCK_TABLE_ENV, environ)
    movements_table = required(MOVEMENTS_TABLE_ENV, environ)
    topic_arn = required(TOPIC_ARN_ENV, environ)

    import boto3  # noqa: PLC0415  (deferred: keeps cold start off the import path)

    from orderflow.consumer import CLIENT_TIMEOUTS  # noqa: PLC0415
    from orderflow.inventory.adapters.dynamodb import DynamoDBStockLedger  # noqa: PLC0415
    from orderflow.messaging import EventPublisher  # noqa: PLC0415

    # Timeouts the consumer shell's record budget outlasts (boto3's defaults are 60 s each).
    config = CLIENT_TIMEOUTS.botocore_config()
    ledger = DynamoDBStockLedger(
        boto3.client("dynamodb", config=config),
        stock_table=stock_table,
        movements_table=movements_table,
    )
    publisher = EventPublisher(topic_arn, client=boto3.client("sns", config=config))
    return Inventory(ledger, publisher, observer=observer)
