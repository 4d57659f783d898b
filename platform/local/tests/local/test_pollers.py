"""Lambda's SQS event source mapping, as the Lambda developer guide describes it."""

from __future__ import annotations

import json
import multiprocessing
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orderflow.emulator.clock import EmulatorClock
from orderflow.local.faults import FaultPlan
from orderflow.local.functions import FunctionSpec
from orderflow.local.pollers import (
    CRASH,
    ERROR,
    OK,
    PARTIAL,
    TIMEOUT,
    ExecutionEnvironment,
    InvocationReport,
    MappingState,
    SqsPoller,
    VisibilityHold,
    failed_message_ids,
)

from .conftest import REGION

IDS = ["m1", "m2", "m3"]


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ("not an object", set(IDS)),
        ({"batchItemFailures": "m2"}, set(IDS)),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, set(IDS)),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, set(IDS)),
        ({"batchItemFailures": [{"itemId": "m2"}]}, set(IDS)),
        ({"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}, set(IDS)),
    ],
)
def test_partial_batch_responses_as_the_lambda_guide_defines_them(
    response: Any, failed: set[str]
) -> None:
    assert failed_message_ids(response, IDS, report_batch_item_failures=True) == failed


def test_without_report_batch_item_failures_any_response_is_full_success() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert failed_message_ids(response, IDS, report_batch_item_failures=False) == set()


class ScriptedEnvironment:
    """Answers invocations as scripted and keeps every event it was given."""

    def __init__(self, answer: Callable[[dict[str, Any]], tuple[str, Any]]) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []
        self.warm = False
        self.init_duration_ms: float | None = None  # scripted: no handler to import

    def invoke(self, event: dict[str, Any], timeout_real: float) -> tuple[str, Any]:
        self.events.append(event)
        self.warm = True
        return self.answer(event)

    def close(self, *, kill: bool = False) -> None:
        self.warm = False


def spec_for(url: str, arn: str, **changes: Any) -> FunctionSpec:
    settings: dict[str, Any] = {
        "service": "payment",
        "function_name": "orderflow-local-payment",
        "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:orderflow-local-payment",
        "handler": "orderflow.payment.handler.handler",
        "timeout_seconds": 30,
        "memory_mb": 512,
        "environment": {},
        "queue_url": url,
        "queue_arn": arn,
        "batch_size": 10,
        "batching_window_seconds": 0,
        "maximum_concurrency": 2,
        "report_batch_item_failures": True,
        **changes,
    }
    return FunctionSpec(**settings)


