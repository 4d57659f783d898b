"""The notifications observer: each event's outcome as a Powertools log line and EMF metrics.

Ids and the template only: the customer's address stays out of logs (and traces) entirely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from orderflow.notifications.domain import Notification, Outcome
from orderflow.observability import METRICS_NAMESPACE

if TYPE_CHECKING:
    from orderflow.observability import Telemetry


class NotificationsTelemetry:
    """``NotificationsObserver`` that counts and logs each notification (the entry's Telemetry)."""

    def __init__(self, telemetry: Telemetry) -> None:
        self._service = telemetry.service
        self._logger = telemetry.logger
        self._metrics = telemetry.metrics

    def observe(self, notification: Notification) -> None:
        """Count the notification, then log it."""
        self._count(notification)
        self._logger.info(
            f"email {notification.outcome.value}",
            extra={
                "event_id": notification.event_id,
                "event_type": notification.event_type,
                "order_id": notification.order_id,
                "template": notification.template,
                "ses_message_id": notification.message_id,
            },
        )

    def _count(self, notification: Notification) -> None:
        """EmailsSent per template; Skipped and Duplicates for the service."""
        if notification.outcome is Outcome.SENT and notification.template:
            # A dimension per template needs its own EMF blob: Metrics shares one dimension set.
            with single_metric(
                name="EmailsSent",
                unit=MetricUnit.Count,
                value=1,
                namespace=METRICS_NAMESPACE,
                default_dimensions={"service": self._service},
            ) as metric:
                metric.add_dimension(name="template", value=notification.template)
        elif notification.outcome is Outcome.SKIPPED:
            self._metrics.add_metric(name="Skipped", unit=MetricUnit.Count, value=1)
        else:
            self._metrics.add_metric(name="Duplicates", unit=MetricUnit.Count, value=1)
