"""A published contract travels SNS -> SQS and parses back equal; no event is lost silently."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from orderflow.contracts import parse_body
from orderflow.messaging import EventPublisher, PublishError
from orderflow.testing import make_order


@pytest.mark.functional
@mock_aws
def test_published_contract_arrives_equal_through_sns_and_sqs() -> None:
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    topic_arn = sns.create_topic(Name="order-events")["TopicArn"]
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    orders = [make_order(items=[("sku-1", n + 1, "1.25")]) for n in range(23)]

    EventPublisher(topic_arn, sns).publish(orders[0])
    EventPublisher(topic_arn, sns).publish_batch(orders[1:])

    arrived = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        arrived += [parse_body(m["Body"]) for m in batch]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    assert sorted(arrived, key=lambda e: str(e.event_id)) == sorted(
        orders, key=lambda e: str(e.event_id)
    )


class FlakySns:
    """An SNS client whose PublishBatch rejects the first ``failures`` attempts of some ids."""

    def __init__(self, failing_ids: set[str], failures: int) -> None:
        self.failing_ids = failing_ids
        self.failures_left = dict.fromkeys(failing_ids, failures)
        self.delivered: list[str] = []

    def publish_batch(self, TopicArn: str, PublishBatchRequestEntries: list[Any]) -> dict[str, Any]:  # noqa: N803
        assert len(PublishBatchRequestEntries) <= 10
        failed = []
        for entry in PublishBatchRequestEntries:
            if self.failures_left.get(entry["Id"], 0) > 0:
                self.failures_left[entry["Id"]] -= 1
                failed.append({"Id": entry["Id"], "Code": "InternalError", "SenderFault": False})
            else:
                self.delivered.append(entry["Id"])
        return {"Successful": [], "Failed": failed}


def test_failed_batch_entries_are_retried_until_delivered() -> None:
    orders = [make_order() for _ in range(12)]
    flaky = {str(orders[3].event_id), str(orders[11].event_id)}
    sns = FlakySns(flaky, failures=2)

    EventPublisher("arn:topic", sns, backoff_seconds=0).publish_batch(orders)  # type: ignore[arg-type]

    assert sorted(sns.delivered) == sorted(str(o.event_id) for o in orders)


def test_entries_that_never_succeed_raise_naming_the_events() -> None:
    orders = [make_order() for _ in range(3)]
    stuck = str(orders[1].event_id)
    sns = FlakySns({stuck}, failures=99)

    with pytest.raises(PublishError, match=stuck) as raised:
        EventPublisher("arn:topic", sns, backoff_seconds=0, max_attempts=3).publish_batch(orders)  # type: ignore[arg-type]

    assert set(raised.value.failures) == {stuck}
    assert stuck not in sns.delivered