@pytest.fixture
def queue(aws: Callable[[str], Any]) -> tuple[Any, str, str]:
    """A queue whose failed messages are visible again at once (visibility timeout 0)."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return sqs, url, arn


def poller(
    queue: tuple[Any, str, str],
    environment: ScriptedEnvironment,
    reports: list[InvocationReport],
    **spec_changes: Any,
) -> SqsPoller:
    sqs, url, arn = queue
    return SqsPoller(
        spec_for(url, arn, **spec_changes),
        sqs,
        EmulatorClock(100),
        environment=environment,  # type: ignore[arg-type]
        report=reports.append,
        stop=threading.Event(),
    )


def bodies_left(sqs: Any, url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return sorted(m["Body"] for m in messages)


def send(sqs: Any, url: str, *bodies: str) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)


def test_only_the_records_the_response_names_come_back(queue: tuple[Any, str, str]) -> None:
    # GIVEN three messages, and a function that fails the one carrying "b"
    sqs, url, _ = queue
    send(sqs, url, "a", "b", "c")

    def fail_b(event: dict[str, Any]) -> tuple[str, Any]:
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "b"]
        return OK, {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    reports: list[InvocationReport] = []
    # WHEN the poller runs one batch
    poller(queue, ScriptedEnvironment(fail_b), reports).poll_once()
    # THEN a and c were deleted and only b is delivered again
    assert bodies_left(sqs, url) == ["b"]
    assert (reports[0].outcome, reports[0].succeeded, reports[0].failed) == (PARTIAL, 2, 1)


def test_a_held_record_is_not_handed_out_again_while_its_invocation_runs(
    queue: tuple[Any, str, str],
) -> None:
    """A record is invisible to other consumers while it is processed, and a failed one comes
    back after the queue's visibility timeout
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html;
    Lambda requires the timeout to be at least the function's,
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html). The queue's 0 s
    stands for a compressed clock's timeout that passes before the invocation ends."""
    # GIVEN two messages on a queue whose visibility timeout is 0 s, polled with a hold
    sqs, url, arn = queue
    send(sqs, url, "a", "b")
    spec = spec_for(url, arn)
    clock = EmulatorClock(100)
    hold = VisibilityHold.of(spec, clock, 0, 30.0)
    seen_while_running: list[list[str]] = []

    def fail_b(event: dict[str, Any]) -> tuple[str, Any]:
        seen_while_running.append(bodies_left(sqs, url))
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "b"]
        return OK, {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    reports: list[InvocationReport] = []
    poller = SqsPoller(
        spec,
        sqs,
        clock,
        environment=ScriptedEnvironment(fail_b),  # type: ignore[arg-type]
        report=reports.append,
        stop=threading.Event(),
        hold=hold,
    )
    # WHEN the poller runs one batch
    poller.poll_once()
    # THEN no other consumer received either record while the invocation ran, a was deleted,
    # and b was released to the rest of the queue's own timeout (0 s): it is back at once
    assert seen_while_running == [[]]
    assert (reports[0].succeeded, reports[0].failed) == (1, 1)
    assert bodies_left(sqs, url) == ["b"]


@pytest.mark.parametrize(
    ("outcome", "payload"),
    [(ERROR, "RuntimeError: boom"), (TIMEOUT, "Task timed out"), (CRASH, "Runtime exited")],
)
def test_an_error_a_timeout_or_a_crash_deletes_nothing(
    queue: tuple[Any, str, str], outcome: str, payload: str
) -> None:
    sqs, url, _ = queue
    send(sqs, url, "a", "b")
    reports: list[InvocationReport] = []
    poller(queue, ScriptedEnvironment(lambda _: (outcome, payload)), reports).poll_once()
    assert bodies_left(sqs, url) == ["a", "b"]
    assert reports[0].outcome == outcome


def test_the_handler_gets_a_lambda_sqs_event(queue: tuple[Any, str, str]) -> None:
    sqs, url, arn = queue
    sqs.send_message(
        QueueUrl=url,
        MessageBody="a",
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": "order.created"}},
    )
    environment = ScriptedEnvironment(lambda _: (OK, None))
    poller(queue, environment, []).poll_once()
    [record] = environment.events[0]["Records"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == REGION
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["event_type"]["stringValue"] == "order.created"


def test_a_batch_gathers_up_to_the_batch_size_within_the_window(
    aws: Callable[[str], Any],
) -> None:
    # GIVEN 15 waiting messages, batch size 12 and a batching window (a receive returns 10)
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    send(sqs, url, *(f"m{n:02d}" for n in range(15)))
    environment = ScriptedEnvironment(lambda _: (OK, None))
    # WHEN one batch is gathered
    poller((sqs, url, arn), environment, [], batch_size=12, batching_window_seconds=5).poll_once()
    # THEN it holds twelve different records, and the other three wait for the next batch
    records = environment.events[0]["Records"]
    assert len({r["messageId"] for r in records}) == len(records) == 12
    assert len(bodies_left(sqs, url)) == 3


def test_duplicate_delivery_hands_out_a_second_copy(aws: Callable[[str], Any]) -> None:
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    send(sqs, url, "a")
    environment = ScriptedEnvironment(lambda _: (OK, None))
    reports: list[InvocationReport] = []
    duplicating = SqsPoller(
        spec_for(url, arn),
        sqs,
        EmulatorClock(100),
        environment=environment,  # type: ignore[arg-type]
        report=reports.append,
        stop=threading.Event(),
        duplicate_rate=1.0,
    )
    duplicating.poll_once()
    assert reports[0].duplicates == 1
    assert bodies_left(sqs, url) == ["a"]


# --- a real execution environment -------------------------------------------------------------

HANDLERS = """
import os, time

def echo(event, context):
    return {"pid": os.getpid(), "remaining": context.get_remaining_time_in_millis()}

def slow(event, context):
    time.sleep(5)

def broken(event, context):
    raise ValueError("bad record")
"""


@pytest.fixture
def handlers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "sample_handlers.py").write_text(HANDLERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return tmp_path


def environment_for(handler: str, tmp_path: Path) -> ExecutionEnvironment:
    spec = spec_for("http://unused", "arn:aws:sqs:us-east-1:123456789012:q", handler=handler)
    context = multiprocessing.get_context("spawn")
    return ExecutionEnvironment(context, spec, FaultPlan().to_json(), str(tmp_path / "faults"))


@pytest.mark.skipif(sys.platform != "linux", reason="process semantics checked on Linux")
def test_an_environment_stays_warm_between_invocations(handlers: Path) -> None:
    environment = environment_for("sample_handlers.echo", handlers)
    try:
        first = environment.invoke({"Records": []}, timeout_real=30)
        second = environment.invoke({"Records": []}, timeout_real=30)
    finally:
        environment.close()
    assert first[0] == second[0] == OK
    assert first[1]["pid"] == second[1]["pid"]
    assert 0 < second[1]["remaining"] <= 30_000


def test_an_invocation_past_its_timeout_is_abandoned_and_the_environment_replaced(
    handlers: Path,
) -> None:
    environment = environment_for("sample_handlers.slow", handlers)
    try:
        outcome, detail = environment.invoke({"Records": []}, timeout_real=0.5)
        assert (outcome, environment.warm) == (TIMEOUT, False)
        assert "timed out" in detail
    finally:
        environment.close()


def test_a_handler_error_is_reported_as_the_invocations_error(handlers: Path) -> None:
    environment = environment_for("sample_handlers.broken", handlers)
    try:
        assert environment.invoke({"Records": []}, timeout_real=30) == (
            ERROR,
            "ValueError: bad record",
        )
    finally:
        environment.close()


def test_a_report_is_one_json_line() -> None:
    report = InvocationReport("payment", "fn", OK, 3, 3, 0, 0, 1.0, 2.0, cold=True)
    assert json.loads(report.to_json())["outcome"] == OK


def mapped_queue(embedded: Callable[[str], Any]) -> tuple[Any, Any, str, str, str]:
    """(lambda, sqs, queue url, queue arn, mapping uuid) of a function's SQS mapping."""
    iam, lam, sqs = embedded("iam"), embedded("lambda"), embedded("sqs")
    role = iam.create_role(
        RoleName="fn",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    lam.create_function(
        FunctionName="orderflow-local-payment",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    uuid = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="orderflow-local-payment"
    )["UUID"]
    return lam, sqs, url, arn, uuid


def test_disabling_waits_for_the_receive_a_poller_already_started(
    embedded: Callable[[str], Any],
) -> None:
    # GIVEN a poller in the middle of a receive
    lam, _, url, arn, uuid = mapped_queue(embedded)
    seen: list[str] = []
    mapping = MappingState(lam, spec_for(url, arn, mapping_uuid=uuid), report=seen.append)
    assert mapping.enter()
    # WHEN the mapping is disabled THEN it is Disabling while that receive (and its invocation)
    # runs, no new receive starts, and it is Disabled once the poller is done
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert mapping.refresh() == "Disabling"
    assert not mapping.enter()
    mapping.leave()
    assert mapping.state == "Disabled"
    assert seen == ["Disabling", "Disabled"]


def test_a_disabled_event_source_mapping_stops_polling_until_it_is_enabled_again(
    embedded: Callable[[str], Any],
) -> None:
    """Enabled false pauses polling and invocation; the queue keeps every message
    (https://docs.aws.amazon.com/lambda/latest/dg/API_UpdateEventSourceMapping.html)."""
    # GIVEN a function with an SQS event source mapping, and a message on its queue
    lam, sqs, url, arn, uuid = mapped_queue(embedded)
    send(sqs, url, "a")
    seen: list[str] = []
    mapping = MappingState(lam, spec_for(url, arn, mapping_uuid=uuid), report=seen.append)
    environment = ScriptedEnvironment(lambda _: (OK, None))
    reports: list[InvocationReport] = []
    poller = SqsPoller(
        spec_for(url, arn),
        sqs,
        EmulatorClock(100),
        environment=environment,  # type: ignore[arg-type]
        report=reports.append,
        stop=threading.Event(),
        mapping=mapping,
    )
    # WHEN an operator disables the mapping and the worker reads its state
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert mapping.refresh() == "Disabled"
    # THEN the poller receives nothing: the message is still waiting, never received
    assert poller.poll_once() is None
    assert environment.events == []
    depth = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert depth == {
        "ApproximateNumberOfMessages": "1",
        "ApproximateNumberOfMessagesNotVisible": "0",
    }
    # WHEN it is enabled again THEN polling resumes with the message, on its first receive
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    assert mapping.refresh() == "Enabled"
    report = poller.poll_once()
    assert report is not None
    assert report.succeeded == 1
    [record] = environment.events[0]["Records"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert seen == ["Disabled", "Enabled"]
