"""SQS message move tasks (DLQ redrive) for moto, which does not implement them.

Adds ``StartMessageMoveTask``, ``ListMessageMoveTasks`` and ``CancelMessageMoveTask`` to moto's
SQS, in-process (``mock_aws``) and in server mode alike, as a removable extension of moto's SQS
response class and backend: :func:`install` adds them, :func:`uninstall` takes them away again
(and stops the tasks still running).

Behaviour follows the SQS API reference
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html,
``API_ListMessageMoveTasks.html`` and ``API_CancelMessageMoveTask.html`` beside it):

- the source must be a dead-letter queue, i.e. some queue's ``RedrivePolicy`` names it;
- only one active (``RUNNING``) task per source queue;
- without ``DestinationArn`` each message goes back to the queue it was dead-lettered from;
- ``MaxNumberOfMessagesPerSecond`` (1..500) caps the rate; without it the task runs as fast
  as the emulator allows, up to the same 500 a second;
- statuses ``RUNNING``, ``COMPLETED``, ``CANCELLING``, ``CANCELLED``, ``FAILED``;
  ``ApproximateNumberOfMessagesToMove`` is counted when the task starts;
- a moved message is a new message (new ``MessageId``, receive count reset) with the same
  body and attributes, and it is deleted from the DLQ only after it is in the destination;
- only a ``RUNNING`` task can be cancelled;
- the task handle decodes (base64 JSON) to the task id and the source ARN, as AWS's does.

Messages move on a background thread, one per task; :func:`stop_all_tasks` stops them (the
local runtime calls it on shutdown).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import contextvars
import copy
import json
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from orderflow.emulator.extension import Extension, Patch

RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
CANCELLING = "CANCELLING"
CANCELLED = "CANCELLED"
FAILED = "FAILED"
ACTIVE = frozenset({RUNNING, CANCELLING})

MAX_RATE = 500
HISTORY = 10
"""ListMessageMoveTasks returns at most the 10 most recent tasks of a source."""
CLAIM_SECONDS = 30
"""How long a message being moved stays invisible in the DLQ (like a receive would)."""
IDLE_POLL_SECONDS = 0.05
NON_EXISTENT_QUEUE = "AWS.SimpleQueueService.NonExistentQueue"

_STORE_ATTRIBUTE = "orderflow_message_move_tasks"
_origins: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
"""Message -> ARN of the queue it was dead-lettered from (moto does not keep this)."""
_live_tasks: weakref.WeakSet[MessageMoveTask] = weakref.WeakSet()


class MoveTaskRequestError(Exception):
    """A request the SQS API rejects; carries the AWS error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _MoveFailedError(Exception):
    """The running task cannot continue; the argument is its FailureReason."""


