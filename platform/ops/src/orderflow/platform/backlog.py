"""How far behind each consumer is: queue depth, messages in flight, oldest age, DLQ depth.

Depths come from the queue attributes; the age of the oldest message only exists as the
CloudWatch metric ApproximateAgeOfOldestMessage (SQS has no attribute for it). SQS reports that
age only while the queue holds a message, so its last datapoint outlives the messages it
measured. The age shown is therefore None (no oldest message) when the queue is empty now, or
when SQS's latest publication for the queue (its ApproximateNumberOfMessagesVisible datapoint,
sent every minute while the queue is active) carried no age; otherwise it is that latest age.
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
AGE_METRIC = "ApproximateAgeOfOldestMessage"
DEPTH_METRIC = "ApproximateNumberOfMessagesVisible"
QUEUES_PER_REQUEST = 250
"""GetMetricData takes 500 queries a request: two per queue."""


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


def _sqs_query(query_id: str, metric: str, queue_name: str) -> MetricDataQueryTypeDef:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/SQS",
                "MetricName": metric,
                "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
            },
            "Period": 60,
            "Stat": "Maximum",
        },
        "ReturnData": True,
    }


def oldest_ages(
    cloudwatch: CloudWatchClient, queue_names: Sequence[str], now: datetime | None = None
) -> dict[str, int | None]:
    """queue name -> ApproximateAgeOfOldestMessage (seconds) of SQS's latest publication for
    the queue; None when that publication had no age, or CloudWatch has no data."""
    end = now or datetime.now(UTC)
    latest: dict[str, tuple[datetime, float]] = {}
    for start in range(0, len(queue_names), QUEUES_PER_REQUEST):
        chunk = range(start, min(start + QUEUES_PER_REQUEST, len(queue_names)))
        queries: list[MetricDataQueryTypeDef] = []
        for index in chunk:
            queries.append(_sqs_query(f"age{index}", AGE_METRIC, queue_names[index]))
            queries.append(_sqs_query(f"depth{index}", DEPTH_METRIC, queue_names[index]))
        request = {
            "MetricDataQueries": queries,
            "StartTime": end - AGE_LOOKBACK,
            "EndTime": end,
            "ScanBy": "TimestampDescending",
        }
        for page in cloudwatch.get_paginator("get_metric_data").paginate(**request):  # type: ignore[arg-type]
            for result in page.get("MetricDataResults", []):
                for stamp, value in zip(
                    result.get("Timestamps", []), result.get("Values", []), strict=False
                ):
                    if result["Id"] not in latest or stamp > latest[result["Id"]][0]:
                        latest[result["Id"]] = (stamp, value)
    ages: dict[str, int | None] = {}
    for index, name in enumerate(queue_names):
        age, depth = latest.get(f"age{index}"), latest.get(f"depth{index}")
        stale = age is not None and depth is not None and depth[0] > age[0]
        ages[name] = None if age is None or stale else int(age[1])
    return ages


def backlogs(
    sqs: SQSClient,
    cloudwatch: CloudWatchClient,
    services: Mapping[str, ServiceQueues],
    now: datetime | None = None,
    *,
    with_ages: bool = True,
) -> list[QueueBacklog]:
    """The backlog of every service of the stage, in routing order.

    ``with_ages=False`` leaves the oldest messages' ages out (None): the depths are queue
    attributes, cheap however long the stage has run; the ages are a CloudWatch query over its
    datapoints.
    """
    names = [q.queue.name for q in services.values()]
    names += [q.dlq.name for q in services.values() if q.dlq is not None]
    ages = oldest_ages(cloudwatch, names, now) if with_ages else {}
    found: list[QueueBacklog] = []
    for service, queues in services.items():
        depth, in_flight = queue_depths(sqs, queues.queue.url)
        dlq_depth: int | None = None
        dlq_age: int | None = None
        if queues.dlq is not None:
            dlq_depth, dlq_in_flight = queue_depths(sqs, queues.dlq.url)
            dlq_age = _age_if_held(ages.get(queues.dlq.name), dlq_depth + dlq_in_flight)
        found.append(
            QueueBacklog(
                service=service,
                queue=queues.queue.name,
                depth=depth,
                in_flight=in_flight,
                oldest_age_seconds=_age_if_held(ages.get(queues.queue.name), depth + in_flight),
                dlq=queues.dlq.name if queues.dlq else None,
                dlq_depth=dlq_depth,
                dlq_oldest_age_seconds=dlq_age,
            )
        )
    return found


def _age_if_held(age: int | None, held: int) -> int | None:
    # An empty queue has no oldest message, whatever CloudWatch last heard.
    return age if held else None
