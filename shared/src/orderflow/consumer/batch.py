"""One SQS batch through a service's domain, with partial batch responses.

A record that fails is recorded in the failure ledger (why, with a fingerprint) and raised, so
Powertools reports its messageId in ``batchItemFailures``: only that record returns to the queue,
the others are deleted. A record is never acknowledged before its work is durable.

Records run one after another. Before each, the shell compares the invocation's time left with
the record budget (``orderflow.consumer.budget``): a record that might not finish is not started
and is reported failed, so a timeout never cuts a charge or an email off from its durable record.
A record's effect run through ``OnceOnly`` with a start window is checked again just before it
starts (``EffectNotStartedError``), after the record's first calls took their time; such a
record is handed back the same way, with nothing done.

A record not started still used one of its receives: SQS counts every receive towards the
queue's ``maxReceiveCount``, started or not, and parks the message past it. So the records of a
batch run most received first: a record that was not started comes back (after its visibility
timeout) ahead of every record that has been received fewer times, and only records that have
waited as long as it can use up the time before it. Without that, a record could land at the
tail of a slow batch on each receive and park in the DLQ without ever having run. Handing it back
at once (ChangeMessageVisibility to 0) would not help: its next receive counts all the same.
(Standard queues only: a FIFO queue's records keep their order.)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from orderflow.consumer.budget import CLIENT_TIMEOUTS, RECORD_BUDGET, RecordBudget
from orderflow.contracts.errors import UnexpectedEventError
from orderflow.contracts.events import EventEnvelope
from orderflow.contracts.parsing import parse_sqs_record
from orderflow.contracts.routing import consumed_by
from orderflow.failures.ledger import FailureLedger
from orderflow.idempotency.once import EffectNotStartedError
from orderflow.observability.tracing import TraceHeader, traced_work

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

EventHandler = Callable[[Any], object]
"""The domain entry point: takes one parsed contract, raises to fail the record (its return
value is the domain's outcome, for its observer; the shell ignores it)."""

FAILURE_LEDGER_ENV = "FAILURE_LEDGER_TABLE"


class RecordNotStartedError(Exception):
    """Too little of the invocation is left to start the record; it is retried later."""


class SqsConsumer:
    """Runs a service's event handler over an SQS batch event."""

    def __init__(
        self,
        service: str,
        *,
        logger: Logger,
        failure_ledger: FailureLedger | None = None,
        record_budget: RecordBudget = RECORD_BUDGET,
    ) -> None:
        self.service = service
        self.accepts = consumed_by(service)
        self.record_budget = record_budget
        self._logger = logger
        self._ledger = failure_ledger
        self._ledger_resolved = failure_ledger is not None

    @property
    def failure_ledger(self) -> FailureLedger | None:
        """The ledger named by FAILURE_LEDGER_TABLE, built on first use (None when unset)."""
        if not self._ledger_resolved:
            table = os.environ.get(FAILURE_LEDGER_ENV)
            self._ledger = FailureLedger(table, _ledger_client()) if table else None
            self._ledger_resolved = True
        return self._ledger

    def process(
        self, event: dict[str, Any], context: LambdaContext, handle: EventHandler
    ) -> PartialItemFailureResponse:
        """Process every record of ``event``; return the partial batch response."""
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        not_started: list[str] = []

        def one(record: SQSRecord) -> None:
            left = context.get_remaining_time_in_millis()
            if left < self.record_budget.milliseconds:
                not_started.append(record.message_id)
                raise RecordNotStartedError(
                    f"{left} ms left, a record needs {self.record_budget.milliseconds} ms"
                )
            try:
                self._one(record, handle)
            except EffectNotStartedError:
                not_started.append(record.message_id)
                raise

        response = process_partial_response(
            event=_most_received_first(event),
            record_handler=one,
            processor=processor,
            context=context,
        )
        if not_started:
            # Not a failure of these records: nothing is recorded in the failure ledger (a
            # write now could itself outlast the invocation); they simply come back.
            self._logger.warning(
                "records not started: too little time left in the invocation",
                extra={
                    "not_started": len(not_started),
                    "message_ids": not_started,
                    "record_budget_ms": self.record_budget.milliseconds,
                },
            )
        return response

    def _one(self, record: SQSRecord, handle: EventHandler) -> None:
        contract: EventEnvelope | None = None
        try:
            contract = parse_sqs_record(record.raw_event)
            if contract.TYPE not in self.accepts:
                raise UnexpectedEventError(f"{self.service} is not routed {contract.TYPE}")
            annotations = {
                "order_id": contract.order_id,
                "event_type": contract.TYPE,
                "service": self.service,
            }
            upstream = TraceHeader.parse(record.attributes.aws_trace_header)
            # The record's work is a segment of the order's own trace (the invocation's trace,
            # which Powertools records, holds the whole batch); annotated for X-Ray queries.
            with traced_work(self.service, upstream, annotations):
                handle(contract)
        except EffectNotStartedError:
            raise  # not a failure of the record: nothing was done, it simply comes back
        except Exception as exc:
            self._record_failure(record, contract, exc)
            raise

    def _record_failure(
        self, record: SQSRecord, contract: EventEnvelope | None, error: Exception
    ) -> None:
        receive_count = int(record.attributes.approximate_receive_count or 0)
        details = {
            "message_id": record.message_id,
            "event_type": contract.TYPE if contract else "",
            "order_id": contract.order_id if contract else "",
            "receive_count": receive_count,
        }
        ledger = self.failure_ledger
        fingerprint = ""
        if ledger is not None:
            try:
                fingerprint = ledger.record(service=self.service, error=error, **details)  # type: ignore[arg-type]
            except Exception:
                # The record fails either way; a ledger outage must not hide the original error.
                self._logger.exception("failure ledger write failed", extra=details)
        self._logger.warning(
            "record failed",
            extra={
                **details,
                "error": f"{type(error).__name__}: {error}",
                "fingerprint": fingerprint,
            },
        )


def _most_received_first(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with its records by ``ApproximateReceiveCount``, highest first (ties keep their
    order); a FIFO queue's batch is returned as it is, since its order is the queue's promise."""
    records = event.get("Records")
    if not isinstance(records, list) or any(_from_fifo_queue(r) for r in records):
        return event
    return {**event, "Records": sorted(records, key=_receive_count, reverse=True)}


def _receive_count(record: Any) -> int:
    attributes = record.get("attributes") if isinstance(record, dict) else None
    try:
        return int((attributes or {}).get("ApproximateReceiveCount", 0))
    except (TypeError, ValueError):
        return 0


def _from_fifo_queue(record: Any) -> bool:
    source = record.get("eventSourceARN") if isinstance(record, dict) else None
    return isinstance(source, str) and source.endswith(".fifo")


def _ledger_client() -> Any:
    """The failure ledger's DynamoDB client, with the timeouts every consumer client has."""
    import boto3  # noqa: PLC0415  (only when a record fails)

    return boto3.client("dynamodb", config=CLIENT_TIMEOUTS.botocore_config())
