"""Lambda entry point: one templated email per customer-facing event, at most once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from orderflow.consumer import SqsConsumer
from orderflow.notifications import bootstrap
from orderflow.notifications.domain import Notification, Outcome, send_notification
from orderflow.observability import (
    METRICS_NAMESPACE,
    build_logger,
    build_metrics,
    build_tracer,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from orderflow.contracts import EventEnvelope

SERVICE = "notifications"
logger = build_logger(SERVICE)
tracer = build_tracer(SERVICE)
metrics = build_metrics(SERVICE)
consumer = SqsConsumer(SERVICE, logger=logger)


def notify(event: EventEnvelope) -> None:
    """Send the event's email unless it already went out; skip types with no template."""
    notification = send_notification(
        event, bootstrap.email_sender(), bootstrap.once_only(), bootstrap.sent_emails()
    )
    count(notification)
    # Ids and the template only: the address stays out of logs (and traces) entirely.
    logger.info(
        f"email {notification.outcome.value}",
        extra={
            "event_id": notification.event_id,
            "event_type": notification.event_type,
            "order_id": event.order_id,
            "template": notification.template,
            "ses_message_id": notification.message_id,
        },
    )


def count(notification: Notification) -> None:
    """EmailsSent per template; Skipped and Duplicates for the service."""
    if notification.outcome is Outcome.SENT and notification.template:
        # A dimension per template needs its own EMF blob: Metrics shares one dimension set.
        with single_metric(
            name="EmailsSent",
            unit=MetricUnit.Count,
            value=1,
            namespace=METRICS_NAMESPACE,
            default_dimensions={"service": SERVICE},
        ) as metric:
            metric.add_dimension(name="template", value=notification.template)
    elif notification.outcome is Outcome.SKIPPED:
        metrics.add_metric(name="Skipped", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="Duplicates", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """SQS batch in, partial batch response out: only failed records return to the queue."""
    bootstrap.once_only().register_lambda_context(context)
    response = consumer.process(event, context, notify)
    failed = len(response["batchItemFailures"])
    metrics.add_metric(name="Failed", unit=MetricUnit.Count, value=failed)
    return response
