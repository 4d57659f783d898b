"""SQS message move tasks on moto behave as the SQS API reference documents them."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from moto.sqs.models import SQSBackend

from orderflow.emulator import sqs_move_tasks
from orderflow.platform.aws import AwsClients

pytestmark = pytest.mark.functional


def queue_arn(sqs: Any, url: str) -> str:
    return str(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
    )


def dead_letter_pipe(sqs: Any, name: str, max_receive_count: int = 1) -> tuple[str, str]:
    """(source queue URL, DLQ URL): the source redrives to the DLQ."""
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    policy = {"deadLetterTargetArn": queue_arn(sqs, dlq), "maxReceiveCount": max_receive_count}
    source = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(policy)})[
        "QueueUrl"
    ]
    return source, dlq


def dead_letter(sqs: Any, source: str, bodies: list[str], max_receive_count: int = 1) -> None:
    """Send ``bodies`` to ``source`` and fail them until SQS moves them to the DLQ."""
    for body in bodies:
        sqs.send_message(
            QueueUrl=source,
            MessageBody=body,
            MessageAttributes={
                "event_type": {"DataType": "String", "StringValue": "order.created"}
            },
        )
    for _ in range(len(bodies) * (max_receive_count + 1)):
        sqs.receive_message(QueueUrl=source, VisibilityTimeout=0, MaxNumberOfMessages=10)


def depth(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    ).get("Messages", []):
        messages += batch
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return messages


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def latest_task(sqs: Any, source_arn: str) -> dict[str, Any]:
    return dict(sqs.list_message_move_tasks(SourceArn=source_arn)["Results"][0])


def finished(sqs: Any, source_arn: str) -> dict[str, Any]:
    eventually(lambda: latest_task(sqs, source_arn)["Status"] not in {"RUNNING", "CANCELLING"})
    return latest_task(sqs, source_arn)


def error_of(call: Callable[[], Any]) -> dict[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    return dict(raised.value.response["Error"])


@pytest.fixture
def sqs(aws: AwsClients) -> Any:
    return aws.sqs()


def test_a_redrive_without_destination_returns_each_message_to_its_own_source(sqs: Any) -> None:
    # GIVEN one DLQ fed by two source queues, each of which dead-lettered two messages
    dlq = sqs.create_queue(QueueName="shared-dlq")["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": queue_arn(sqs, dlq), "maxReceiveCount": 1})
    first = sqs.create_queue(QueueName="first", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    second = sqs.create_queue(QueueName="second", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    dead_letter(sqs, first, ["a1", "a2"])
    dead_letter(sqs, second, ["b1", "b2"])
    assert depth(sqs, dlq) == (4, 0)

    # WHEN the DLQ is redriven with no DestinationArn
    sqs.start_message_move_task(SourceArn=queue_arn(sqs, dlq))
    task = finished(sqs, queue_arn(sqs, dlq))

    # THEN each message is back on the queue it failed on, and the DLQ is empty
    assert task["Status"] == "COMPLETED"
    assert (
        task["ApproximateNumberOfMessagesMoved"] == task["ApproximateNumberOfMessagesToMove"] == 4
    )
    assert "DestinationArn" not in task
    assert "MaxNumberOfMessagesPerSecond" not in task
    assert sorted(m["Body"] for m in drain(sqs, first)) == ["a1", "a2"]
    assert sorted(m["Body"] for m in drain(sqs, second)) == ["b1", "b2"]
    assert depth(sqs, dlq) == (0, 0)


def test_a_moved_message_is_new_with_the_same_body_and_attributes(sqs: Any) -> None:
    # GIVEN a dead-lettered message received (and so counted) twice
    source, dlq = dead_letter_pipe(sqs, "orders")
    dead_letter(sqs, source, ["order-42"])
    [parked] = sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0)["Messages"]
    destination = sqs.create_queue(QueueName="replay")["QueueUrl"]

    # WHEN it is moved to an explicit destination
    sqs.start_message_move_task(
        SourceArn=queue_arn(sqs, dlq), DestinationArn=queue_arn(sqs, destination)
    )
    task = finished(sqs, queue_arn(sqs, dlq))

    # THEN the destination holds a new message (new id, receive count reset), same content
    [moved] = drain(sqs, destination)
    assert task["DestinationArn"] == queue_arn(sqs, destination)
    assert moved["Body"] == "order-42"
    assert moved["MessageAttributes"]["event_type"]["StringValue"] == "order.created"
    assert moved["MessageId"] != parked["MessageId"]
    assert moved["Attributes"]["ApproximateReceiveCount"] == "1"
    assert depth(sqs, source) == (0, 0)


def test_rate_limits_progress_and_cancel_stops_with_nothing_lost(sqs: Any) -> None:
    # GIVEN ten messages in a DLQ, redriven at one message a second
    source, dlq = dead_letter_pipe(sqs, "slow")
    dead_letter(sqs, source, [f"m{n}" for n in range(10)])
    dlq_arn = queue_arn(sqs, dlq)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)[
        "TaskHandle"
    ]

    # WHEN the first message has moved
    eventually(lambda: latest_task(sqs, dlq_arn)["ApproximateNumberOfMessagesMoved"] >= 1)
    running = latest_task(sqs, dlq_arn)

    # THEN the task is RUNNING with its handle, rate and count to move, far from done
    assert running["Status"] == "RUNNING"
    assert running["TaskHandle"] == handle
    assert running["MaxNumberOfMessagesPerSecond"] == 1
    assert running["ApproximateNumberOfMessagesToMove"] == 10
    assert running["ApproximateNumberOfMessagesMoved"] < 10

    # AND WHEN it is cancelled
    moved_at_cancel = sqs.cancel_message_move_task(TaskHandle=handle)[
        "ApproximateNumberOfMessagesMoved"
    ]
    task = finished(sqs, dlq_arn)

    # THEN it ends CANCELLED without a handle; every message is in exactly one of the queues
    assert task["Status"] == "CANCELLED"
    assert "TaskHandle" not in task
    assert task["ApproximateNumberOfMessagesMoved"] >= moved_at_cancel >= 1
    back = sorted(m["Body"] for m in drain(sqs, source))
    parked = sorted(m["Body"] for m in drain(sqs, dlq))
    assert len(back) == task["ApproximateNumberOfMessagesMoved"]
    assert sorted(back + parked) == sorted(f"m{n}" for n in range(10))


def test_only_one_active_task_per_source_queue(sqs: Any) -> None:
    # GIVEN a slow redrive running
    source, dlq = dead_letter_pipe(sqs, "busy")
    dead_letter(sqs, source, ["x", "y", "z"])
    dlq_arn = queue_arn(sqs, dlq)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)[
        "TaskHandle"
    ]

    # WHEN a second task is started on the same DLQ
    error = error_of(lambda: sqs.start_message_move_task(SourceArn=dlq_arn))

    # THEN SQS refuses it
    assert error["Code"] == "InvalidParameterValue"
    assert "Only one active task is allowed" in error["Message"]
    sqs.cancel_message_move_task(TaskHandle=handle)
    finished(sqs, dlq_arn)


def test_the_source_must_be_a_dead_letter_queue(sqs: Any) -> None:
    # GIVEN a queue no RedrivePolicy points to
    plain = sqs.create_queue(QueueName="plain")["QueueUrl"]

    # WHEN a move task is started from it, THEN SQS says it must be a DLQ
    error = error_of(lambda: sqs.start_message_move_task(SourceArn=queue_arn(sqs, plain)))
    assert error == {
        "Code": "InvalidParameterValue",
        "Message": "Source queue must be configured as a Dead Letter Queue.",
        "QueryErrorCode": "InvalidParameterValue",
        "Type": "Sender",
    }


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        (
            {"SourceArn": "arn:aws:sqs:us-east-1:123456789012:missing"},
            "ResourceNotFoundException",
            "The resource that you specified for the SourceArn parameter doesn't exist.",
        ),
        (
            {"DestinationArn": "arn:aws:sqs:us-east-1:123456789012:missing"},
            "ResourceNotFoundException",
            "The resource that you specified for the DestinationArn parameter doesn't exist.",
        ),
        (
            {"MaxNumberOfMessagesPerSecond": 501},
            "InvalidParameterValue",
            "Value for parameter MaxNumberOfMessagesPerSecond is invalid. "
            "Reason: You must enter a number that's between 1 and 500.",
        ),
        (
            {"MaxNumberOfMessagesPerSecond": 0},
            "InvalidParameterValue",
            "Value for parameter MaxNumberOfMessagesPerSecond is invalid. "
            "Reason: You must enter a number that's between 1 and 500.",
        ),
    ],
)
def test_invalid_start_requests_are_refused(
    sqs: Any, change: dict[str, Any], code: str, message: str
) -> None:
    # GIVEN a valid DLQ with a message
    source, dlq = dead_letter_pipe(sqs, "valid")
    dead_letter(sqs, source, ["keep"])

    # WHEN a start request breaks one rule
    request = {"SourceArn": queue_arn(sqs, dlq), **change}
    error = error_of(lambda: sqs.start_message_move_task(**request))

    # THEN it is refused as the API reference says, and nothing moved
    assert (error["Code"], error["Message"]) == (code, message)
    assert depth(sqs, dlq) == (1, 0)


def test_cancel_needs_a_known_running_task(sqs: Any) -> None:
    # GIVEN a finished task
    source, dlq = dead_letter_pipe(sqs, "done")
    dead_letter(sqs, source, ["one"])
    dlq_arn = queue_arn(sqs, dlq)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert finished(sqs, dlq_arn)["Status"] == "COMPLETED"
    unknown = base64.b64encode(
        json.dumps(
            {"taskId": "10f57157-fc38-4da9-a113-4de7e12d05aa", "sourceArn": dlq_arn}
        ).encode()
    ).decode()

    # WHEN cancels name garbage, an unknown task, and a task no longer RUNNING
    # THEN each is refused
    assert error_of(lambda: sqs.cancel_message_move_task(TaskHandle="foobared")) == {
        "Code": "InvalidParameterValue",
        "Message": "Value for parameter TaskHandle is invalid.",
        "QueryErrorCode": "InvalidParameterValue",
        "Type": "Sender",
    }
    assert error_of(lambda: sqs.cancel_message_move_task(TaskHandle=unknown))["Message"] == (
        "Task does not exist."
    )
    assert error_of(lambda: sqs.cancel_message_move_task(TaskHandle=handle))["Code"] == (
        "ResourceNotFoundException"
    )


def test_tasks_list_newest_first_up_to_max_results(sqs: Any) -> None:
    # GIVEN three finished redrives of one DLQ
    source, dlq = dead_letter_pipe(sqs, "history")
    dlq_arn = queue_arn(sqs, dlq)
    for n in range(3):
        dead_letter(sqs, source, [f"round-{n}"] * (n + 1))
        sqs.start_message_move_task(SourceArn=dlq_arn)
        finished(sqs, dlq_arn)
        drain(sqs, source)

    # WHEN they are listed
    one = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    all_three = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]

    # THEN the default is the latest only; MaxResults gives all, newest first; 11 is refused
    assert [t["ApproximateNumberOfMessagesMoved"] for t in one] == [3]
    assert [t["ApproximateNumberOfMessagesMoved"] for t in all_three] == [3, 2, 1]
    assert all(t["Status"] == "COMPLETED" for t in all_three)
    error = error_of(lambda: sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=11))
    assert error["Code"] == "InvalidParameterValue"


def test_a_destination_that_disappears_fails_the_task_and_keeps_the_rest(sqs: Any) -> None:
    # GIVEN a slow redrive to a destination queue
    source, dlq = dead_letter_pipe(sqs, "fragile")
    dead_letter(sqs, source, [f"m{n}" for n in range(5)])
    destination = sqs.create_queue(QueueName="gone-soon")["QueueUrl"]
    dlq_arn = queue_arn(sqs, dlq)
    sqs.start_message_move_task(
        SourceArn=dlq_arn,
        DestinationArn=queue_arn(sqs, destination),
        MaxNumberOfMessagesPerSecond=1,
    )
    eventually(lambda: latest_task(sqs, dlq_arn)["ApproximateNumberOfMessagesMoved"] >= 1)

    # WHEN the destination is deleted mid-way
    sqs.delete_queue(QueueUrl=destination)
    task = finished(sqs, dlq_arn)

    # THEN the task FAILED with the reason AWS gives, and the unmoved messages are still parked
    assert task["Status"] == "FAILED"
    assert task["FailureReason"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert depth(sqs, dlq)[0] + task["ApproximateNumberOfMessagesMoved"] == 5


def test_a_message_leaves_the_dlq_only_after_it_reached_the_destination(
    sqs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a DLQ message and a destination that rejects every send
    source, dlq = dead_letter_pipe(sqs, "careful")
    dead_letter(sqs, source, ["precious"])
    original_send = SQSBackend.send_message

    def refuse(backend: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        if queue_name == "careful":
            raise RuntimeError("destination unavailable")
        return original_send(backend, queue_name, *args, **kwargs)

    monkeypatch.setattr(SQSBackend, "send_message", refuse)

    # WHEN a redrive tries to move it
    sqs.start_message_move_task(SourceArn=queue_arn(sqs, dlq))
    task = finished(sqs, queue_arn(sqs, dlq))

    # THEN the task failed and the message is still in the DLQ, visible again
    assert task["Status"] == "FAILED"
    assert task["ApproximateNumberOfMessagesMoved"] == 0
    assert [m["Body"] for m in drain(sqs, dlq)] == ["precious"]


def test_install_is_idempotent(sqs: Any) -> None:
    # GIVEN the extension installed several times (the fixture's, and two more)
    sqs_move_tasks.install()
    sqs_move_tasks.install()
    source, dlq = dead_letter_pipe(sqs, "twice")
    dead_letter(sqs, source, ["only-once"])

    # WHEN a message is dead-lettered and redriven
    sqs.start_message_move_task(SourceArn=queue_arn(sqs, dlq))
    finished(sqs, queue_arn(sqs, dlq))

    # THEN it comes back exactly once, and moto's receive is wrapped once, not once per install
    assert [m["Body"] for m in drain(sqs, source)] == ["only-once"]
    assert not hasattr(SQSBackend.receive_message.__wrapped__, "__wrapped__")


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    sqs_move_tasks.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    sqs_move_tasks.uninstall()  # stops its tasks first


def test_move_tasks_work_in_moto_server_mode(moto_server: str) -> None:
    # GIVEN moto running as a server, and a DLQ with messages, reached over HTTP
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    source, dlq = dead_letter_pipe(sqs, "over-http")
    dead_letter(sqs, source, ["h1", "h2"])

    # WHEN it is redriven through the server
    sqs.start_message_move_task(SourceArn=queue_arn(sqs, dlq), MaxNumberOfMessagesPerSecond=500)
    task = finished(sqs, queue_arn(sqs, dlq))

    # THEN the task completed and the messages are back on the source
    assert task["Status"] == "COMPLETED"
    assert sorted(m["Body"] for m in drain(sqs, source)) == ["h1", "h2"]
