"""Builds the analytics adapters lazily, once per container, from the environment."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orderflow.analytics.adapters.dynamodb import AnalyticsTables, DynamoAnalyticsStore

SERVICE = "analytics"
TABLE_ENVIRONMENT = {
    "events": "EVENT_STORE_TABLE",
    "order_status": "ORDER_STATUS_TABLE",
    "hourly_metrics": "HOURLY_METRICS_TABLE",
}


class ConfigurationError(RuntimeError):
    """The function's environment lacks something template.yaml sets."""


def tables_from_environment(environ: Mapping[str, str] = os.environ) -> AnalyticsTables:
    """The table names template.yaml passes to the function."""
    from orderflow.analytics.adapters.dynamodb import AnalyticsTables  # noqa: PLC0415

    missing = [name for name in TABLE_ENVIRONMENT.values() if not environ.get(name)]
    if missing:
        raise ConfigurationError(f"environment variables not set: {', '.join(missing)}")
    return AnalyticsTables(**{field: environ[name] for field, name in TABLE_ENVIRONMENT.items()})


def dynamo_store(
    tables: AnalyticsTables, *, region: str | None = None, endpoint_url: str | None = None
) -> DynamoAnalyticsStore:
    """A DynamoDB-backed store over ``tables`` (default credential chain and region)."""
    import boto3  # noqa: PLC0415  (cold start: only when first needed)

    from orderflow.analytics.adapters.dynamodb import DynamoAnalyticsStore  # noqa: PLC0415
    from orderflow.consumer import CLIENT_TIMEOUTS  # noqa: PLC0415

    # Timeouts the consumer shell's record budget outlasts (boto3's defaults are 60 s each).
    client = boto3.client(
        "dynamodb",
        region_name=region,
        endpoint_url=endpoint_url,
        config=CLIENT_TIMEOUTS.botocore_config(),
    )
    return DynamoAnalyticsStore(client, tables)


@functools.cache
def event_store() -> DynamoAnalyticsStore:
    """The function's store, built on the first record and reused by the container."""
    return dynamo_store(tables_from_environment())
