"""Lambda entry point: an SQS batch of order events in, a partial batch response out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orderflow.consumer import SqsConsumer
from orderflow.observability import build_logger, build_metrics, build_tracer
from orderflow.payment import bootstrap
from orderflow.payment.adapters.telemetry import PaymentTelemetry
from orderflow.payment.domain import SERVICE

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = build_logger(SERVICE)
tracer = build_tracer(SERVICE)
metrics = build_metrics(SERVICE)
consumer = SqsConsumer(SERVICE, logger=logger)
telemetry = PaymentTelemetry(logger=logger, metrics=metrics, tracer=tracer)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Charge or refund each record's order; report the records that failed."""
    wiring = bootstrap.wiring(telemetry)
    wiring.once.register_lambda_context(context)
    return consumer.process(event, context, wiring.cashier.handle)
