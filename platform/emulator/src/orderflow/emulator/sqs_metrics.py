"""SQS metrics published to CloudWatch, as SQS does every minute (AWS/SQS, dimension QueueName).

Only active queues are published. The SQS developer guide ("Monitoring Amazon SQS queues using
CloudWatch", https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/
monitoring-using-cloudwatch.html): a queue is active for up to six hours if it contains any
messages or if any action accesses it; a queue inactive for more than six hours gets no metrics
at all, not even zeros. Here an action is any SQS call naming the queue (CreateQueue, sends,
receives, deletes, GetQueueAttributes, ...), counted at the next publication. The guide's "delay
of up to 15 minutes" when a queue wakes up is not reproduced: metrics resume at once.

What each metric means follows the SQS developer guide ("Available CloudWatch metrics"):

* ApproximateNumberOfMessagesVisible / NotVisible: messages available / in flight, sampled.
* ApproximateAgeOfOldestMessage: seconds since the oldest message entered this queue, reported
  only while the queue holds a message. A message received three times or more from this queue
  and not deleted (a poison pill) is left out. A message moved to a DLQ counts from the move,
  not from its send.
* NumberOfMessagesSent: messages added by a send (SendMessage, SendMessageBatch, SNS delivery).
  A message moved into a DLQ by the redrive policy or by a message move task is not a send.
* NumberOfMessagesDeleted: successful deletes in the minute, duplicates of a delete included.

Ages are reported in emulated seconds (see ``clock``), so an age threshold written in AWS
seconds keeps its meaning.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from orderflow.emulator.clock import EmulatorClock, current_clock
from orderflow.emulator.extension import Extension, Patch

NAMESPACE = "AWS/SQS"
PERIOD_SECONDS = 60
ACTIVE_FOR_SECONDS = 6 * 3600
"""How long (AWS time) a queue stays active after it last held a message or was accessed."""
POISON_PILL_RECEIVES = 3
METRIC_NAMES = (
    "ApproximateNumberOfMessagesVisible",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateAgeOfOldestMessage",
    "NumberOfMessagesSent",
    "NumberOfMessagesDeleted",
)
_ENTERED_AT = "orderflow_entered_queue_ms"
_RECEIVES_AT_ENTRY = "orderflow_receives_at_entry"

QueueKey = tuple[str, str, str]
"""(account, region, queue name)"""


@dataclass(frozen=True)
class MinuteActivity:
    """What happened to the queues since the previous publication."""

    sent: Counter[QueueKey]
    deleted: Counter[QueueKey]
    accessed: frozenset[QueueKey]


class SqsActivity:
    """Sends, deletes and accesses per queue since the last publication, and when each queue
    was last active (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: Counter[QueueKey] = Counter()
        self._deleted: Counter[QueueKey] = Counter()
        self._accessed: set[QueueKey] = set()
        self._last_active: dict[QueueKey, datetime] = {}

    def sent(self, key: QueueKey, count: int = 1) -> None:
        with self._lock:
            self._sent[key] += count

    def deleted(self, key: QueueKey, count: int = 1) -> None:
        with self._lock:
            self._deleted[key] += count

    def accessed(self, key: QueueKey) -> None:
        """An SQS action named the queue: it is active at the next publication."""
        with self._lock:
            self._accessed.add(key)

    def drain(self) -> MinuteActivity:
        """The activity so far, reset (one publication's worth)."""
        with self._lock:
            minute = MinuteActivity(self._sent, self._deleted, frozenset(self._accessed))
            self._sent, self._deleted, self._accessed = Counter(), Counter(), set()
        return minute

    def reset(self) -> None:
        """Forget everything (a fresh emulator)."""
        with self._lock:
            self._sent, self._deleted, self._accessed = Counter(), Counter(), set()
            self._last_active.clear()

    def is_active(self, key: QueueKey, at: datetime, *, busy: bool, active_for: timedelta) -> bool:
        """Whether the queue is active at ``at``; ``busy`` if it holds messages or was accessed.

        A queue seen for the first time was just created (CreateQueue accesses it).
        """
        with self._lock:
            if busy or key not in self._last_active:
                self._last_active[key] = at
            return at - self._last_active[key] <= active_for


ACTIVITY = SqsActivity()


def queue_gauges(queue: Any, now_ms: float, clock: EmulatorClock) -> dict[str, float]:
    """The sampled metrics of one moto queue at ``now_ms``."""
    visible = not_visible = 0
    oldest_entry: float | None = None
    for message in list(queue._messages):
        if message.delayed:
            continue
        if message.visible:
            visible += 1
        else:
            not_visible += 1
        receives_here = message.approximate_receive_count - getattr(message, _RECEIVES_AT_ENTRY, 0)
        if receives_here >= POISON_PILL_RECEIVES:
            continue
        entered = getattr(message, _ENTERED_AT, None) or message.sent_timestamp
        oldest_entry = entered if oldest_entry is None else min(oldest_entry, entered)
    gauges = {
        "ApproximateNumberOfMessagesVisible": float(visible),
        "ApproximateNumberOfMessagesNotVisible": float(not_visible),
    }
    if oldest_entry is not None:
        real_age = max(0.0, (now_ms - oldest_entry) / 1000)
        gauges["ApproximateAgeOfOldestMessage"] = float(int(clock.emulated(real_age)))
    return gauges


def publish_sqs_metrics(timestamp: datetime | None = None, activity: SqsActivity = ACTIVITY) -> int:
    """Put one datapoint per metric and active queue into CloudWatch; return how many queues."""
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    at = (timestamp or datetime.now(UTC)).astimezone(UTC)
    now_ms = at.timestamp() * 1000
    naive = at.replace(tzinfo=None)  # moto keeps metric timestamps naive UTC
    clock = current_clock()
    active_for = timedelta(seconds=clock.real(ACTIVE_FOR_SECONDS))
    minute = activity.drain()
    published = 0
    for account_id, regions in list(sqs_backends.items()):
        for region, backend in list(regions.items()):
            for name, queue in list(backend.queues.items()):
                key = (account_id, region, name)
                busy = bool(list(queue._messages)) or key in minute.accessed
                if not activity.is_active(key, at, busy=busy, active_for=active_for):
                    continue  # asleep: SQS sends CloudWatch nothing for this queue
                values = queue_gauges(queue, now_ms, clock)
                values["NumberOfMessagesSent"] = float(minute.sent[key])
                values["NumberOfMessagesDeleted"] = float(minute.deleted[key])
                cloudwatch_backends[account_id][region].put_metric_data(
                    NAMESPACE,
                    [
                        {
                            "MetricName": metric,
                            "Value": value,
                            "Unit": "Seconds" if metric.startswith("ApproximateAge") else "Count",
                            "Timestamp": naive,
                            "Dimensions": [{"Name": "QueueName", "Value": name}],
                        }
                        for metric, value in values.items()
                    ],
                )
                published += 1
    return published


def _patches() -> list[Patch]:
    from moto.core.utils import unix_time_millis  # noqa: PLC0415
    from moto.sqs.models import Queue, SQSBackend  # noqa: PLC0415

    moto_send: Callable[..., Any] = SQSBackend.send_message
    moto_delete: Callable[..., Any] = SQSBackend.delete_message
    moto_add: Callable[..., Any] = Queue.add_message
    moto_get: Callable[..., Any] = SQSBackend.get_queue
    moto_create: Callable[..., Any] = SQSBackend.create_queue

    def get_queue(self: SQSBackend, queue_name: str) -> Any:
        # Every action on a named queue looks it up here: each one keeps the queue active.
        queue = moto_get(self, queue_name)
        ACTIVITY.accessed((self.account_id, self.region_name, queue_name))
        return queue

    def create_queue(self: SQSBackend, name: str, *args: Any, **kwargs: Any) -> Any:
        queue = moto_create(self, name, *args, **kwargs)
        ACTIVITY.accessed((self.account_id, self.region_name, name))
        return queue

    def send_message(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        message = moto_send(self, queue_name, *args, **kwargs)
        ACTIVITY.sent((self.account_id, self.region_name, queue_name))
        return message

    def delete_message(self: SQSBackend, queue_name: str, receipt_handle: str) -> None:
        moto_delete(self, queue_name, receipt_handle)
        ACTIVITY.deleted((self.account_id, self.region_name, queue_name))

    def add_message(self: Queue, message: Any) -> None:
        # Every way into a queue passes here (send, DLQ move, move task): the age starts now.
        setattr(message, _ENTERED_AT, unix_time_millis())
        setattr(message, _RECEIVES_AT_ENTRY, message.approximate_receive_count)
        moto_add(self, message)

    return [
        Patch(SQSBackend, "send_message", send_message),
        Patch(SQSBackend, "delete_message", delete_message),
        Patch(Queue, "add_message", add_message),
        Patch(SQSBackend, "get_queue", get_queue),
        Patch(SQSBackend, "create_queue", create_queue),
    ]


_EXTENSION = Extension("sqs-metrics", _patches)


def install() -> None:
    """Count sends, deletes and accesses and stamp queue entry times (publication is separate)."""
    if not _EXTENSION.installed:
        ACTIVITY.reset()
    _EXTENSION.install()


def uninstall() -> None:
    """Stop counting, and forget what was counted."""
    _EXTENSION.uninstall()
    ACTIVITY.reset()
