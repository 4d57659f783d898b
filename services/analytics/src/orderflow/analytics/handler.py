"""Lambda entry point: every order event into the event store and both projections, once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orderflow.analytics import bootstrap
from orderflow.analytics.adapters.metrics import EmfBusinessMetrics
from orderflow.analytics.domain import record_event
from orderflow.consumer import SqsConsumer
from orderflow.observability import build_logger, build_metrics, build_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from orderflow.contracts import OrderEvent

logger = build_logger(bootstrap.SERVICE)
tracer = build_tracer(bootstrap.SERVICE)
metrics = build_metrics(bootstrap.SERVICE)
consumer = SqsConsumer(bootstrap.SERVICE, logger=logger)
business_metrics = EmfBusinessMetrics(metrics, bootstrap.SERVICE)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Record each event of the SQS batch; report the records that failed."""
    store = bootstrap.event_store()

    def record(order_event: OrderEvent) -> None:
        record_event(order_event, store, business_metrics)

    return consumer.process(event, context, record)
