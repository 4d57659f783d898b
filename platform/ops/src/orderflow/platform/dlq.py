"""DLQ tools: look at what failed, grouped by why, and send it back once the bug is fixed.

Looking never consumes: messages are received with a visibility timeout (so one scan sees each
message once) and made visible again afterwards, whatever happens in between.

A selective redrive sends each message of one failure group back to the source queue (same body
and attributes) and only then deletes it from the DLQ. Interrupted between the two, the message
exists twice, never zero times; consumers are idempotent, so a duplicate is harmless.

A whole-queue redrive is SQS's own message move task, with a rate. Its moved count is SQS's
ApproximateNumberOfMessagesMoved, approximate by definition and still settling when the task
reports COMPLETED: it is read again after a pause until it stops changing, and reported as
approximate.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from orderflow.contracts import ContractError, parse_body
from orderflow.platform.backlog import queue_depths
from orderflow.platform.errors import PlatformError
from orderflow.platform.stage import QueueRef, ServiceQueues

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        MessageAttributeValueTypeDef,
        MessageSystemAttributeValueTypeDef,
    )

    from orderflow.failures import FailureLedger, FailureRecord

UNKNOWN = "unknown"
"""The group of DLQ messages the failure ledger has no record of."""
HOLD_SECONDS = 120
"""How long a scan keeps the messages it has seen invisible (it releases them when done)."""
MAX_HOLD_SECONDS = 12 * 3600
"""SQS's longest visibility timeout."""
MOVE_TASK_DONE = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
SETTLE_READS = 5
"""At most this many extra reads of a finished move task's count, a pause apart."""
SAMPLE_ORDER_IDS = 5

Progress = Callable[[int, int], None]
"""Called with (done, total) as work advances."""


class NoDeadLetterQueueError(PlatformError):
    """The service has no DLQ to work on."""


class RedriveInProgressError(PlatformError):
    """SQS allows one move task per DLQ and one is already running."""


@dataclass(frozen=True)
class DlqMessage:
    """One message held out of a DLQ for a scan."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str]
    message_attributes: dict[str, Any]


# --- holding messages --------------------------------------------------------------------------


class HeldMessages:
    """The messages of one scan; whatever is not deleted is made visible again on release."""

    def __init__(self, sqs: SQSClient, queue_url: str, hold_seconds: int = HOLD_SECONDS) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._hold_seconds = hold_seconds
        self.messages: list[DlqMessage] = []
        self._held: dict[str, str] = {}

    def receive_all(self, limit: int | None = None) -> None:
        """Receive until the queue has nothing more visible (or ``limit`` messages)."""
        expected = queue_depths(self._sqs, self._queue_url)[0]
        seen: dict[str, DlqMessage] = {m.message_id: m for m in self.messages}
        while limit is None or len(seen) < limit:
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=10 if limit is None else min(10, limit - len(seen)),
                VisibilityTimeout=self._hold_seconds,
                # Long polling asks every SQS server, so it finds what the count promised;
                # past that count (an approximation) a short poll checks for stragglers.
                WaitTimeSeconds=1 if len(seen) < expected else 0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            batch = response.get("Messages", [])
            if not batch:
                break
            for message in batch:
                held = DlqMessage(
                    message_id=message["MessageId"],
                    receipt_handle=message["ReceiptHandle"],
                    body=message["Body"],
                    attributes={str(k): v for k, v in message.get("Attributes", {}).items()},
                    message_attributes=dict(message.get("MessageAttributes", {})),
                )
                seen[held.message_id] = held
                self._held[held.message_id] = held.receipt_handle
        self.messages = list(seen.values())

    def delete(self, message: DlqMessage) -> None:
        """Delete a held message from the queue (only after its copy is durable elsewhere)."""
        self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message.receipt_handle)
        self._held.pop(message.message_id, None)

    def release(self) -> list[str]:
        """Make every still-held message visible again; return ids that could not be released."""
        handles = list(self._held.items())
        failed: list[str] = []
        for start in range(0, len(handles), 10):
            chunk = handles[start : start + 10]
            response = self._sqs.change_message_visibility_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, (_, handle) in enumerate(chunk)
                ],
            )
            failed += [chunk[int(f["Id"])][0] for f in response.get("Failed", [])]
        self._held.clear()
        return failed


@contextlib.contextmanager
def held_messages(
    sqs: SQSClient, queue_url: str, limit: int | None = None, hold_seconds: int = HOLD_SECONDS
) -> Iterator[HeldMessages]:
    """Receive every visible message of a queue, and release whatever is left on exit."""
    held = HeldMessages(sqs, queue_url, hold_seconds)
    try:
        held.receive_all(limit)
        yield held
    finally:
        held.release()


# --- inspect -----------------------------------------------------------------------------------


@dataclass
class FailureGroup:
    """DLQ messages that failed the same way."""

    fingerprint: str
    exception_type: str
    message: str
    count: int = 0
    event_types: list[str] = field(default_factory=list)
    sample_order_ids: list[str] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)

    def add(self, message_id: str, event_type: str, order_id: str) -> None:
        self.count += 1
        self.message_ids.append(message_id)
        if event_type and event_type not in self.event_types:
            self.event_types.append(event_type)
            self.event_types.sort()
        samples = self.sample_order_ids
        if order_id and order_id not in samples and len(samples) < SAMPLE_ORDER_IDS:
            samples.append(order_id)

    def as_dict(self) -> dict[str, Any]:
        """This group for ``--json`` (message ids left out: they are many and internal)."""
        data = asdict(self)
        data.pop("message_ids")
        return data


@dataclass
class DlqInspection:
    """What a DLQ holds, grouped by failure fingerprint, largest group first."""

    service: str
    dlq: str
    total: int
    groups: list[FailureGroup]

    def as_dict(self) -> dict[str, Any]:
        """The inspection for ``--json``."""
        return {
            "service": self.service,
            "dlq": self.dlq,
            "total": self.total,
            "groups": [g.as_dict() for g in self.groups],
        }


def _dlq_of(queues: ServiceQueues) -> QueueRef:
    if queues.dlq is None:
        raise NoDeadLetterQueueError(f"{queues.service} has no DLQ (no queue tagged role=dlq)")
    return queues.dlq


def _what_it_carries(body: str) -> tuple[str, str]:
    """(event type, order id) of a message body, from the contract when it parses."""
    try:
        event = parse_body(body)
    except ContractError as error:
        return f"malformed ({type(error).__name__})", error.claimed_order_id
    return event.TYPE, event.order_id


def group_messages(
    messages: list[DlqMessage], records: dict[str, FailureRecord]
) -> list[FailureGroup]:
    """Group DLQ messages by the fingerprint the failure ledger recorded for them."""
    groups: dict[str, FailureGroup] = {}
    for message in messages:
        record = records.get(message.message_id)
        if record is None:
            group = groups.setdefault(
                UNKNOWN, FailureGroup(UNKNOWN, "-", "no failure recorded for these messages")
            )
            event_type, order_id = _what_it_carries(message.body)
        else:
            group = groups.setdefault(
                record.fingerprint,
                FailureGroup(record.fingerprint, record.exception_type, record.message),
            )
            event_type, order_id = record.event_type, record.order_id
            if event_type in {"", "-"} or order_id in {"", "-"}:
                event_type, order_id = _what_it_carries(message.body)
        group.add(message.message_id, event_type, order_id)
    return sorted(groups.values(), key=lambda g: (-g.count, g.fingerprint))


def inspect_dlq(
    sqs: SQSClient, ledger: FailureLedger, queues: ServiceQueues, limit: int | None = None
) -> DlqInspection:
    """Group a service's DLQ by failure fingerprint; every message stays in the DLQ."""
    dlq = _dlq_of(queues)
    with held_messages(sqs, dlq.url, limit) as held:
        messages = list(held.messages)
    records = ledger.lookup([m.message_id for m in messages])
    return DlqInspection(queues.service, dlq.name, len(messages), group_messages(messages, records))


