"""What analytics recorded, as Powertools EMF business metrics.

``OrdersCreated`` (count) and ``Revenue`` (per ``currency`` dimension) in the ``orderflow``
namespace with dimension ``service=analytics``, for newly recorded events only, so a duplicate
delivery never inflates a metric.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from orderflow.observability import METRICS_NAMESPACE

if TYPE_CHECKING:
    from orderflow.analytics.domain import EventRecorded
    from orderflow.observability import Telemetry


class AnalyticsTelemetry:
    """``AnalyticsObserver`` that counts each newly recorded event's contribution."""

    def __init__(self, telemetry: Telemetry) -> None:
        self._metrics = telemetry.metrics
        self._service = telemetry.service

    def observe(self, outcome: EventRecorded) -> None:
        """Emit what a newly recorded event contributes; nothing for a duplicate."""
        if not outcome.first_time:
            return
        contribution = outcome.contribution
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
