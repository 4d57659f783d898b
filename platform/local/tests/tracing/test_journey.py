"""One order's trace spans the publisher and every consumer that handled it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from orderflow.consumer import SqsConsumer
from orderflow.contracts import filter_policy
from orderflow.emulator import sns_tracing, xray_queries
from orderflow.emulator.extension import installed
from orderflow.emulator.xray_daemon import XRayDaemon
from orderflow.messaging import EventPublisher
from orderflow.messaging.lambda_events import lambda_sqs_event, lambda_sqs_record
from orderflow.observability import build_logger, traced_work
from orderflow.platform.tracing import TraceNotFoundError, build_tree, order_journey
from orderflow.testing import FakeLambdaContext, make_order

pytestmark = pytest.mark.functional
SERVICES = ("payment", "analytics")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with installed(sns_tracing, xray_queries), mock_aws():
        sns, sqs, xray = boto3.client("sns"), boto3.client("sqs"), boto3.client("xray")
        topic_arn = sns.create_topic(Name="order-events")["TopicArn"]
        queues = {}
        for service in SERVICES:
            url = sqs.create_queue(QueueName=service)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            policy = filter_policy(service)
            attributes = {"FilterPolicy": json.dumps(policy)} if policy else {}
            sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
            queues[service] = (url, arn)
        daemon = XRayDaemon(xray).start()
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.address)
        yield {
            "sns": sns,
            "sqs": sqs,
            "xray": xray,
            "topic": topic_arn,
            "queues": queues,
            "daemon": daemon,
        }
        daemon.stop()


def consume(aws: dict[str, Any], service: str) -> None:
    """Run the service's batch shell over what its queue holds, the way Lambda would."""
    url, arn = aws["queues"][service]
    messages = aws["sqs"].receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    consumer = SqsConsumer(service, logger=build_logger(service))
    event = lambda_sqs_event([lambda_sqs_record(m, arn) for m in messages])
    consumer.process(event, FakeLambdaContext(), lambda _: None)  # type: ignore[arg-type]


def test_one_order_is_one_trace_across_publisher_and_consumers(aws: dict[str, Any]) -> None:
    # GIVEN an order published inside the order API's traced work
    order = make_order("ord-traced")
    with traced_work("order-api", None, {"order_id": order.order_id, "service": "order-api"}):
        EventPublisher(aws["topic"], aws["sns"]).publish(order)

    # WHEN each consumer processes its copy
    for service in SERVICES:
        consume(aws, service)
    aws["daemon"].stop()

    # THEN X-Ray holds one trace: the publisher with each consumer's work beneath it
    roots = order_journey(aws["xray"], "ord-traced")
    assert [r.name for r in roots] == ["order-api"]
    assert sorted(c.name for c in roots[0].children) == sorted(SERVICES)
    assert {c.trace_id for c in roots[0].children} == {roots[0].trace_id}
    assert all(c.annotations["order_id"] == "ord-traced" for c in roots[0].children)


def test_an_order_without_traces_is_not_found(aws: dict[str, Any]) -> None:
    with pytest.raises(TraceNotFoundError, match="ord-missing"):
        order_journey(aws["xray"], "ord-missing")


def test_unsupported_filter_expressions_are_rejected(aws: dict[str, Any]) -> None:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    with pytest.raises(ClientError, match="supports annotation"):
        aws["xray"].get_trace_summaries(
            StartTime=0, EndTime=2_000_000_000, FilterExpression="responsetime > 5"
        )


def test_tree_links_by_parent_and_orders_children_by_start() -> None:
    def doc(id_: str, name: str, start: float, end: float, **extra: object) -> dict[str, object]:
        return {
            "id": id_,
            "name": name,
            "trace_id": "t",
            "start_time": start,
            "end_time": end,
            **extra,
        }

    documents = [
        doc("b", "payment", 2, 3, parent_id="a"),
        doc("a", "order-api", 1, 1.5),
        doc("c", "analytics", 1.6, 9, parent_id="a", fault=True),
    ]

    (root,) = build_tree(documents)

    assert [c.name for c in root.children] == ["analytics", "payment"]
    assert root.children[0].fault
    assert root.to_dict()["children"][1]["offset_ms"] == 1000.0


def test_flush_returns_once_received_segments_are_uploaded(aws: dict[str, Any]) -> None:
    with traced_work("order-api", None, {"order_id": "ord-flushed"}):
        pass

    assert aws["daemon"].flush()

    assert order_journey(aws["xray"], "ord-flushed")[0].name == "order-api"