# --- redrive -----------------------------------------------------------------------------------


@dataclass
class RedriveReport:
    """What a redrive did (or, dry, would do)."""

    service: str
    mode: str
    dry_run: bool
    moved: int = 0
    skipped: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)
    status: str = ""
    moved_approximate: bool = False
    """True when ``moved`` is SQS's approximate count (a move task), not one we counted."""

    def as_dict(self) -> dict[str, Any]:
        """The report for ``--json``."""
        return asdict(self)


class _Pace:
    """At most ``rate`` actions a second (no limit when None)."""

    def __init__(self, rate: int | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = time.monotonic()

    def wait(self) -> None:
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next = max(self._next, time.monotonic()) + self._interval


def _resend_arguments(message: DlqMessage) -> dict[str, Any]:
    attributes: dict[str, MessageAttributeValueTypeDef] = {}
    for name, value in message.message_attributes.items():
        kept = {k: value[k] for k in ("DataType", "StringValue", "BinaryValue") if k in value}
        attributes[name] = kept  # type: ignore[assignment]
    arguments: dict[str, Any] = {"MessageBody": message.body}
    if attributes:
        arguments["MessageAttributes"] = attributes
    trace = message.attributes.get("AWSTraceHeader")
    if trace:
        system: dict[str, MessageSystemAttributeValueTypeDef] = {
            "AWSTraceHeader": {"DataType": "String", "StringValue": trace}
        }
        arguments["MessageSystemAttributes"] = system
    return arguments


def redrive_group(
    sqs: SQSClient,
    ledger: FailureLedger,
    queues: ServiceQueues,
    fingerprint: str,
    *,
    rate: int | None = None,
    dry_run: bool = False,
    on_progress: Progress | None = None,
) -> RedriveReport:
    """Send one failure group back to the source queue, then delete it from the DLQ."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    dlq = _dlq_of(queues)
    report = RedriveReport(queues.service, f"group {fingerprint}", dry_run)
    pace = _Pace(rate)
    # Hold the scan long enough to send every message at the rate, so none reappears mid-way.
    depth = queue_depths(sqs, dlq.url)[0]
    hold = min(MAX_HOLD_SECONDS, HOLD_SECONDS + (2 * depth // rate if rate else 0))
    with held_messages(sqs, dlq.url, hold_seconds=hold) as held:
        records = ledger.lookup([m.message_id for m in held.messages])
        chosen = [
            m
            for m in held.messages
            if (records[m.message_id].fingerprint if m.message_id in records else UNKNOWN)
            == fingerprint
        ]
        report.skipped = len(held.messages) - len(chosen)
        for done, message in enumerate(chosen, start=1):
            if dry_run:
                report.moved += 1
            else:
                pace.wait()
                _move_back(
                    sqs,
                    held=held,
                    message=message,
                    queue_url=queues.queue.url,
                    report=report,
                    client_error=ClientError,
                )
            if on_progress:
                on_progress(done, len(chosen))
    report.status = "DRY-RUN" if dry_run else ("COMPLETED" if not report.failed else "PARTIAL")
    return report


def _move_back(
    sqs: SQSClient,
    *,
    held: HeldMessages,
    message: DlqMessage,
    queue_url: str,
    report: RedriveReport,
    client_error: type[Exception],
) -> None:
    try:
        sqs.send_message(QueueUrl=queue_url, **_resend_arguments(message))
    except client_error as error:
        report.failed += 1
        report.problems.append(f"{message.message_id}: not sent: {error}")
        return
    # Only now, with the copy on the source queue, does the message leave the DLQ.
    try:
        held.delete(message)
    except client_error as error:
        # Sent but still in the DLQ: a duplicate the consumer absorbs, never a loss.
        report.failed += 1
        report.problems.append(f"{message.message_id}: sent but not deleted: {error}")
        return
    report.moved += 1


def redrive_all(
    sqs: SQSClient,
    queues: ServiceQueues,
    *,
    rate: int | None = None,
    dry_run: bool = False,
    poll_seconds: float = 1.0,
    on_progress: Progress | None = None,
) -> RedriveReport:
    """Move the whole DLQ back to the source queue with a message move task; wait for it."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    dlq = _dlq_of(queues)
    report = RedriveReport(queues.service, "all", dry_run)
    waiting = queue_depths(sqs, dlq.url)[0]
    if dry_run or not waiting:
        report.moved = waiting if dry_run else 0
        report.moved_approximate = dry_run  # ApproximateNumberOfMessages
        report.status = "DRY-RUN" if dry_run else "EMPTY"
        return report
    request: dict[str, Any] = {"SourceArn": dlq.arn, "DestinationArn": queues.queue.arn}
    if rate:
        request["MaxNumberOfMessagesPerSecond"] = rate
    try:
        sqs.start_message_move_task(**request)
    except ClientError as error:
        if "already a task running" in str(error):
            raise RedriveInProgressError(
                f"a redrive of {dlq.name} is already running; let it finish "
                "(orderflow dlq ls shows the DLQ draining)"
            ) from error
        raise
    task = wait_for_move_task(sqs, dlq.arn, poll_seconds=poll_seconds, on_progress=on_progress)
    task = settle_moved_count(sqs, dlq.arn, task, pause_seconds=poll_seconds)
    report.status = str(task.get("Status", ""))
    report.moved = _moved(task)
    report.moved_approximate = True
    to_move = int(task.get("ApproximateNumberOfMessagesToMove", report.moved))
    if report.status != "COMPLETED":
        report.failed = max(to_move - report.moved, 0)
        report.problems.append(f"move task {report.status}: {task.get('FailureReason', '')}")
    return report


def _moved(task: dict[str, Any]) -> int:
    return int(task.get("ApproximateNumberOfMessagesMoved", 0))


def _latest_move_task(sqs: SQSClient, dlq_arn: str) -> dict[str, Any]:
    results = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1).get("Results", [])
    return dict(results[0]) if results else {}


