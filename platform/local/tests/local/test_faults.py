"""Fault injection: dependency latency and errors, consumer bugs, crashes, the plan itself."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.session import Session

from orderflow.consumer import SqsConsumer
from orderflow.consumer.batch import SqsConsumer as ShellClass
from orderflow.local.faults import (
    ConsumerBug,
    CrashDice,
    DependencyFault,
    FaultPlan,
    FixSwitch,
    GatewayFault,
    dependency_hook,
    install_consumer_bugs,
    install_dependency_faults,
    publish_malformed,
)
from orderflow.observability import build_logger
from orderflow.testing import FakeLambdaContext, make_order, sqs_event, sqs_record


def test_a_plan_survives_its_trip_through_json() -> None:
    plan = FaultPlan(
        gateway=GatewayFault(latency_ms=40, error_rate=0.1),
        dependencies={"notifications": {"sesv2": DependencyFault(latency_ms=300)}},
        consumer_bugs=(ConsumerBug("analytics", ("ord-1", "ord-2")),),
        crash_after_side_effects={"payment": 0.5},
        crash_limit=2,
        duplicate_delivery_rate=0.2,
        malformed_messages=4,
        seed=7,
    )
    assert FaultPlan.from_json(plan.to_json()) == plan


def test_gateway_faults_become_the_payment_stacks_parameters(tmp_path: Path) -> None:
    parameters = GatewayFault(latency_ms=40, outage=True).stack_parameters(tmp_path / "j", 3)
    assert parameters["GatewayLatencyMs"] == "40"
    assert parameters["GatewayOutage"] == "true"
    assert parameters["GatewayJournalPath"] == str(tmp_path / "j")
    assert parameters["GatewaySeed"] == "3"


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the installers replace on shared classes is put back after the test."""
    monkeypatch.setattr(Session, "create_client", Session.create_client)
    monkeypatch.setattr(ShellClass, "process", ShellClass.process)


def test_a_failing_dependency_answers_with_its_own_error_after_the_sdk_retries(
    restored: None,
) -> None:
    # GIVEN DynamoDB failing every call (the endpoint is never reached)
    install_dependency_faults({"dynamodb": DependencyFault(error_rate=1.0)}, random.Random(1))
    client = boto3.client(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "total_max_attempts": 2}),
    )
    # WHEN the service calls it
    with pytest.raises(ClientError) as raised:
        client.get_item(TableName="t", Key={"id": {"S": "1"}})
    # THEN it sees DynamoDB's own error, after botocore retried it
    assert raised.value.response["Error"]["Code"] == "InternalServerError"
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 1


def test_a_throttled_email_provider_says_too_many_requests(restored: None) -> None:
    install_dependency_faults({"sesv2": DependencyFault(error_rate=1.0)}, random.Random(1))
    client = boto3.client(
        "sesv2",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    with pytest.raises(ClientError) as raised:
        client.get_account()
    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"


def test_latency_delays_only_the_faulty_dependency() -> None:
    slept: list[float] = []
    hook = dependency_hook(
        {"sesv2": DependencyFault(latency_ms=250)}, random.Random(1), sleep=slept.append
    )

    class Request:
        url = "http://ses"

    assert hook(Request(), "before-send.sesv2.SendEmail") is None
    assert hook(Request(), "before-send.dynamodb.PutItem") is None
    assert slept == [0.25]


def consumer() -> SqsConsumer:
    return SqsConsumer("inventory", logger=build_logger("inventory"))


def test_a_consumer_bug_fails_its_orders_until_the_fix_is_deployed(
    restored: None, tmp_path: Path
) -> None:
    # GIVEN inventory with a bug for order ord-bad
    fixes = FixSwitch(tmp_path / "fixes")
    install_consumer_bugs("inventory", (ConsumerBug("inventory", ("ord-bad",)),), fixes)
    handled: list[str] = []
    bad, good = make_order("ord-bad"), make_order("ord-good")
    records = [sqs_record(bad, message_id="bad"), sqs_record(good, message_id="good")]

    def run() -> Any:
        return consumer().process(
            sqs_event(records), FakeLambdaContext(), lambda e: handled.append(e.order_id)
        )

    # WHEN a batch with both arrives, before and after the fix
    before = run()
    fixes.deploy("inventory")
    after = run()
    # THEN the bad order failed alone, then went through
    assert before["batchItemFailures"] == [{"itemIdentifier": "bad"}]
    assert after["batchItemFailures"] == []
    assert handled == ["ord-good", "ord-bad", "ord-good"]


def test_another_services_bug_does_not_touch_this_one(restored: None, tmp_path: Path) -> None:
    install_consumer_bugs(
        "inventory", (ConsumerBug("analytics", ("ord-bad",)),), FixSwitch(tmp_path)
    )
    response = consumer().process(
        sqs_event([sqs_record(make_order("ord-bad"))]), FakeLambdaContext(), lambda _: None
    )
    assert response["batchItemFailures"] == []


def test_crashes_stop_at_the_runs_limit(tmp_path: Path) -> None:
    first = CrashDice("payment", 1.0, 2, tmp_path, random.Random(1))
    second = CrashDice("payment", 1.0, 2, tmp_path, random.Random(2))
    rolls = [first.roll(), second.roll(), first.roll(), second.roll()]
    assert rolls == [True, True, False, False]
    assert CrashDice("payment", 1.0, None, tmp_path, random.Random(1)).crashes() == 2


def test_malformed_messages_reach_the_topic(aws: Callable[[str], Any]) -> None:
    sns, sqs = aws("sns"), aws("sqs")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    sqs.create_queue(QueueName="all")
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint="arn:aws:sqs:us-east-1:123456789012:all",
        Attributes={"RawMessageDelivery": "true"},
    )
    bodies = publish_malformed(sns, topic, 4)
    url = sqs.get_queue_url(QueueName="all")["QueueUrl"]
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in received) == sorted(bodies)
    assert "this is not JSON" in bodies
