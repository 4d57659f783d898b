"""SQS on an indexed queue: every documented behaviour moto has, at a cost that does not grow.

Behaviours, from the SQS Developer Guide: "Amazon SQS visibility timeout"
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html),
"Amazon SQS delay queues"
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-delay-queues.html),
"Exactly-once processing in Amazon SQS"
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-exactly-once-processing.html),
"Using the message group ID"
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/using-messagegroupid-property.html),
"Using dead-letter queues"
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html);
the API reference for ReceiveMessage
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.moto_api._internal import mock_random
from moto.sqs.models import Message, sqs_backends

from orderflow.emulator import clock, sqs_index, sqs_metrics, sqs_move_tasks
from orderflow.emulator.clock import EmulatorClock

from .conftest import ACCOUNT, REGION

GUARD_SECONDS = 10.0


def _wait_for(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (the timeout is a guard, not a synchronisation)."""
    deadline = time.monotonic() + GUARD_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def _counts(sqs: Any, url: str) -> tuple[int, int, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        int(attributes["ApproximateNumberOfMessagesDelayed"]),
    )


@pytest.fixture
def sqs(aws: Callable[[str], Any], installed: Callable[..., None]) -> Any:
    installed(clock, sqs_index)
    clock.set_clock(EmulatorClock(600))  # a 30 s visibility timeout takes 50 ms
    return aws("sqs")


def test_counts_follow_messages_from_delayed_to_visible_to_in_flight_and_back(sqs: Any) -> None:
    # GIVEN one delayed message and two others, one of them received (3 s and 2 s real)
    clock.set_clock(EmulatorClock(60))
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=180)
    sqs.send_message(QueueUrl=url, MessageBody="a")
    sqs.send_message(QueueUrl=url, MessageBody="b")
    received = sqs.receive_message(QueueUrl=url, VisibilityTimeout=120)["Messages"]
    # THEN each is counted where it is
    assert len(received) == 1
    assert _counts(sqs, url) == (1, 1, 1)
    # WHEN the delay and the visibility timeout run out, THEN all three are visible again
    _wait_for(lambda: _counts(sqs, url) == (3, 0, 0))
    # WHEN one is deleted, THEN it is counted nowhere
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=120)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["Messages"][0]["ReceiptHandle"])
    assert _counts(sqs, url) == (0, 2, 0)


def test_delete_finds_the_message_by_receipt_handle_once(sqs: Any) -> None:
    # GIVEN a queue of 50 messages, 10 received
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    for number in range(50):
        sqs.send_message(QueueUrl=url, MessageBody=str(number))
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
    # WHEN they are deleted, twice
    first = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    second = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    # THEN exactly those are gone; the repeated delete succeeds, as on SQS
    assert len(first["Successful"]) == len(second["Successful"]) == 10
    assert _counts(sqs, url) == (40, 0, 0)
    bodies = {m.body for m in sqs_backends[ACCOUNT][REGION].queues["orders"]._messages}
    assert bodies.isdisjoint(m["Body"] for m in received)
    # AND a handle SQS never issued is refused
    with pytest.raises(ClientError, match="ReceiptHandleIsInvalid"):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")


def test_change_visibility_returns_a_message_at_once_and_refuses_a_deleted_one(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    handle = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"][0]["ReceiptHandle"]
    # WHEN the consumer gives it back
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    # THEN the next receive gets it, with a new handle
    again = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"][0]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
    with pytest.raises(ClientError, match="ReceiptHandleIsInvalid"):
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=5
        )


def test_fifo_drops_a_duplicate_id_and_keeps_each_group_in_order(sqs: Any) -> None:
    url = sqs.create_queue(
        QueueName="orders.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "30"}
    )["QueueUrl"]

    def send(body: str, group: str, dedup: str) -> None:
        sqs.send_message(
            QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup
        )

    send("a1", "a", "1")
    send("a1 again", "a", "1")  # the same deduplication id within 5 minutes: accepted, dropped
    send("a2", "a", "2")
    send("b1", "b", "3")
    # WHEN a1 is in flight, THEN group a waits and group b does not
    first = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert first["Body"] == "a1"
    assert [
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ] == ["b1"]
    # WHEN a1 is given back, THEN it comes before a2
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
    )
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "a1"
    assert _counts(sqs, url)[0] + _counts(sqs, url)[1] == 3


