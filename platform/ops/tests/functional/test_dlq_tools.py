"""DLQ tools on moto: inspect groups by failure and consumes nothing; redrives lose nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from orderflow.contracts import OrderEvent, parse_body
from orderflow.failures import FailureLedger
from orderflow.messaging import EventPublisher
from orderflow.platform.aws import AwsClients
from orderflow.platform.dlq import (
    UNKNOWN,
    RedriveInProgressError,
    inspect_dlq,
    redrive_all,
    redrive_group,
)
from orderflow.platform.errors import UnknownServiceError
from orderflow.platform.stage import ServiceQueues, service_queues
from orderflow.testing import make_order

from .conftest import STAGE, StageOnMoto, consume_until_dead_lettered

pytestmark = pytest.mark.functional
SERVICE = "inventory"


class NoStockRowError(Exception):
    """The bug: an order for a sku the stock table has no row for."""


class WarehouseTimeoutError(Exception):
    """A dependency that timed out."""


@dataclass
class FailedOrders:
    """A DLQ holding two failure kinds, and which order failed which way."""

    queues: ServiceQueues
    ledger: FailureLedger
    no_stock: list[str]
    timeouts: list[str]
    handled: list[str]


def inventory_with_a_bug(handled: list[str]) -> Callable[[OrderEvent], None]:
    def handle(event: OrderEvent) -> None:
        number = int(event.order_id.rsplit("-", 1)[1])
        if number % 4 == 1:
            raise NoStockRowError(f"sku-{number} has no stock row (order {event.order_id})")
        if number % 4 == 2 and number < 8:
            raise WarehouseTimeoutError(f"warehouse answered nothing in {1000 + number} ms")
        handled.append(event.order_id)

    return handle


@pytest.fixture
def failed(aws: AwsClients, stage: StageOnMoto) -> FailedOrders:
    """Twelve orders through inventory: 3 hit the stock-row bug, 2 time out, 7 succeed."""
    publisher = EventPublisher(stage.topic_arn, aws.sns())
    publisher.publish_batch([make_order(f"ord-{n}") for n in range(12)])
    handled: list[str] = []
    consume_until_dead_lettered(aws, stage, SERVICE, inventory_with_a_bug(handled))
    return FailedOrders(
        queues=service_queues(aws.sqs(), STAGE, SERVICE),
        ledger=FailureLedger(stage.ledger_table, aws.dynamodb()),
        no_stock=["ord-1", "ord-5", "ord-9"],
        timeouts=["ord-2", "ord-6"],
        handled=handled,
    )


def depths(aws: AwsClients, url: str) -> tuple[int, int]:
    attributes = aws.sqs().get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def order_ids(aws: AwsClients, url: str) -> list[str]:
    """Order ids of every visible message, received and deleted."""
    sqs = aws.sqs()
    found: list[str] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            found.append(parse_body(message["Body"]).order_id)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return sorted(found)


def test_inspect_groups_two_failure_kinds_and_leaves_every_message(
    aws: AwsClients, failed: FailedOrders
) -> None:
    # GIVEN inventory's DLQ with three stock-row failures and two timeouts
    assert depths(aws, failed.queues.dlq.url) == (5, 0)  # type: ignore[union-attr]

    # WHEN it is inspected
    inspection = inspect_dlq(aws.sqs(), failed.ledger, failed.queues)

    # THEN two groups with the right counts, exceptions, event types and orders
    assert inspection.total == 5
    summary = {g.exception_type: g for g in inspection.groups}
    assert set(summary) == {"NoStockRowError", "WarehouseTimeoutError"}
    assert summary["NoStockRowError"].count == 3
    assert sorted(summary["NoStockRowError"].sample_order_ids) == failed.no_stock
    assert summary["WarehouseTimeoutError"].count == 2
    assert sorted(summary["WarehouseTimeoutError"].sample_order_ids) == failed.timeouts
    assert all(g.event_types == ["order.created"] for g in inspection.groups)
    assert inspection.groups[0].exception_type == "NoStockRowError"  # largest first
    # AND every message is still in the DLQ, visible, for the next look or a redrive
    assert depths(aws, failed.queues.dlq.url) == (5, 0)  # type: ignore[union-attr]


def test_messages_without_a_ledger_record_group_as_unknown(
    aws: AwsClients, failed: FailedOrders
) -> None:
    # GIVEN a message someone put straight into the DLQ
    stray = make_order("ord-stray").model_dump_json()
    aws.sqs().send_message(QueueUrl=failed.queues.dlq.url, MessageBody=stray)  # type: ignore[union-attr]

    # WHEN the DLQ is inspected
    groups = {g.fingerprint: g for g in inspect_dlq(aws.sqs(), failed.ledger, failed.queues).groups}

    # THEN it forms the unknown group, described from its body
    assert groups[UNKNOWN].count == 1
    assert groups[UNKNOWN].sample_order_ids == ["ord-stray"]
    assert groups[UNKNOWN].event_types == ["order.created"]


def test_selective_redrive_moves_exactly_one_group(aws: AwsClients, failed: FailedOrders) -> None:
    # GIVEN the two groups of inventory's DLQ
    groups = {
        g.exception_type: g for g in inspect_dlq(aws.sqs(), failed.ledger, failed.queues).groups
    }
    bug = groups["NoStockRowError"]

    # WHEN only the stock-row group is redriven
    report = redrive_group(aws.sqs(), failed.ledger, failed.queues, bug.fingerprint, rate=500)

    # THEN its three orders are back on the source queue and the timeouts stay parked
    assert (report.moved, report.skipped, report.failed) == (3, 2, 0)
    assert order_ids(aws, failed.queues.queue.url) == failed.no_stock
    assert depths(aws, failed.queues.dlq.url) == (2, 0)  # type: ignore[union-attr]
    assert order_ids(aws, failed.queues.dlq.url) == failed.timeouts  # type: ignore[union-attr]


def test_a_redriven_message_keeps_its_body_and_attributes(
    aws: AwsClients, failed: FailedOrders
) -> None:
    # GIVEN a DLQ message as the consumer last saw it
    sqs = aws.sqs()
    [parked] = [
        m
        for m in sqs.receive_message(
            QueueUrl=failed.queues.dlq.url,  # type: ignore[union-attr]
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
        )["Messages"]
        if parse_body(m["Body"]).order_id == "ord-2"
    ]
    timeouts = next(
        g
        for g in inspect_dlq(sqs, failed.ledger, failed.queues).groups
        if "ord-2" in g.sample_order_ids
    )

    # WHEN its group is redriven
    redrive_group(sqs, failed.ledger, failed.queues, timeouts.fingerprint, rate=500)

    # THEN the copy on the source queue carries the same body and message attributes
    copies = sqs.receive_message(
        QueueUrl=failed.queues.queue.url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    copy = next(m for m in copies if m["Body"] == parked["Body"])
    assert copy.get("MessageAttributes") == parked.get("MessageAttributes")


def test_a_dry_run_moves_nothing(aws: AwsClients, failed: FailedOrders) -> None:
    # GIVEN the DLQ
    bug = inspect_dlq(aws.sqs(), failed.ledger, failed.queues).groups[0]

    # WHEN a group and the whole queue are redriven dry
    group = redrive_group(aws.sqs(), failed.ledger, failed.queues, bug.fingerprint, dry_run=True)
    whole = redrive_all(aws.sqs(), failed.queues, dry_run=True)

    # THEN they report what would move, and nothing moved
    assert (group.moved, group.skipped, group.status) == (3, 2, "DRY-RUN")
    assert (whole.moved, whole.status) == (5, "DRY-RUN")
    assert depths(aws, failed.queues.dlq.url) == (5, 0)  # type: ignore[union-attr]
    assert depths(aws, failed.queues.queue.url) == (0, 0)


def test_whole_redrive_empties_the_dlq_into_the_source_queue(
    aws: AwsClients, failed: FailedOrders
) -> None:
    # GIVEN five failed orders parked in the DLQ
    progress: list[tuple[int, int]] = []

    # WHEN the whole DLQ is redriven through a message move task
    report = redrive_all(
        aws.sqs(),
        failed.queues,
        rate=500,
        poll_seconds=0.05,
        on_progress=lambda d, t: progress.append((d, t)),
    )

    # THEN the task completed, all five are back on the source, the DLQ is empty
    assert (report.status, report.moved, report.failed) == ("COMPLETED", 5, 0)
    assert progress[-1] == (5, 5)
    assert order_ids(aws, failed.queues.queue.url) == sorted(failed.no_stock + failed.timeouts)
    assert depths(aws, failed.queues.dlq.url) == (0, 0)  # type: ignore[union-attr]


class SqsWithSettlingCount:
    """SQS whose move task count lags: a COMPLETED task first reports ``behind`` fewer moved,
    and catches up by one a read.

    ListMessageMoveTasks' ApproximateNumberOfMessagesMoved is "the approximate number of
    messages already moved" (ListMessageMoveTasksResultEntry, https://docs.aws.amazon.com/
    AWSSimpleQueueService/latest/APIReference/API_ListMessageMoveTasksResultEntry.html); SQS
    does not promise it is final when the status first reads COMPLETED.
    """

    def __init__(self, sqs: Any, behind: int) -> None:
        self._sqs = sqs
        self._behind = behind

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def list_message_move_tasks(self, **kwargs: Any) -> Any:
        response = self._sqs.list_message_move_tasks(**kwargs)
        for task in response.get("Results", []):
            if task.get("Status") == "COMPLETED" and self._behind:
                task["ApproximateNumberOfMessagesMoved"] -= self._behind
                self._behind -= 1
        return response


def test_whole_redrive_reports_the_moved_count_once_it_settles_as_approximate(
    aws: AwsClients, failed: FailedOrders
) -> None:
    # GIVEN five failed orders, and an SQS whose moved count reads 3, then 4, then 5 once the
    # task is COMPLETED
    sqs = SqsWithSettlingCount(aws.sqs(), behind=2)

    # WHEN the whole DLQ is redriven
    report = redrive_all(sqs, failed.queues, rate=500, poll_seconds=0.05)  # type: ignore[arg-type]

    # THEN the report carries the settled count, and says it is SQS's approximation
    assert (report.status, report.moved, report.failed) == ("COMPLETED", 5, 0)
    assert report.moved_approximate is True
    assert report.as_dict()["moved_approximate"] is True
    assert depths(aws, failed.queues.dlq.url) == (0, 0)  # type: ignore[union-attr]


def test_a_group_redrive_counts_exactly_what_it_moved(
    aws: AwsClients, failed: FailedOrders
) -> None:
    bug = inspect_dlq(aws.sqs(), failed.ledger, failed.queues).groups[0]
    report = redrive_group(aws.sqs(), failed.ledger, failed.queues, bug.fingerprint, rate=500)
    assert (report.moved, report.moved_approximate) == (3, False)


def test_a_second_whole_redrive_while_one_runs_is_refused(
    aws: AwsClients, failed: FailedOrders
) -> None:
    # GIVEN a slow move task running on the DLQ
    aws.sqs().start_message_move_task(
        SourceArn=failed.queues.dlq.arn,  # type: ignore[union-attr]
        MaxNumberOfMessagesPerSecond=1,
    )

    # WHEN another redrive is asked for, THEN it is refused with a clear error
    with pytest.raises(RedriveInProgressError, match="already running"):
        redrive_all(aws.sqs(), failed.queues)


class Interrupted(BaseException):
    """The process dies (Ctrl-C, OOM kill) at the worst moment."""


class DiesOnSecondDelete:
    """An SQS client whose process dies right after the second message was sent back."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs
        self.deletes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def delete_message(self, **kwargs: Any) -> Any:
        self.deletes += 1
        if self.deletes == 2:
            raise Interrupted
        return self._sqs.delete_message(**kwargs)