@dataclass(eq=False)
class MessageMoveTask:
    """One move task and its progress, as ListMessageMoveTasks reports it."""

    source_arn: str
    destination_arn: str | None
    rate: int | None
    to_move: int
    task_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    moved: int = 0
    status: str = RUNNING
    failure_reason: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    @property
    def handle(self) -> str:
        """The TaskHandle: base64 of the task id and the source ARN."""
        document = json.dumps({"taskId": self.task_id, "sourceArn": self.source_arn})
        return base64.b64encode(document.encode()).decode()

    def entry(self) -> dict[str, Any]:
        """This task as a ListMessageMoveTasksResultEntry."""
        entry: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started_ms,
        }
        if self.status == RUNNING:
            entry["TaskHandle"] = self.handle
        if self.destination_arn is not None:
            entry["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            entry["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.status == FAILED and self.failure_reason:
            entry["FailureReason"] = self.failure_reason
        return entry


@dataclass
class _TaskStore:
    """The move tasks of one moto SQS backend (wiped with it when moto resets)."""

    by_source: dict[str, list[MessageMoveTask]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def recent(self, source_arn: str) -> list[MessageMoveTask]:
        return self.by_source.get(source_arn, [])


def _patches() -> list[Patch]:
    from moto.sqs.models import Queue, SQSBackend  # noqa: PLC0415  (moto only where emulating)
    from moto.sqs.responses import SQSResponse  # noqa: PLC0415

    return [
        # moto dispatches an action to the response method of the same (snake_case) name.
        Patch(SQSResponse, "start_message_move_task", _start_message_move_task),
        Patch(SQSResponse, "list_message_move_tasks", _list_message_move_tasks),
        Patch(SQSResponse, "cancel_message_move_task", _cancel_message_move_task),
        Patch(SQSBackend, "receive_message", _remembering_origins(SQSBackend.receive_message)),
        Patch(Queue, "add_message", _noting_origin(Queue.add_message)),
    ]


_EXTENSION = Extension("sqs-move-tasks", _patches)


def install() -> None:
    """Add the three move-task actions to moto's SQS (idempotent)."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's SQS without move tasks; tasks still running are stopped first."""
    stop_all_tasks()
    _EXTENSION.uninstall()


def stop_all_tasks(timeout: float = 5.0) -> None:
    """Stop every running move task's thread (messages already moved stay moved)."""
    tasks = list(_live_tasks)
    for task in tasks:
        task.stop.set()
    deadline = time.monotonic() + timeout
    for task in tasks:
        if task.thread is not None:
            task.thread.join(max(0.0, deadline - time.monotonic()))


# --- the API actions -------------------------------------------------------------------------


def start_message_move_task(
    source_arn: str, destination_arn: str | None = None, rate: int | None = None
) -> MessageMoveTask:
    """Validate and start a move task on the moto backend that owns ``source_arn``."""
    if rate is not None and not 1 <= int(rate) <= MAX_RATE:
        raise MoveTaskRequestError(
            "InvalidParameterValue",
            "Value for parameter MaxNumberOfMessagesPerSecond is invalid. "
            f"Reason: You must enter a number that's between 1 and {MAX_RATE}.",
        )
    backend, source = _queue_by_arn(source_arn, "SourceArn")
    if not backend.list_dead_letter_source_queues(source.name):
        raise MoveTaskRequestError(
            "InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue."
        )
    if destination_arn is not None:
        _queue_by_arn(destination_arn, "DestinationArn")
    store = _store(backend)
    with store.lock:
        if any(t.status in ACTIVE for t in store.recent(source_arn)):
            raise MoveTaskRequestError(
                "InvalidParameterValue",
                "There is already a task running. Only one active task is allowed for a source "
                "queue arn at a given time.",
            )
        pending = [m for m in list(source._messages) if m.visible and not m.delayed]
        task = MessageMoveTask(
            source_arn=source_arn,
            destination_arn=destination_arn,
            rate=int(rate) if rate is not None else None,
            to_move=len(pending),
        )
        store.by_source[source_arn] = [task, *store.recent(source_arn)][:HISTORY]
    task.thread = threading.Thread(
        target=_run,
        args=(task, backend, source, pending),
        name=f"sqs-move-task-{task.task_id[:8]}",
        daemon=True,
    )
    _live_tasks.add(task)
    task.thread.start()
    return task


def list_message_move_tasks(
    source_arn: str, max_results: int | None = None
) -> list[MessageMoveTask]:
    """The most recent tasks of a source queue, newest first (default 1, at most 10)."""
    limit = 1 if max_results is None else int(max_results)
    if not 1 <= limit <= HISTORY:
        raise MoveTaskRequestError(
            "InvalidParameterValue",
            f"Value for parameter MaxResults is invalid. Reason: must be between 1 and {HISTORY}.",
        )
    backend, _ = _queue_by_arn(source_arn, "SourceArn")
    return _store(backend).recent(source_arn)[:limit]


def cancel_message_move_task(task_handle: str) -> MessageMoveTask:
    """Ask a RUNNING task to stop; it goes CANCELLING, then CANCELLED once its thread stops."""
    task_id, source_arn = _decode_handle(task_handle)
    backend, _ = _queue_by_arn(source_arn, "SourceArn")
    store = _store(backend)
    with store.lock:
        task = next((t for t in store.recent(source_arn) if t.task_id == task_id), None)
        # AWS documents that only a RUNNING task can be cancelled; any other is not found.
        if task is None or task.status != RUNNING:
            raise MoveTaskRequestError("ResourceNotFoundException", "Task does not exist.")
        task.status = CANCELLING
        task.stop.set()
    return task


# --- moto glue --------------------------------------------------------------------------------


def _sqs_error(error: MoveTaskRequestError) -> Exception:
    from moto.sqs.exceptions import SQSException  # noqa: PLC0415

    return SQSException(error.code, error.message)


@contextlib.contextmanager
def _as_sqs_errors() -> Iterator[None]:
    try:
        yield
    except MoveTaskRequestError as error:
        raise _sqs_error(error) from None


def _start_message_move_task(self: Any) -> Any:
    from moto.core.responses import ActionResult  # noqa: PLC0415

    with _as_sqs_errors():
        task = start_message_move_task(
            self._get_param("SourceArn"),
            self._get_param("DestinationArn"),
            self._get_param("MaxNumberOfMessagesPerSecond"),
        )
    return ActionResult({"TaskHandle": task.handle})


def _list_message_move_tasks(self: Any) -> Any:
    from moto.core.responses import ActionResult  # noqa: PLC0415

    with _as_sqs_errors():
        tasks = list_message_move_tasks(self._get_param("SourceArn"), self._get_param("MaxResults"))
    return ActionResult({"Results": [t.entry() for t in tasks]})


def _cancel_message_move_task(self: Any) -> Any:
    from moto.core.responses import ActionResult  # noqa: PLC0415

    with _as_sqs_errors():
        task = cancel_message_move_task(self._get_param("TaskHandle") or "")
    return ActionResult({"ApproximateNumberOfMessagesMoved": task.moved})


_RECEIVING: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "orderflow_sqs_receiving_from", default=None
)
"""The queue a receive on this thread is reading, while moto's receive_message runs."""


def _remembering_origins(receive: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap SQSBackend.receive_message to note which queue dead-lettered each message.

    moto moves a message past ``maxReceiveCount`` to the DLQ inside receive_message and keeps
    no trace of where it came from; AWS does, and a redrive without DestinationArn uses it.
    The receive names its queue; ``_noting_origin`` sees the move (an add to that queue's DLQ
    during the receive), so nothing is scanned.
    """

    def receive_message(backend: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        token = _RECEIVING.set(backend.queues.get(queue_name))
        try:
            return receive(backend, queue_name, *args, **kwargs)
        finally:
            _RECEIVING.reset(token)

    receive_message.__wrapped__ = receive  # type: ignore[attr-defined]
    return receive_message


def _noting_origin(add: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap Queue.add_message: a message added to the DLQ of the queue being received from was
    dead-lettered from that queue."""

    def add_message(queue: Any, message: Any) -> Any:
        source = _RECEIVING.get()
        if source is not None and source is not queue and source.dead_letter_queue is queue:
            _origins[message] = source.queue_arn
        return add(queue, message)

    add_message.__wrapped__ = add  # type: ignore[attr-defined]
    return add_message


def _store(backend: Any) -> _TaskStore:
    # Kept in the backend's own __dict__, which moto empties on reset.
    store: _TaskStore = vars(backend).setdefault(_STORE_ATTRIBUTE, _TaskStore())
    return store


def _backend_for(account: str, region: str) -> Any:
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    return sqs_backends[account][region]


def _queue_by_arn(arn: str, parameter: str) -> tuple[Any, Any]:
    """(backend, queue) for an SQS queue ARN, or ResourceNotFoundException naming the parameter."""
    parts = str(arn or "").split(":")
    missing = MoveTaskRequestError(
        "ResourceNotFoundException",
        f"The resource that you specified for the {parameter} parameter doesn't exist.",
    )
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
        raise missing
    backend = _backend_for(parts[4], parts[3])
    queue = backend.queues.get(parts[5])
    if queue is None or queue.queue_arn != arn:
        raise missing
    return backend, queue


def _decode_handle(task_handle: str) -> tuple[str, str]:
    try:
        document = json.loads(base64.b64decode(task_handle, validate=True))
        return str(document["taskId"]), str(document["sourceArn"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise MoveTaskRequestError(
            "InvalidParameterValue", "Value for parameter TaskHandle is invalid."
        ) from None


# --- the mover ----------------------------------------------------------------------------------


def _run(task: MessageMoveTask, backend: Any, source: Any, pending: list[Any]) -> None:
    interval = 1.0 / (task.rate or MAX_RATE)
    remaining = {id(m): m for m in pending}
    next_move_at = time.monotonic()
    try:
        while True:
            if task.stop.is_set():
                task.status = CANCELLED
                return
            if backend.queues.get(source.name) is not source:
                raise _MoveFailedError(NON_EXISTENT_QUEUE)
            present = {id(m) for m in source._messages}
            remaining = {k: m for k, m in remaining.items() if k in present}
            if not remaining:
                task.status = COMPLETED
                return
            message = next((m for m in remaining.values() if m.visible and not m.delayed), None)
            wait = max(next_move_at - time.monotonic(), 0.0 if message else IDLE_POLL_SECONDS)
            if message is None or wait > 0:
                task.stop.wait(wait)
                continue
            if _move_one(task, backend, source, message):
                del remaining[id(message)]
                task.moved += 1
                next_move_at = time.monotonic() + interval
    except _MoveFailedError as failure:
        task.status = FAILED
        task.failure_reason = str(failure)
    except Exception as error:  # noqa: BLE001  (a dying thread must still leave a FAILED task)
        task.status = FAILED
        task.failure_reason = f"{type(error).__name__}: {error}"


def _move_one(task: MessageMoveTask, backend: Any, source: Any, message: Any) -> bool:
    """Send one message to its destination, then delete it from the DLQ; False if it went away."""
    destination_backend, destination = _destination(task, backend, source, message)
    with source._messages_lock:
        if message not in source._messages or not message.visible:
            return False
        message.change_visibility(CLAIM_SECONDS)
    try:
        destination_backend.send_message(
            destination.name,
            message.body,
            message_attributes=copy.deepcopy(message.message_attributes),
            system_attributes=copy.deepcopy(message.system_attributes),
        )
    except Exception:
        message.change_visibility(0)
        raise
    # Only now, with the copy in the destination, does the original leave the DLQ.
    with source._messages_lock:
        if message in source._messages:
            source._messages.remove(message)
        source.pending_messages.discard(message)
    return True


def _destination(task: MessageMoveTask, backend: Any, source: Any, message: Any) -> tuple[Any, Any]:
    arn = task.destination_arn or _origins.get(message)
    if arn is None:
        # A message sent straight to the DLQ has no origin; with a single source queue the
        # original source is unambiguous.
        sources = backend.list_dead_letter_source_queues(source.name)
        if len(sources) != 1:
            raise _MoveFailedError(f"message {message.id} has no original source queue")
        arn = sources[0].queue_arn
    try:
        return _queue_by_arn(arn, "DestinationArn")
    except MoveTaskRequestError:
        raise _MoveFailedError(NON_EXISTENT_QUEUE) from None