def test_a_long_poll_wakes_up_for_a_message_sent_while_it_waits(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    got: list[Any] = []
    poller = threading.Thread(
        target=lambda: got.extend(
            sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", [])
        )
    )
    poller.start()
    sqs.send_message(QueueUrl=url, MessageBody="m")
    poller.join(GUARD_SECONDS)
    assert [m["Body"] for m in got] == ["m"]


def test_dead_lettered_messages_are_counted_and_redriven_to_their_source(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    # GIVEN every SQS extension, and a DLQ shared by two queues
    installed(clock, sqs_index, sqs_metrics, sqs_move_tasks)
    clock.set_clock(EmulatorClock(600))
    sqs = aws("sqs")
    dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    source = sqs.create_queue(QueueName="payments", Attributes={"RedrivePolicy": policy})
    sqs.create_queue(QueueName="other", Attributes={"RedrivePolicy": policy})
    url = source["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)
    # WHEN it is received again past maxReceiveCount, THEN it moves to the DLQ
    _wait_for(
        lambda: not sqs.receive_message(QueueUrl=url).get("Messages") and _counts(sqs, dlq)[0] == 1
    )
    assert _counts(sqs, url) == (0, 0, 0)
    # WHEN the DLQ is redriven without a destination, THEN it goes back to its own source
    sqs.start_message_move_task(SourceArn=dlq_arn)
    _wait_for(lambda: _counts(sqs, url)[0] == 1)
    assert _counts(sqs, dlq) == (0, 0, 0)
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "poison"


class _CountingMessage(Message):
    """A stored message that counts how often a call asks whether it is visible or delayed."""

    reads = 0

    @property
    def visible(self) -> bool:
        _CountingMessage.reads += 1
        return bool(super().visible)

    @property
    def delayed(self) -> bool:
        _CountingMessage.reads += 1
        return bool(super().delayed)


def test_a_call_looks_only_at_the_messages_it_concerns(sqs: Any) -> None:
    """moto asks every stored message on every send, receive and attributes call."""
    # GIVEN 2,000 messages waiting
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    queue = sqs_backends[ACCOUNT][REGION].queues["orders"]
    for number in range(2000):
        message = _CountingMessage(f"id-{number}", "body")
        message.mark_sent()
        queue.add_message(message)
    _CountingMessage.reads = 0
    # WHEN a producer and a consumer each make their calls
    sqs.send_message(QueueUrl=url, MessageBody="new")
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)
        ],
    )
    counts = _counts(sqs, url)
    # THEN only the messages received were looked at, and the counts are right
    assert counts == (1991, 0, 0)
    assert _CountingMessage.reads <= 40


def test_messages_held_before_install_are_kept_and_handed_back(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="before")
    installed(sqs_index)
    sqs.send_message(QueueUrl=url, MessageBody="during")
    assert _counts(sqs, url) == (2, 0, 0)
    sqs_index.uninstall()
    bodies = [
        m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert sorted(bodies) == ["before", "during"]


def test_messages_received_and_deleted_are_not_kept_for_the_life_of_the_process(sqs: Any) -> None:
    """moto remembers every model instance; for SQS that is every message and every copy."""
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    kept_before = len(Message.instances_tracked)  # type: ignore[attr-defined]
    for _ in range(20):
        sqs.send_message(QueueUrl=url, MessageBody="m")
        for message in sqs.receive_message(QueueUrl=url)["Messages"]:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert len(Message.instances_tracked) == kept_before  # type: ignore[attr-defined]


def test_each_receive_gets_a_new_receipt_handle_and_moto_seeding_still_repeats_them(
    sqs: Any,
) -> None:
    """A handle belongs to one receive (SQS API reference, ReceiveMessage: ReceiptHandle)."""
    url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    handles = []
    for seed in (7, 8, 7):
        mock_random.seed(seed)
        (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
        handles.append(message["ReceiptHandle"])
    # THEN every receive had its own handle, moto's kind (185 lowercase letters), and the
    # same seed gave the same handle, as moto's seeding promises
    assert handles[0] != handles[1]
    assert handles[0] == handles[2]
    assert all(len(h) == 185 and h.isascii() and h.isalpha() and h.islower() for h in handles)
    # AND the latest handle deletes the message
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handles[2])
    assert _counts(sqs, url) == (0, 0, 0)


def test_a_receive_filters_attributes_on_its_own_copy_of_the_message(sqs: Any) -> None:
    """ReceiveMessage returns the MessageAttributeNames asked for; the message keeps them all."""
    url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    attributes = {
        "kind": {"DataType": "String", "StringValue": "order"},
        "tenant": {"DataType": "String", "StringValue": "eu"},
    }
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes=attributes)
    (none,) = sqs.receive_message(QueueUrl=url)["Messages"]
    (some,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["kind"])["Messages"]
    (every,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert "MessageAttributes" not in none
    assert some["MessageAttributes"] == {"kind": attributes["kind"]}
    assert every["MessageAttributes"] == attributes