def test_a_redrive_interrupted_between_send_and_delete_loses_nothing(
    aws: AwsClients, failed: FailedOrders
) -> None:
    # GIVEN the stock-row group, and a process that dies after sending its second message
    bug = next(
        g
        for g in inspect_dlq(aws.sqs(), failed.ledger, failed.queues).groups
        if g.exception_type == "NoStockRowError"
    )
    dying = DiesOnSecondDelete(aws.sqs())

    # WHEN the group redrive is interrupted between that send and its delete
    with pytest.raises(Interrupted):
        redrive_group(dying, failed.ledger, failed.queues, bug.fingerprint, rate=500)  # type: ignore[arg-type]

    # THEN every failed order is still somewhere: two back on the source, and the one in
    # flight is on the source AND still in the DLQ (a duplicate the consumer absorbs)
    on_source = order_ids(aws, failed.queues.queue.url)
    in_dlq = order_ids(aws, failed.queues.dlq.url)  # type: ignore[union-attr]
    assert len(on_source) == 2
    assert set(on_source) <= set(failed.no_stock)
    assert set(on_source + in_dlq) == set(failed.no_stock + failed.timeouts)
    assert len(on_source) + len(in_dlq) == 6  # five failed orders, one of them twice


def test_an_unknown_service_is_named_with_the_known_ones(
    aws: AwsClients, stage: StageOnMoto
) -> None:
    # GIVEN a stage with the four services
    # WHEN a service that does not exist is asked for
    with pytest.raises(UnknownServiceError) as raised:
        service_queues(aws.sqs(), STAGE, "shipping")

    # THEN the error names it and lists the real ones
    assert str(raised.value) == (
        "unknown service 'shipping' in stage 'test' "
        "(known: payment, inventory, notifications, analytics)"
    )


