"""On Lambda, what a consumer publishes stays in the trace of the order it handled.

Lambda sets ``LAMBDA_TASK_ROOT``, which turns Powertools' Tracer on, and ``_X_AMZN_TRACE_ID``,
the invocation's own trace (not the order's: for an SQS event source the order's trace comes
per record in ``AWSTraceHeader``). These tests run a consumer built as the services build it
under that environment; values from the Lambda developer guide, "Defined runtime environment
variables" (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Tracer
from moto import mock_aws

from orderflow.consumer import SqsConsumer
from orderflow.contracts import OrderCreated, PaymentCompleted, derived_event_id
from orderflow.messaging import EventPublisher
from orderflow.observability import build_logger, build_tracer
from orderflow.observability.tracing import TRACE_HEADER, TraceHeader
from orderflow.testing import FakeLambdaContext, make_order, sqs_event, sqs_record

ORDER_TRACE = TraceHeader("1-67a0b1c2-0123456789abcdef01234567", "53995c3f42cd8ad8", True)
INVOCATION_TRACE = TraceHeader("1-67a0b1c3-fedcba9876543210fedcba98", "1a2b3c4d5e6f7081", True)


def lambda_variables(daemon_port: int) -> dict[str, str]:
    """What Lambda's python3.12 runtime sets for a function with active tracing."""
    return {
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "_HANDLER": "orderflow.payment.handler.handler",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": "orderflow-dev-payment",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/orderflow-dev-payment",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/01/[$LATEST]0123456789abcdef0123456789abcdef",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
        "_X_AMZN_TRACE_ID": INVOCATION_TRACE.render(),
        "TZ": ":UTC",
    }


@pytest.fixture
def daemon() -> Iterator[socket.socket]:
    """A UDP socket standing where Lambda's X-Ray daemon listens."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.5)
    yield udp
    udp.close()


@pytest.fixture
def on_lambda(monkeypatch: pytest.MonkeyPatch, daemon: socket.socket) -> Iterator[None]:
    """Lambda's environment; Powertools' Tracer keeps its settings per process, so start afresh."""
    for name, value in lambda_variables(daemon.getsockname()[1]).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    Tracer._reset_config()
    yield
    Tracer._reset_config()


def documents(udp: socket.socket) -> list[dict[str, Any]]:
    """Every segment document the daemon received so far."""
    found = []
    while True:
        try:
            datagram = udp.recv(65536)
        except TimeoutError:
            return found
        found.append(json.loads(datagram.partition(b"\n")[2]))


def payment_completed(order: OrderCreated) -> PaymentCompleted:
    return PaymentCompleted(
        event_id=derived_event_id(order.order_id, PaymentCompleted.TYPE),
        occurred_at=order.occurred_at,
        order_id=order.order_id,
        correlation_id=order.correlation_id,
        producer="payment",
        customer_email=order.customer_email,
        payment_id=f"pay-{order.order_id}",
        amount=order.total,
    )


@mock_aws
def test_a_consumer_on_lambda_publishes_in_its_orders_trace(
    on_lambda: None, daemon: socket.socket
) -> None:
    # GIVEN payment's consumer built as the services build it, in Lambda's environment
    sns = boto3.client("sns")
    topic_arn = sns.create_topic(Name="order-events")["TopicArn"]
    logger = build_logger("payment")
    tracer = build_tracer("payment")
    consumer = SqsConsumer("payment", logger=logger)
    publisher = EventPublisher(topic_arn, client=sns)
    sent: list[str] = []

    def leaving(request: Any, **_: Any) -> None:
        value = request.headers.get(TRACE_HEADER)
        sent.append(value.decode() if isinstance(value, bytes) else str(value))

    sns.meta.events.register_last("before-send", leaving)

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> Any:
        return consumer.process(
            event, context, lambda order: publisher.publish(payment_completed(order))
        )

    # WHEN it handles one record that carries its order's trace header
    record = sqs_record(make_order("ord-traced"))
    record["attributes"]["AWSTraceHeader"] = ORDER_TRACE.render()
    response = handler(sqs_event([record]), FakeLambdaContext())

    # THEN payment.completed leaves in the order's trace, as a child of payment's own segment
    assert response == {"batchItemFailures": []}
    (header,) = [TraceHeader.parse(value) for value in sent]
    assert header is not None
    assert header.root == ORDER_TRACE.root
    (segment,) = [d for d in documents(daemon) if d["trace_id"] == ORDER_TRACE.root]
    assert segment["name"] == "payment"
    assert segment["parent_id"] == ORDER_TRACE.parent
    assert header.parent == segment["id"]


@mock_aws
def test_annotations_made_in_a_records_work_land_on_the_orders_segment(
    on_lambda: None, daemon: socket.socket
) -> None:
    # GIVEN a consumer whose work annotates the trace through the service's Tracer
    tracer = build_tracer("payment")
    consumer = SqsConsumer("payment", logger=build_logger("payment"))

    @tracer.capture_lambda_handler
    def handler(event: dict[str, Any], context: Any) -> Any:
        return consumer.process(
            event, context, lambda _: tracer.put_annotation("payment_status", "captured")
        )

    # WHEN it handles a record of a traced order
    record = sqs_record(make_order("ord-annotated"))
    record["attributes"]["AWSTraceHeader"] = ORDER_TRACE.render()
    handler(sqs_event([record]), FakeLambdaContext())

    # THEN the annotation is on the order's segment, where `orderflow trace` reads it, and the
    # handler's own record stays in the invocation's trace
    received = documents(daemon)
    (segment,) = [d for d in received if d["trace_id"] == ORDER_TRACE.root]
    assert segment["annotations"]["payment_status"] == "captured"
    assert segment["annotations"]["order_id"] == "ord-annotated"
    (invocation,) = [d for d in received if d["trace_id"] == INVOCATION_TRACE.root]
    assert invocation["type"] == "subsegment"
    assert invocation["parent_id"] == INVOCATION_TRACE.parent
    assert invocation["annotations"]["Service"] == "payment"


def test_a_cold_start_on_lambda_neither_loads_the_xray_sdk_nor_patches_botocore() -> None:
    # GIVEN a fresh interpreter (a cold start) in Lambda's environment
    code = (
        "import sys, botocore.client;"
        "from orderflow.observability import build_tracer;"
        "tracer = build_tracer('payment');"
        "assert not tracer.disabled, 'tracer off';"
        "print(sorted(m for m in sys.modules if m.startswith('aws_xray_sdk.')),"
        " hasattr(botocore.client, '_xray_enabled'))"
    )
    environment = {**os.environ, **lambda_variables(2000)}
    environment.pop("POWERTOOLS_TRACE_DISABLED", None)

    # WHEN it builds a service's tracer
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=False
    )

    # THEN the tracer is on, yet no X-Ray SDK module was imported and botocore is untouched
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] False"


def test_a_tracer_outside_lambda_needs_no_xray_sdk() -> None:
    # GIVEN a fresh interpreter outside Lambda, where Powertools turns the Tracer off (tests,
    # the local bench), and shared declares no X-Ray SDK to install
    code = (
        "import sys;"
        "from orderflow.observability import build_tracer;"
        "tracer = build_tracer('payment');"
        "tracer.put_annotation('order_id', 'ord-1');"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'aws_xray_sdk'))"
    )
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_LAMBDA_", "LAMBDA_", "_HANDLER", "POWERTOOLS_TRACE"))
    }

    # WHEN it builds a service's tracer and annotates
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=False
    )

    # THEN nothing of the X-Ray SDK was imported: the tracer works without it installed
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
