"""What a stage is made of, discovered from AWS rather than listed by hand.

Consumer queues and their DLQs are found by their tags (``orderflow:stage``,
``orderflow:service``, ``orderflow:role``, ``orderflow:max-age-seconds``), which every service
stack sets; the platform's own resources are found through the SSM parameters its stack writes,
or by their conventional names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orderflow import naming
from orderflow.contracts import SERVICES
from orderflow.platform.errors import StageResourceError, UnknownServiceError

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

TAG_STAGE = "orderflow:stage"
TAG_SERVICE = "orderflow:service"
TAG_ROLE = "orderflow:role"
TAG_MAX_AGE = "orderflow:max-age-seconds"
ROLE_QUEUE = "queue"
ROLE_DLQ = "dlq"


@dataclass(frozen=True)
class QueueRef:
    """One SQS queue: its name, URL and ARN."""

    name: str
    url: str
    arn: str


@dataclass(frozen=True)
class ServiceQueues:
    """A consuming service's source queue, its DLQ and its own queue-age limit."""

    service: str
    queue: QueueRef
    dlq: QueueRef | None
    max_age_seconds: int | None


@dataclass(frozen=True)
class _TaggedQueue:
    ref: QueueRef
    service: str
    role: str
    max_age_seconds: int | None
    dead_letter_arn: str | None


def discover_queues(sqs: SQSClient, stage: str) -> dict[str, ServiceQueues]:
    """service -> its queues, for every tagged consumer queue of ``stage`` (routing order)."""
    tagged: list[_TaggedQueue] = []
    for url in _queue_urls(sqs, naming.prefix(stage)):
        found = _tagged_queue(sqs, url, stage)
        if found is not None:
            tagged.append(found)
    dlqs = {t.ref.arn: t for t in tagged if t.role == ROLE_DLQ}
    services: dict[str, ServiceQueues] = {}
    for source in (t for t in tagged if t.role == ROLE_QUEUE):
        dlq = dlqs.get(source.dead_letter_arn or "") or next(
            (d for d in dlqs.values() if d.service == source.service), None
        )
        services[source.service] = ServiceQueues(
            service=source.service,
            queue=source.ref,
            dlq=dlq.ref if dlq else None,
            max_age_seconds=source.max_age_seconds,
        )
    return {name: services[name] for name in sorted(services, key=routing_order)}


def service_queues(sqs: SQSClient, stage: str, service: str) -> ServiceQueues:
    """The queues of one service, or UnknownServiceError listing the services that exist."""
    found = discover_queues(sqs, stage)
    if service not in found:
        raise UnknownServiceError(service, stage, list(found))
    return found[service]


def routing_order(service: str) -> tuple[int, str]:
    """Sort key: services in the routing table's order, then any others by name."""
    return (SERVICES.index(service) if service in SERVICES else len(SERVICES), service)


def _queue_urls(sqs: SQSClient, prefix: str) -> list[str]:
    urls: list[str] = []
    for page in sqs.get_paginator("list_queues").paginate(
        QueueNamePrefix=prefix, PaginationConfig={"PageSize": 1000}
    ):
        urls.extend(page.get("QueueUrls", []))
    return urls


def _tagged_queue(sqs: SQSClient, url: str, stage: str) -> _TaggedQueue | None:
    tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
    role = tags.get(TAG_ROLE)
    if (
        tags.get(TAG_STAGE) != stage
        or not tags.get(TAG_SERVICE)
        or role not in {ROLE_QUEUE, ROLE_DLQ}
    ):
        return None
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"]
    ).get("Attributes", {})
    redrive = json.loads(attributes["RedrivePolicy"]) if attributes.get("RedrivePolicy") else {}
    max_age = tags.get(TAG_MAX_AGE, "")
    return _TaggedQueue(
        ref=QueueRef(name=url.rsplit("/", 1)[-1], url=url, arn=attributes["QueueArn"]),
        service=tags[TAG_SERVICE],
        role=role,
        max_age_seconds=int(max_age) if max_age.isdigit() else None,
        dead_letter_arn=redrive.get("deadLetterTargetArn"),
    )


# --- the platform stack's resources -------------------------------------------------------------


def parameter_name(stage: str, name: str) -> str:
    """The SSM parameter the platform stack writes, e.g. /orderflow/dev/paging-topic-arn."""
    return f"/orderflow/{stage}/{name}"


def stage_parameter(ssm: SSMClient, stage: str, name: str) -> str | None:
    """The value of one of the stage's SSM parameters, or None if it does not exist."""
    try:
        return ssm.get_parameter(Name=parameter_name(stage, name))["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None


def topic_arn(sns: SNSClient, ssm: SSMClient, stage: str, topic: str) -> str:
    """ARN of the stage's ``topic`` (order-events, paging): SSM parameter, else by name."""
    from_parameter = stage_parameter(ssm, stage, f"{topic}-topic-arn")
    if from_parameter:
        return from_parameter
    name = naming.resource(stage, topic)
    for page in sns.get_paginator("list_topics").paginate():
        for entry in page.get("Topics", []):
            if entry["TopicArn"].rsplit(":", 1)[-1] == name:
                return entry["TopicArn"]
    raise StageResourceError(
        f"no {topic} topic for stage {stage!r} (SSM {parameter_name(stage, f'{topic}-topic-arn')} "
        f"or topic {name}); deploy the platform stack first"
    )


def failure_ledger_table(ssm: SSMClient, stage: str) -> str:
    """Name of the stage's failure ledger table: SSM parameter, else the conventional name."""
    return stage_parameter(ssm, stage, "failure-ledger-table") or (naming.failure_ledger(stage))
