"""SQS metrics in CloudWatch as the SQS developer guide defines them (AWS/SQS, QueueName).

Which queues get metrics: "Monitoring Amazon SQS queues using CloudWatch",
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/monitoring-using-cloudwatch.html
(active for up to six hours after holding a message or being accessed; nothing after that).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.cloudwatch.models import cloudwatch_backends

from orderflow.emulator import clock, sqs_metrics
from orderflow.emulator.clock import EmulatorClock

from .conftest import ACCOUNT, REGION

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def published(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> Callable[[datetime], dict[str, dict[str, float]]]:
    """Publish once at a time; return queue -> metric -> value of that publication."""
    installed(clock, sqs_metrics)
    sqs_metrics.ACTIVITY.drain()

    def publish(at: datetime) -> dict[str, dict[str, float]]:
        sqs_metrics.publish_sqs_metrics(at)
        naive = at.astimezone(UTC).replace(tzinfo=None)
        values: dict[str, dict[str, float]] = {}
        for datum in cloudwatch_backends[ACCOUNT][REGION].metric_data:
            if datum.timestamp == naive and datum.namespace == "AWS/SQS":
                queue = datum.dimensions[0].value
                values.setdefault(queue, {})[datum.name] = datum.value
        return values

    return publish


def test_visible_in_flight_sent_and_deleted_per_queue(
    aws: Callable[[str], Any], published: Callable[[datetime], dict[str, dict[str, float]]]
) -> None:
    # GIVEN three sends, one receive of two, one delete
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    # WHEN SQS publishes its minute
    metrics = published(NOW)["orders"]
    # THEN
    assert metrics["ApproximateNumberOfMessagesVisible"] == 1
    assert metrics["ApproximateNumberOfMessagesNotVisible"] == 1
    assert metrics["NumberOfMessagesSent"] == 3
    assert metrics["NumberOfMessagesDeleted"] == 1


def test_sent_and_deleted_count_the_minute_since_the_last_publication(
    aws: Callable[[str], Any], published: Callable[[datetime], dict[str, dict[str, float]]]
) -> None:
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="a")
    published(NOW)
    sqs.send_message(QueueUrl=url, MessageBody="b")
    assert published(NOW + timedelta(minutes=1))["orders"]["NumberOfMessagesSent"] == 1


def test_sns_deliveries_count_as_sends(
    aws: Callable[[str], Any], published: Callable[[datetime], dict[str, dict[str, float]]]
) -> None:
    sqs, sns = aws("sqs"), aws("sns")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    topic = sns.create_topic(Name="t")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders")
    sns.publish(TopicArn=topic, Message="m")
    assert published(NOW)["orders"]["NumberOfMessagesSent"] == 1
    assert url


def test_a_dead_lettering_move_is_not_a_send_and_its_age_starts_at_the_move(
    aws: Callable[[str], Any], published: Callable[[datetime], dict[str, dict[str, float]]]
) -> None:
    # GIVEN a queue that dead-letters after one receive
    sqs = aws("sqs")
    sqs.create_queue(QueueName="orders-dlq")
    policy = {
        "deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-dlq",
        "maxReceiveCount": 1,
    }
    url = sqs.create_queue(
        QueueName="orders",
        Attributes={"RedrivePolicy": json.dumps(policy), "VisibilityTimeout": "0"},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    sqs.receive_message(QueueUrl=url)
    published(datetime.now(UTC))  # the send belongs to an earlier minute
    # WHEN the next receive moves it to the DLQ
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    moved_at = datetime.now(UTC)
    metrics = published(moved_at + timedelta(seconds=90))
    # THEN the DLQ shows it, without a send, aged from the move
    assert metrics["orders-dlq"]["ApproximateNumberOfMessagesVisible"] == 1
    assert metrics["orders-dlq"]["NumberOfMessagesSent"] == 0
    assert 89 <= metrics["orders-dlq"]["ApproximateAgeOfOldestMessage"] <= 91


def test_age_is_reported_only_while_the_queue_holds_a_message(
    aws: Callable[[str], Any], published: Callable[[datetime], dict[str, dict[str, float]]]
) -> None:
    aws("sqs").create_queue(QueueName="quiet")
    assert "ApproximateAgeOfOldestMessage" not in published(NOW)["quiet"]


def test_a_poison_pill_received_three_times_is_left_out_of_the_age(
    aws: Callable[[str], Any], published: Callable[[datetime], dict[str, dict[str, float]]]
) -> None:
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(3):
        sqs.receive_message(QueueUrl=url)
    metrics = published(datetime.now(UTC) + timedelta(minutes=10))["orders"]
    assert metrics["ApproximateNumberOfMessagesVisible"] == 1
    assert "ApproximateAgeOfOldestMessage" not in metrics


def test_age_is_in_emulated_seconds_on_a_compressed_clock(
    aws: Callable[[str], Any], published: Callable[[datetime], dict[str, dict[str, float]]]
) -> None:
    # GIVEN a clock ten times faster: 30 real seconds are 300 AWS seconds
    clock.set_clock(EmulatorClock(10))
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    metrics = published(datetime.now(UTC) + timedelta(seconds=30))["orders"]
    assert 299 <= metrics["ApproximateAgeOfOldestMessage"] <= 301


def test_a_queue_quiet_for_six_hours_gets_no_metrics_at_all(
    aws: Callable[[str], Any], published: Callable[[datetime], dict[str, dict[str, float]]]
) -> None:
    """An inactive queue is asleep: SQS sends CloudWatch nothing for it, not even zeros."""
    # GIVEN an empty queue that nobody calls after creating it
    aws("sqs").create_queue(QueueName="quiet")
    # WHEN SQS publishes its minutes over the next six hours and after
    first = published(NOW)
    last_active = published(NOW + timedelta(hours=6))
    asleep = published(NOW + timedelta(hours=6, minutes=1))
    # THEN it reports zeros while active, then nothing at all
    assert first["quiet"]["ApproximateNumberOfMessagesVisible"] == 0
    assert last_active["quiet"]["ApproximateNumberOfMessagesVisible"] == 0
    assert "quiet" not in asleep


def test_a_quiet_queue_wakes_on_a_call_or_on_a_message_moved_into_it(
    aws: Callable[[str], Any], published: Callable[[datetime], dict[str, dict[str, float]]]
) -> None:
    """Any action on the queue, or a message in it, makes it active again."""
    # GIVEN a queue and its DLQ, both asleep after a quiet night
    sqs = aws("sqs")
    sqs.create_queue(QueueName="orders-dlq")
    policy = {
        "deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-dlq",
        "maxReceiveCount": 1,
    }
    url = sqs.create_queue(
        QueueName="orders",
        Attributes={"RedrivePolicy": json.dumps(policy), "VisibilityTimeout": "0"},
    )["QueueUrl"]
    published(NOW)
    morning = NOW + timedelta(hours=7)
    assert {"orders", "orders-dlq"}.isdisjoint(published(morning))
    # WHEN someone reads the source queue's attributes
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    woken = published(morning + timedelta(minutes=1))
    # THEN the source queue reports again, the DLQ still sleeps
    assert woken["orders"]["ApproximateNumberOfMessagesVisible"] == 0
    assert "orders-dlq" not in woken
    # WHEN a poison message is dead-lettered (nobody calls the DLQ itself)
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    sqs.receive_message(QueueUrl=url)
    sqs.receive_message(QueueUrl=url)
    # THEN the DLQ holds it, so it is active and reports it
    assert (
        published(morning + timedelta(minutes=2))["orders-dlq"][
            "ApproximateNumberOfMessagesVisible"
        ]
        == 1
    )


def test_six_hours_of_quiet_are_emulated_hours_on_a_compressed_clock(
    aws: Callable[[str], Any], published: Callable[[datetime], dict[str, dict[str, float]]]
) -> None:
    # GIVEN a clock sixty times faster: six AWS hours are six real minutes
    clock.set_clock(EmulatorClock(60))
    aws("sqs").create_queue(QueueName="quiet")
    published(NOW)
    # THEN after six real minutes and one emulated minute the queue is asleep
    assert "quiet" in published(NOW + timedelta(minutes=6))
    assert "quiet" not in published(NOW + timedelta(minutes=6, seconds=1))
