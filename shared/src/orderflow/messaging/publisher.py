"""Publish contracts to SNS with the attributes filter policies match on.

A publish never fails silently: entries of a batch that SNS rejects are retried, and whatever
still fails after the last attempt raises ``PublishError`` naming the events.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orderflow.contracts.events import EventEnvelope
from orderflow.observability.tracing import propagate_trace_header

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import PublishBatchRequestEntryTypeDef

SNS_BATCH_LIMIT = 10


class PublishError(RuntimeError):
    """One or more events could not be published after every retry."""

    def __init__(self, failures: dict[str, str]) -> None:
        listed = ", ".join(f"{eid} ({why})" for eid, why in sorted(failures.items()))
        super().__init__(f"{len(failures)} event(s) not published: {listed}")
        self.failures = failures


def message_attributes(event: EventEnvelope) -> dict[str, Any]:
    """SNS message attributes for an event: what subscription filter policies match on."""
    return {
        "event_type": {"DataType": "String", "StringValue": event.TYPE},
        "order_id": {"DataType": "String", "StringValue": event.order_id},
    }


class EventPublisher:
    """Publishes events to one SNS topic; single or batched (10 a call)."""

    def __init__(
        self,
        topic_arn: str,
        client: SNSClient | None = None,
        *,
        max_attempts: int = 4,
        backoff_seconds: float = 0.05,
    ) -> None:
        self.topic_arn = topic_arn
        self._client = propagate_trace_header(client) if client is not None else None
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds

    @property
    def client(self) -> SNSClient:
        if self._client is None:
            import boto3  # noqa: PLC0415  (deferred: keeps cold start off this path)

            self._client = propagate_trace_header(boto3.client("sns"))
        return self._client

    def publish(self, event: EventEnvelope) -> str:
        """Publish one event; return the SNS MessageId."""
        response = self.client.publish(
            TopicArn=self.topic_arn,
            Message=event.model_dump_json(),
            MessageAttributes=message_attributes(event),
        )
        return response["MessageId"]

    def publish_batch(self, events: Sequence[EventEnvelope]) -> int:
        """Publish many events with PublishBatch, retrying failed entries; return how many."""
        for start in range(0, len(events), SNS_BATCH_LIMIT):
            self._publish_chunk(events[start : start + SNS_BATCH_LIMIT])
        return len(events)

    def _publish_chunk(self, chunk: Sequence[EventEnvelope]) -> None:
        pending: dict[str, EventEnvelope] = {str(e.event_id): e for e in chunk}
        if len(pending) != len(chunk):
            raise ValueError("a batch must not hold the same event_id twice")
        failures: dict[str, str] = {}
        for attempt in range(self._max_attempts):
            if attempt:
                time.sleep(self._backoff * 2 ** (attempt - 1))
            entries: list[PublishBatchRequestEntryTypeDef] = [
                {
                    "Id": event_id,
                    "Message": event.model_dump_json(),
                    "MessageAttributes": message_attributes(event),
                }
                for event_id, event in pending.items()
            ]
            response = self.client.publish_batch(
                TopicArn=self.topic_arn, PublishBatchRequestEntries=entries
            )
            failures = {
                f["Id"]: f"{f.get('Code', '?')}: {f.get('Message', '')}".strip()
                for f in response.get("Failed", [])
            }
            pending = {eid: e for eid, e in pending.items() if eid in failures}
            if not pending:
                return
        raise PublishError(failures)
