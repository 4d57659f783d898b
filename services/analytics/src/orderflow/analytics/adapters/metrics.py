"""Business metrics as CloudWatch EMF through Powertools."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from orderflow.observability import METRICS_NAMESPACE

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics

    from orderflow.analytics.domain import HourlyMetrics


class EmfBusinessMetrics:
    """OrdersCreated (count) and Revenue (per currency) for each newly recorded event.

    Only new events reach here, so a duplicate delivery never inflates a metric.
    """

    def __init__(self, metrics: Metrics, service: str) -> None:
        self._metrics = metrics
        self._service = service

    def record(self, contribution: HourlyMetrics) -> None:
        """Emit what one event contributes."""
        if contribution.orders:
            self._metrics.add_metric(
                name="OrdersCreated", unit=MetricUnit.Count, value=contribution.orders
            )
        for currency, amount in contribution.revenue.items():
            # Amounts in different currencies must not be summed, so each currency is its own
            # dimension value; EMF values are floats, the exact figures live in the tables.
            with single_metric(
                name="Revenue",
                unit=MetricUnit.NoUnit,
                value=float(amount),
                namespace=METRICS_NAMESPACE,
            ) as metric:
                metric.add_dimension(name="service", value=self._service)
                metric.add_dimension(name="currency", value=currency)