def test_a_failed_order_ledger_entry_matches_what_the_consumer_saw(
    aws: AwsClients, failed: FailedOrders
) -> None:
    # GIVEN the DLQ's messages
    sqs = aws.sqs()
    ids = [
        m["MessageId"]
        for m in sqs.receive_message(
            QueueUrl=failed.queues.dlq.url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,  # type: ignore[union-attr]
        )["Messages"]
    ]

    # WHEN their ledger records are read by message id (which the DLQ kept)
    records = failed.ledger.lookup(ids)

    # THEN each one was recorded by the consumer with its last receive count (the source
    # queue's maxReceiveCount: it failed on every receive before SQS moved it)
    redrive = sqs.get_queue_attributes(
        QueueUrl=failed.queues.queue.url, AttributeNames=["RedrivePolicy"]
    )["Attributes"]["RedrivePolicy"]
    receives = int(json.loads(redrive)["maxReceiveCount"])
    assert set(records) == set(ids)
    assert all(r.service == SERVICE and r.receive_count == receives for r in records.values())
    assert json.dumps(sorted(r.order_id for r in records.values())) == json.dumps(
        sorted(failed.no_stock + failed.timeouts)
    )


def test_inspect_with_a_limit_looks_at_that_many_and_keeps_all(
    aws: AwsClients, failed: FailedOrders
) -> None:
    # WHEN only two of the five DLQ messages are looked at
    inspection = inspect_dlq(aws.sqs(), failed.ledger, failed.queues, limit=2)

    # THEN two are grouped, and all five remain visible
    assert inspection.total == sum(g.count for g in inspection.groups) == 2
    assert depths(aws, failed.queues.dlq.url) == (5, 0)  # type: ignore[union-attr]


def test_an_empty_dlq_needs_no_move_task(aws: AwsClients, stage: StageOnMoto) -> None:
    # GIVEN payment's DLQ, empty
    queues = service_queues(aws.sqs(), STAGE, "payment")

    # WHEN it is redriven
    report = redrive_all(aws.sqs(), queues)

    # THEN nothing is started or moved
    assert (report.status, report.moved) == ("EMPTY", 0)
    assert aws.sqs().list_message_move_tasks(SourceArn=queues.dlq.arn)["Results"] == []  # type: ignore[union-attr]
