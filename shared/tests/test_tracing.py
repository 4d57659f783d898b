"""Trace context: parsed from SQS, carried by segments, sent to the daemon, put on SNS publishes."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from orderflow.messaging import EventPublisher
from orderflow.observability.tracing import (
    TRACE_HEADER,
    TraceHeader,
    current_segment,
    daemon_address,
    traced_work,
)
from orderflow.testing import make_order


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A UDP socket standing where the X-Ray daemon listens."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(2)
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", f"127.0.0.1:{udp.getsockname()[1]}")
    yield udp
    udp.close()


def received(udp: socket.socket) -> dict[str, object]:
    header, _, body = udp.recv(65536).partition(b"\n")
    assert json.loads(header) == {"format": "json", "version": 1}
    document: dict[str, object] = json.loads(body)
    return document


def test_header_round_trip() -> None:
    header = TraceHeader.parse(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    )

    assert header == TraceHeader("1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", True)
    assert TraceHeader.parse(header.render()) == header  # type: ignore[union-attr]
    assert TraceHeader.parse(None) is None
    assert TraceHeader.parse("Parent=abc") is None


def test_daemon_address_forms() -> None:
    assert daemon_address({"AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000"}) == (
        "169.254.79.129",
        2000,
    )
    assert daemon_address({"AWS_XRAY_DAEMON_ADDRESS": "tcp:10.0.0.1:2000 udp:10.0.0.2:2001"}) == (
        "10.0.0.2",
        2001,
    )
    assert daemon_address({}) is None


def test_work_joins_the_upstream_trace_and_reaches_the_daemon(daemon: socket.socket) -> None:
    upstream = TraceHeader("1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8")

    with traced_work("payment", upstream, {"order_id": "ord-1"}) as segment:
        assert segment is not None
        assert current_segment() is segment

    document = received(daemon)
    assert document["trace_id"] == upstream.root
    assert document["parent_id"] == upstream.parent
    assert document["annotations"] == {"order_id": "ord-1"}
    assert current_segment() is None


def test_failed_work_is_a_fault_with_its_cause(daemon: socket.socket) -> None:
    with pytest.raises(RuntimeError), traced_work("inventory", None, {"order_id": "ord-2"}):
        raise RuntimeError("stock table unavailable")

    document = received(daemon)
    assert document["fault"] is True
    assert "stock table unavailable" in json.dumps(document["cause"])


def test_unsampled_work_is_not_sent(daemon: socket.socket) -> None:
    with traced_work(
        "payment", TraceHeader("1-5759e988-bd862e3fe1be46a994272793", None, False), {}
    ):
        pass

    with pytest.raises(TimeoutError):
        daemon.recv(65536)


@mock_aws
def test_publishes_inside_work_carry_its_trace_header(daemon: socket.socket) -> None:
    sns = boto3.client("sns")
    topic_arn = sns.create_topic(Name="order-events")["TopicArn"]
    sent: list[str | None] = []

    def spy(request: object, **_: object) -> None:
        value = request.headers.get(TRACE_HEADER)  # type: ignore[attr-defined]
        sent.append(value.decode() if isinstance(value, bytes) else value)

    sns.meta.events.register_last("before-send", spy)
    publisher = EventPublisher(topic_arn, sns)

    with traced_work("order-api", None, {}) as segment:
        publisher.publish(make_order())
    publisher.publish(make_order())

    assert segment is not None
    assert sent[0] == segment.header().render()
    assert sent[1] is None


def test_without_a_daemon_nothing_is_recorded_or_propagated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_XRAY_DAEMON_ADDRESS", raising=False)

    with traced_work("payment", None, {"order_id": "ord-3"}) as segment:
        assert segment is None
        assert current_segment() is None


def test_a_segment_too_big_for_a_datagram_never_fails_the_work(daemon: socket.socket) -> None:
    # GIVEN work whose segment outgrows what one UDP datagram to the daemon can carry
    with traced_work("analytics", None, {"order_id": "ord-4"}) as segment:
        assert segment is not None
        segment.metadata["analytics"] = {"projection": "x" * 70_000}

    # THEN the work completed and the daemon got nothing rather than a broken document
    with pytest.raises(TimeoutError):
        daemon.recv(65536)
