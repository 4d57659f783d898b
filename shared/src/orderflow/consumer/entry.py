"""A service's Lambda entry point, the same in all four: build, bind, run the batch, count.

A service's ``handler.py`` is one line of wiring::

    handler = LambdaEntry(SERVICE, bootstrap.service)

``bootstrap.service(telemetry)`` builds the domain object (once per container: the bootstrap
caches it) with its observer adapter over the entry's Telemetry; the entry injects the Lambda
context into logs, records the invocation's trace, flushes metrics, runs the batch through the
consumer shell (building the service on the first record, so a configuration error fails the
records and is recorded in the failure ledger like any other), registers the invocation on
every once-only store and counts failed records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from orderflow.consumer.batch import SqsConsumer
from orderflow.idempotency.once import register_invocation
from orderflow.observability.setup import Telemetry

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext


class Service(Protocol):
    """A service's domain object: one parsed order event in; raises to fail the record."""

    def handle(self, event: Any, /) -> object:
        """Do the service's work for ``event``."""
        ...


class LambdaEntry:
    """The Lambda handler of one service (SAM's ``Handler`` names an instance of this)."""

    def __init__(self, service: str, build: Callable[[Telemetry], Service]) -> None:
        self.service = service
        self.telemetry = Telemetry.for_service(service)
        self.consumer = SqsConsumer(service, logger=self.telemetry.logger)
        self._build = build
        logger, tracer, metrics = (
            self.telemetry.logger,
            self.telemetry.tracer,
            self.telemetry.metrics,
        )
        self._invoke: Callable[[dict[str, Any], LambdaContext], PartialItemFailureResponse] = (
            logger.inject_lambda_context(
                tracer.capture_lambda_handler(metrics.log_metrics(self._process))
            )
        )

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        """SQS batch in, partial batch response out: only failed records return to the queue."""
        return self._invoke(event, context)

    def _process(self, event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        from aws_lambda_powertools.metrics import MetricUnit  # noqa: PLC0415

        built: list[Service] = []

        def handle(record: Any) -> object:
            # Built on the invocation's first record (and cached by the bootstrap), inside the
            # shell: a missing setting fails each record with its name in the failure ledger.
            if not built:
                built.append(self._build(self.telemetry))
                register_invocation(context)  # stores built just now get this deadline too
            return built[0].handle(record)

        response = self.consumer.process(event, context, handle)
        failed = len(response["batchItemFailures"])
        self.telemetry.metrics.add_metric(name="Failed", unit=MetricUnit.Count, value=failed)
        return response
