"""How far behind each consumer is: queue depth, messages in flight, oldest age, DLQ depth.

Depths come from the queue attributes; the age of the oldest message only exists as the
CloudWatch metric ApproximateAgeOfOldestMessage (SQS has no attribute for it), so it is the
latest datapoint of the last few minutes, or None when CloudWatch has none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from orderflow.platform.stage import ServiceQueues

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef
    from mypy_boto3_sqs import SQSClient

AGE_LOOKBACK = timedelta(minutes=10)


@dataclass(frozen=True)
class QueueBacklog:
    """One service's backlog."""

    service: str
    queue: str
    depth: int
    in_flight: int
    oldest_age_seconds: int | None
    dlq: str | None
    dlq_depth: int | None
    dlq_oldest_age_seconds: int | None

    def as_dict(self) -> dict[str, Any]:
        """This backlog for ``--json``."""
        return asdict(self)


def queue_depths(sqs: SQSClient, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    ).get("Attributes", {})
    return (
        int(attributes.get("ApproximateNumberOfMessages", 0)),
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
    )


def oldest_ages(
    cloudwatch: CloudWatchClient, queue_names: Sequence[str], now: datetime | None = None
) -> dict[str, int | None]:
    """queue name -> latest ApproximateAgeOfOldestMessage (seconds), None without data."""
    ages: dict[str, int | None] = dict.fromkeys(queue_names)
    if not queue_names:
        return ages
    end = now or datetime.now(UTC)
    queries: list[MetricDataQueryTypeDef] = [
        {
            "Id": f"q{index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": name}],
                },
                "Period": 60,
                "Stat": "Maximum",
            },
            "ReturnData": True,
        }
        for index, name in enumerate(queue_names)
    ]
    for start in range(0, len(queries), 500):
        request = {
            "MetricDataQueries": queries[start : start + 500],
            "StartTime": end - AGE_LOOKBACK,
            "EndTime": end,
            "ScanBy": "TimestampDescending",
        }
        for page in cloudwatch.get_paginator("get_metric_data").paginate(**request):  # type: ignore[arg-type]
            for result in page.get("MetricDataResults", []):
                name = queue_names[int(result["Id"][1:])]
                points = sorted(
                    zip(result.get("Timestamps", []), result.get("Values", []), strict=False),
                    reverse=True,
                )
                if points and ages[name] is None:
                    ages[name] = int(points[0][1])
    return ages


def backlogs(
    sqs: SQSClient, cloudwatch: CloudWatchClient, services: Mapping[str, ServiceQueues]
) -> list[QueueBacklog]:
    """The backlog of every service of the stage, in routing order."""
    names = [q.queue.name for q in services.values()]
    names += [q.dlq.name for q in services.values() if q.dlq is not None]
    ages = oldest_ages(cloudwatch, names)
    found: list[QueueBacklog] = []
    for service, queues in services.items():
        depth, in_flight = queue_depths(sqs, queues.queue.url)
        dlq_depth = queue_depths(sqs, queues.dlq.url)[0] if queues.dlq else None
        found.append(
            QueueBacklog(
                service=service,
                queue=queues.queue.name,
                depth=depth,
                in_flight=in_flight,
                oldest_age_seconds=ages.get(queues.queue.name),
                dlq=queues.dlq.name if queues.dlq else None,
                dlq_depth=dlq_depth,
                dlq_oldest_age_seconds=ages.get(queues.dlq.name) if queues.dlq else None,
            )
        )
    return found
