"""The demo's parts: concurrent publishing with a trace per event, the pager inbox, state waits."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from orderflow.contracts import EventEnvelope
from orderflow.emulator import sns_tracing, xray_queries
from orderflow.emulator.extension import installed
from orderflow.emulator.xray_daemon import XRayDaemon
from orderflow.local.demo import (
    ConcurrentPublisher,
    PagerInbox,
    StallWatch,
    publisher_lanes,
)
from orderflow.observability.tracing import TraceHeader
from orderflow.platform.orders import order_traffic
from orderflow.platform.tracing import order_journey

from .conftest import REGION


def test_each_orders_events_stay_in_one_lane_in_publish_order() -> None:
    # GIVEN a burst with follow-ups (cancellations, shipments, refunds)
    events = list(order_traffic(60, seed=7))
    # WHEN it is split over four publishers
    lanes = publisher_lanes(events, 4)
    # THEN every event is in exactly one lane, and each order's events keep their order
    assert sorted(str(e.event_id) for lane in lanes for e in lane) == sorted(
        str(e.event_id) for e in events
    )
    lane_of = {e.order_id: n for n, lane in enumerate(lanes) for e in lane}
    for n, lane in enumerate(lanes):
        assert all(lane_of[e.order_id] == n for e in lane)
        for order_id in {e.order_id for e in lane}:
            assert [e.event_id for e in lane if e.order_id == order_id] == [
                e.event_id for e in events if e.order_id == order_id
            ]
    assert len(lanes) == 4


@pytest.fixture
def topic(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A topic with one SQS subscriber, SNS passing trace headers on, and an X-Ray daemon."""
    with installed(sns_tracing, xray_queries), mock_aws():
        sns, sqs, xray = (boto3.client(s, region_name=REGION) for s in ("sns", "sqs", "xray"))
        topic_arn = sns.create_topic(Name="order-events")["TopicArn"]
        url = sqs.create_queue(QueueName="analytics")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
        daemon = XRayDaemon(xray).start()
        monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.address)
        yield {"sqs": sqs, "xray": xray, "topic": topic_arn, "url": url, "daemon": daemon}
        daemon.stop()


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["AWSTraceHeader"]
    ).get("Messages", []):
        messages.extend(batch)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)
            ],
        )
    return messages


def test_a_burst_from_several_publishers_keeps_one_trace_per_event(
    topic: dict[str, Any],
) -> None:
    # GIVEN a burst and four publishers, each with its own SNS client
    events: list[EventEnvelope] = list(order_traffic(12, seed=3))
    clients = [boto3.client("sns", region_name=REGION) for _ in range(4)]
    # WHEN they publish it at once
    publisher = ConcurrentPublisher(topic["topic"], clients).start(events)
    assert publisher.wait(60)
    publisher.join()
    # THEN every event arrived once, and each carries a trace of its own...
    assert publisher.errors == []
    assert publisher.done == len(events)
    messages = drain(topic["sqs"], topic["url"])
    bodies = [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
    assert Counter(b["event_id"] for b in bodies) == Counter(str(e.event_id) for e in events)
    roots = [TraceHeader.parse(m["Attributes"]["AWSTraceHeader"]) for m in messages]
    assert all(root is not None for root in roots)
    trace_of = {b["event_id"]: r.root for b, r in zip(bodies, roots, strict=True) if r}
    assert len(set(trace_of.values())) == len(events)
    # ... the one the order API's segment for that event started (one per event of the order)
    assert topic["daemon"].flush()
    for order_id in {e.order_id for e in events}:
        journey = order_journey(topic["xray"], order_id)
        mine = [e for e in events if e.order_id == order_id]
        assert sorted(span.trace_id for span in journey) == sorted(
            trace_of[str(e.event_id)] for e in mine
        )
        assert Counter(span.annotations["event_type"] for span in journey) == Counter(
            e.TYPE for e in mine
        )


def test_a_publisher_that_fails_stops_the_others_and_says_why(topic: dict[str, Any]) -> None:
    # GIVEN a topic that does not exist
    events = list(order_traffic(8, seed=5))
    clients = [boto3.client("sns", region_name=REGION) for _ in range(2)]
    missing = topic["topic"] + "-gone"
    # WHEN the burst is published to it
    publisher = ConcurrentPublisher(missing, clients).start(events)
    assert publisher.wait(60)
    publisher.join()
    # THEN the error is kept for the story, and publishing stopped short of the burst
    assert publisher.errors
    assert "NotFound" in str(publisher.errors[0])
    assert publisher.done == 0


def alarm_notification(alarm: str, state: str) -> str:
    message = {
        "AlarmName": alarm,
        "NewStateValue": state,
        "NewStateReason": f"went {state}",
        "AlarmDescription": "The DLQ grew. Runbook: orderflow dlq inspect payment",
    }
    return json.dumps({"Subject": f'{state}: "{alarm}"', "Message": json.dumps(message)})


def test_the_pager_inbox_keeps_every_page_it_read(topic: dict[str, Any]) -> None:
    # GIVEN pages of two alarms and a message that is not a page, in the on-call's inbox
    sqs, url = topic["sqs"], topic["url"]
    for body in (
        alarm_notification("growth", "ALARM"),
        json.dumps({"Message": "not an alarm"}),
        alarm_notification("age", "ALARM"),
        alarm_notification("growth", "OK"),
    ):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    inbox = PagerInbox(sqs, url)
    # WHEN one alarm's page is looked for
    page = inbox.find("growth", "ALARM")
    # THEN it is found with its runbook, and the other alarm's page is still there afterwards
    assert page is not None
    assert page["runbook"] == "Runbook: orderflow dlq inspect payment"
    assert inbox.find("age", "ALARM") is not None
    assert inbox.find("growth", "OK") is not None
    assert inbox.find("age", "OK") is None
    assert drain(sqs, url) == []


def test_a_recovery_is_an_ok_page_after_the_alarm_page(topic: dict[str, Any]) -> None:
    # GIVEN an alarm's first OK (when it was created), then its ALARM page
    sqs, url = topic["sqs"], topic["url"]
    inbox = PagerInbox(sqs, url)
    for body in (alarm_notification("growth", "OK"), alarm_notification("growth", "ALARM")):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    # WHEN looking for its recovery THEN the OK from before the page does not count...
    assert inbox.find("growth", "ALARM") is not None
    assert inbox.recovered("growth") is None
    # ... the OK that follows it does, and a later ALARM needs an OK of its own
    sqs.send_message(QueueUrl=url, MessageBody=alarm_notification("growth", "OK"))
    assert inbox.recovered("growth") is not None
    sqs.send_message(QueueUrl=url, MessageBody=alarm_notification("growth", "ALARM"))
    assert inbox.recovered("growth") is None
    assert inbox.recovered("never-paged") is None


def test_a_wait_fails_only_once_nothing_moved_for_the_stall_window() -> None:
    watch = StallWatch(stall_seconds=30, moved_at=0.0)
    # moving: every look sees a new state, however long the whole wait takes
    assert all(watch.still_moving(("depth", n), now=n * 20.0) for n in range(100))
    # still for up to the window: fine; past it: stalled
    assert watch.still_moving(("depth", 99), now=99 * 20.0 + 30)
    assert not watch.still_moving(("depth", 99), now=99 * 20.0 + 31)
