"""The live status: each service's backlog and alarm, read with or without the ages."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from orderflow.local.runtime import RuntimeOptions
from orderflow.local.status import service_statuses, status_table


@dataclass
class Worker:
    """What the status reads of a function's worker."""

    mapping_state: str

    def snapshot(self) -> Any:
        from orderflow.local.runtime import FunctionStats  # noqa: PLC0415

        return FunctionStats(records_succeeded=3)


@dataclass
class Runtime:
    """What the status reads of a local runtime: its stage, clients and workers."""

    clients: Callable[[str], Any]
    options: RuntimeOptions = field(default_factory=RuntimeOptions)
    workers: dict[str, Worker] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return self.clients(service)


def tagged_queues(sqs: Any, service: str) -> str:
    """A service's queue and DLQ as its stack tags them; the queue's URL."""
    tags = {"orderflow:stage": "local", "orderflow:service": service}
    dlq = sqs.create_queue(
        QueueName=f"orderflow-local-{service}-dlq", tags={**tags, "orderflow:role": "dlq"}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName=f"orderflow-local-{service}",
        tags={**tags, "orderflow:role": "queue", "orderflow:max-age-seconds": "14400"},
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
        },
    )["QueueUrl"]
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
    return str(queue)


def test_the_status_without_ages_reads_the_same_backlog(aws: Callable[[str], Any]) -> None:
    # GIVEN analytics with three messages queued (one in flight) and two in its DLQ, its
    # mapping disabled
    sqs = aws("sqs")
    url = tagged_queues(sqs, "analytics")
    for body in ("1", "2", "3"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    runtime = Runtime(aws, workers={"analytics": Worker(mapping_state="Disabled")})
    # WHEN the status is read with and without the ages
    with_ages = service_statuses(runtime)  # type: ignore[arg-type]
    without = service_statuses(runtime, ages=False)  # type: ignore[arg-type]
    # THEN both show the same depths, and the mapping's state
    [row] = without
    assert (row.depth, row.in_flight, row.dlq_depth, row.backlog) == (2, 1, 2, 3)
    assert [(r.depth, r.in_flight, r.dlq_depth) for r in with_ages] == [(2, 1, 2)]
    assert row.oldest_age_seconds is None
    assert (row.processed, row.mapping_state) == (3, "Disabled")
    console = Console(record=True, width=200)
    console.print(status_table("status", without))
    assert "analytics (mapping disabled)" in console.export_text()
