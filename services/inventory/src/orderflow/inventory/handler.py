"""Lambda entry point: reserve stock on order.created, put it back on order.cancelled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from orderflow.consumer import SqsConsumer
from orderflow.inventory import bootstrap
from orderflow.inventory.domain import SERVICE
from orderflow.observability import build_logger, build_metrics, build_tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from orderflow.contracts import EventEnvelope

logger = build_logger(SERVICE)
tracer = build_tracer(SERVICE)
metrics = build_metrics(SERVICE)
consumer = SqsConsumer(SERVICE, logger=logger)


def handle_event(event: EventEnvelope) -> None:
    """One order event through the inventory; counts what it did."""
    result = bootstrap.inventory().handle(event)
    logger.info("stock handled", extra={"order_id": event.order_id, "outcome": result.outcome})
    for name, value in result.metrics().items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """The SQS batch, with partial batch failures reported."""
    return consumer.process(event, context, handle_event)