def wait_for_move_task(
    sqs: SQSClient,
    dlq_arn: str,
    *,
    poll_seconds: float = 1.0,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Poll the DLQ's latest move task until COMPLETED, FAILED or CANCELLED; return it."""
    while True:
        task = _latest_move_task(sqs, dlq_arn)
        if on_progress and task:
            moved = _moved(task)
            on_progress(moved, int(task.get("ApproximateNumberOfMessagesToMove", moved)))
        if task.get("Status") in MOVE_TASK_DONE:
            return task
        time.sleep(poll_seconds)


def settle_moved_count(
    sqs: SQSClient,
    dlq_arn: str,
    task: dict[str, Any],
    *,
    pause_seconds: float = 1.0,
    reads: int = SETTLE_READS,
) -> dict[str, Any]:
    """The finished ``task`` read again, a pause apart, until its moved count stops changing.

    ApproximateNumberOfMessagesMoved can still grow after the task says COMPLETED. Two equal
    reads in a row count as settled; after ``reads`` reads the last one is returned as it is.
    A newer task on the DLQ ends the reading (its count is not this task's).
    """
    current = task
    for _ in range(reads):
        time.sleep(pause_seconds)
        latest = _latest_move_task(sqs, dlq_arn)
        if latest.get("StartedTimestamp") != task.get("StartedTimestamp"):
            return current
        if _moved(latest) == _moved(current):
            return latest
        current = latest
    return current
