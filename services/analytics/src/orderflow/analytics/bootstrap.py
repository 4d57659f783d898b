"""Builds the analytics service from the environment, once per container, on first use.

Environment (the template sets all of them):

* ``EVENT_STORE_TABLE``, ``ORDER_STATUS_TABLE``, ``HOURLY_METRICS_TABLE``: the event store and
  its two projections;
* ``FAILURE_LEDGER_TABLE``: read by the consumer shell to record why a record failed.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from orderflow.analytics.domain import Recorder
from orderflow.settings import required

if TYPE_CHECKING:
    from orderflow.analytics.ports import AnalyticsObserver
    from orderflow.observability import Telemetry

SERVICE = "analytics"
TABLE_ENVIRONMENT = {
    "events": "EVENT_STORE_TABLE",
    "order_status": "ORDER_STATUS_TABLE",
    "hourly_metrics": "HOURLY_METRICS_TABLE",
}
"""``AnalyticsTables`` field -> the environment variable template.yaml sets it in."""


@functools.cache
def service(telemetry: Telemetry) -> Recorder:
    """The container's recorder, built from ``os.environ`` on first call and kept."""
    from orderflow.analytics.adapters.telemetry import AnalyticsTelemetry  # noqa: PLC0415

    return build(os.environ, observer=AnalyticsTelemetry(telemetry))


def build(environ: Mapping[str, str], observer: AnalyticsObserver) -> Recorder:
    """The recorder over the analytics tables ``environ`` names.

    Raises ``orderflow.settings.ConfigError`` naming the first variable that is not set.
    """
    names = {field: required(name, environ) for field, name in TABLE_ENVIRONMENT.items()}

    import boto3  # noqa: PLC0415  (deferred: keeps cold start off the import path)

    from orderflow.analytics.adapters.dynamodb import (  # noqa: PLC0415
        AnalyticsTables,
        DynamoAnalyticsStore,
    )
    from orderflow.consumer import CLIENT_TIMEOUTS  # noqa: PLC0415

    # Timeouts the consumer shell's record budget outlasts (boto3's defaults are 60 s each).
    client = boto3.client("dynamodb", config=CLIENT_TIMEOUTS.botocore_config())
    return Recorder(DynamoAnalyticsStore(client, AnalyticsTables(**names)), observer=observer)
