"""Per-record cost: one consumer's whole record path against decoding and validating the record.

The path is what a warm Lambda runs per record: an SQS event whose bodies are SNS notifications
goes through ``orderflow.consumer.SqsConsumer`` (Powertools batch processing, envelope parse,
contract validation, routing check, trace annotations), the service's domain on in-memory ports,
and comes back as the partial batch response. The floor is the least any consumer must do with
the same record: ``json.loads`` of the body and pydantic validation of the event's contract.

Records go in batches of ten, each batch to a fresh domain (built before the clock starts), so
no batch finds the work of another already done.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orderflow.bench.fakes import ON_FAKES, DomainEntry
from orderflow.bench.stats import BenchError, Paired, measure_rounds, median
from orderflow.consumer import SqsConsumer
from orderflow.contracts import EVENT_MODELS, EventEnvelope
from orderflow.observability import build_logger
from orderflow.testing import FakeLambdaContext, sqs_event, sqs_record

BATCH_SIZE = 10
_MODELS = {model.TYPE: model for model in EVENT_MODELS}


@dataclass(frozen=True)
class Batch:
    """One SQS event of up to ten records, and the contract type of each body."""

    event: dict[str, Any]
    types: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.types)


def batches(events: Sequence[EventEnvelope], size: int = BATCH_SIZE) -> list[Batch]:
    """The events as Lambda SQS events of ``size`` records (SNS-wrapped bodies)."""
    if not events:
        raise BenchError("no events to batch")
    return [
        Batch(
            event=sqs_event([sqs_record(e) for e in events[start : start + size]]),
            types=tuple(e.TYPE for e in events[start : start + size]),
        )
        for start in range(0, len(events), size)
    ]


def floor_seconds_per_record(work: Sequence[Batch]) -> float:
    """Seconds per record to decode each body and validate its event against its contract."""
    bodies = [
        (record["body"], _MODELS[event_type])
        for batch in work
        for record, event_type in zip(batch.event["Records"], batch.types, strict=True)
    ]
    gc.collect()
    started = time.perf_counter()
    for body, model in bodies:
        model.model_validate_json(json.loads(body)["Message"])
    return (time.perf_counter() - started) / len(bodies)


def consumer_for(service: str) -> SqsConsumer:
    """The consumer shell as the service's handler builds it, without a failure ledger."""
    return SqsConsumer(service, logger=build_logger(service), failure_ledger=None)


def _no_domain(event: EventEnvelope) -> None:
    """A domain that does nothing: what is left is the consumer shell's own cost."""


def path_seconds_per_record(service: str, work: Sequence[Batch], *, domain: bool = True) -> float:
    """Seconds per record through the consumer shell and the service's domain on fakes.

    With ``domain=False`` the records stop at the shell (parse, route, trace, respond).
    """
    consumer = consumer_for(service)
    # Duck-typed: what Powertools reads of a Lambda context.
    context: Any = FakeLambdaContext(function_name=f"orderflow-bench-{service}")
    prepared: list[tuple[dict[str, Any], DomainEntry]] = [
        (batch.event, ON_FAKES[service]().handle if domain else _no_domain) for batch in work
    ]
    records = sum(batch.size for batch in work)
    gc.collect()
    started = time.perf_counter()
    responses = [consumer.process(event, context, handle) for event, handle in prepared]
    elapsed = time.perf_counter() - started
    failed = sum(len(response["batchItemFailures"]) for response in responses)
    if failed:
        # A failing record takes another path (ledger, logging): the figure would mean nothing.
        raise BenchError(f"{service}: {failed} of {records} benchmark records failed")
    return elapsed / records


@dataclass(frozen=True)
class RecordCost:
    """Per-record seconds of the floor, the consumer shell alone and the whole path."""

    paired: Paired
    """Floor against the whole path: the figure."""
    shell: tuple[float, ...]
    """The shell with a domain that does nothing, in the same runs."""

    @property
    def shell_seconds(self) -> float:
        return median(self.shell)

    @property
    def domain_seconds(self) -> float:
        return max(0.0, self.paired.subject - self.shell_seconds)


def measure_record_cost(service: str, events: Sequence[EventEnvelope], runs: int) -> RecordCost:
    """Per-record seconds (floor, shell, whole path) over ``runs`` runs of every batch."""
    work = batches(events)
    # A warm container: the first batch pays for lazy imports and caches, not per record.
    path_seconds_per_record(service, work[:1])
    floor_seconds_per_record(work[:1])
    floors, shells, paths = measure_rounds(
        [
            lambda: floor_seconds_per_record(work),
            lambda: path_seconds_per_record(service, work, domain=False),
            lambda: path_seconds_per_record(service, work),
        ],
        runs,
    )
    return RecordCost(Paired(floors, paths), shells)
