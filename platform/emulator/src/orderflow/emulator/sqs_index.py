"""SQS calls whose cost does not grow with the messages a queue holds.

moto keeps a queue's messages in one list and rescans it on every call: ``Queue.attributes``
recounts every message (read on every send and on every message a receive returns, through the
retention check), ``Queue.messages`` filters the whole list on every receive, DeleteMessage and
ChangeMessageVisibility look for the receipt handle message by message and a delete rebuilds
the list, and a FIFO send compares its deduplication id with every stored message.

This extension gives each queue a ``MessageStore`` in place of that list (``Queue._messages``
still reads and writes like one, so moto's own code and the other extensions keep working):

* messages in send order, removable in O(1);
* the messages available to a receive (visible and not delayed), in send order, and two lazy
  heaps of the times at which in-flight messages become visible again and delayed messages
  become available; the three approximate counts are kept as messages change state;
* every receipt handle a stored message ever had -> that message (moto accepts old handles);
* FIFO messages by deduplication id.

Per message, moto also draws each of a receipt handle's 185 letters with its own
``random.choice`` call, reads the time through two datetimes, and deep-copies each message it
returns through the generic reduce-and-rebuild; here a handle of the same kind comes from one
``randbytes`` call of moto's seedable random, the time from ``time.time``, and the copy shares
the message's immutable values and deep-copies the rest. None of it grew with the queue, but it
was close to half of what moto's receive itself cost.

Messages are no longer kept in moto's list of every model instance (its ``/moto-api/data.json``
listing): moto keeps every message ever sent there, and a copy for each receive.

A message's ``visible_at``, ``delayed_until`` and ``receipt_handle`` become properties that tell
the store of the queue holding the message whenever they change, so whatever changes them
(moto, the ``clock`` extension, a message move task) keeps the index right, in any install
order. moto's own receive loop still decides what a receive returns (FIFO group order, the
redrive to a dead-letter queue after ``maxReceiveCount``, long polling, retention): it only
walks the available messages now instead of the whole list.

What each behaviour is follows the SQS Developer Guide ("Amazon SQS visibility timeout",
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html;
"Amazon SQS delay queues", .../sqs-delay-queues.html; "Exactly-once processing in Amazon SQS",
.../FIFO-queues-exactly-once-processing.html), as moto implements it.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import heapq
import itertools
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sortedcontainers import SortedDict  # type: ignore[import-untyped]

from orderflow.emulator.extension import Extension, Patch

_STORE = "orderflow_message_store"
_TRACKED = ("visible_at", "delayed_until", "receipt_handle")
_OWNERS: weakref.WeakKeyDictionary[Any, MessageStore] = weakref.WeakKeyDictionary()
"""Message -> the store of the queue that holds it (a message moves to a DLQ with its store)."""
_DEDUPLICATION_PROBE: contextvars.ContextVar[tuple[MessageStore, Any] | None] = (
    contextvars.ContextVar("orderflow_sqs_deduplication_probe", default=None)
)


def _now_ms() -> float:
    """Milliseconds since the epoch, as moto's ``unix_time_millis`` reads them.

    moto builds two datetimes per read; ``time.time`` is the same clock (and is what freezegun
    fakes along with ``datetime``), looked up on each call so a frozen clock is honoured.
    """
    return time.time() * 1000.0


_HANDLE_LENGTH = 185
_HANDLE_LETTERS = bytes(ord("a") + byte % 26 for byte in range(256))


def _receipt_handle() -> str:
    """A new receipt handle: 185 lowercase letters from moto's (seedable) random, as moto's.

    moto draws each letter with its own ``random.choice`` call, the largest single cost of
    receiving a message; one ``randbytes`` call mapped onto the letters gives the same kind of
    handle.
    """
    from moto.moto_api._internal import mock_random  # noqa: PLC0415

    return mock_random.randbytes(_HANDLE_LENGTH).translate(_HANDLE_LETTERS).decode("ascii")


class MessageStore:
    """One queue's messages, in send order, indexed by state, handle and deduplication id.

    Reads and writes like the list moto keeps (iterate, ``len``, ``in``, ``append``,
    ``remove``), so code written against moto's list keeps working.
    """

    def __init__(self, messages: Iterable[Any] = ()) -> None:
        self._lock = threading.RLock()
        self._sequence = itertools.count()
        self._tick = itertools.count()
        self._members: dict[Any, int] = {}
        self._available: SortedDict = SortedDict()
        self._invisible: dict[Any, float] = {}
        self._delayed: dict[Any, float] = {}
        self._visibility_heap: list[tuple[float, int, Any]] = []
        self._delay_heap: list[tuple[float, int, Any]] = []
        self._handles: dict[str, Any] = {}
        self._by_deduplication_id: dict[str, dict[Any, None]] = {}
        for message in messages:
            self.append(message)

    # --- the list moto keeps ------------------------------------------------------------------

    def __iter__(self) -> Iterator[Any]:
        probe = _DEDUPLICATION_PROBE.get()
        if probe is not None and probe[0] is self:
            # moto's FIFO send compares the new message with every stored one: only those with
            # its deduplication id can match, so only they are shown to that one loop.
            _DEDUPLICATION_PROBE.set(None)
            with self._lock:
                return iter(list(self._by_deduplication_id.get(probe[1], ())))
        with self._lock:
            return iter(list(self._members))

    def __reversed__(self) -> Iterator[Any]:
        with self._lock:
            return iter(list(reversed(self._members)))

    def __len__(self) -> int:
        return len(self._members)

    def __bool__(self) -> bool:
        return bool(self._members)

    def __contains__(self, message: object) -> bool:
        return message in self._members

    def __getitem__(self, index: int) -> Any:
        with self._lock:
            return list(self._members)[index]

    def append(self, message: Any) -> None:
        with self._lock:
            if message in self._members:
                return
            self._members[message] = next(self._sequence)
            _OWNERS[message] = self
            for handle in message.all_receipt_handles:
                if handle is not None:
                    self._handles[handle] = message
            if message.deduplication_id is not None:
                bucket = self._by_deduplication_id.setdefault(message.deduplication_id, {})
                bucket[message] = None
            self._schedule(message, _now_ms())

    def remove(self, message: Any) -> None:
        """Take ``message`` out (``ValueError`` if it is not here, as for a list)."""
        with self._lock:
            sequence = self._members.pop(message, None)
            if sequence is None:
                raise ValueError("message not in queue")
            if _OWNERS.get(message) is self:
                del _OWNERS[message]
            self._available.pop(sequence, None)
            self._invisible.pop(message, None)
            self._delayed.pop(message, None)
            for handle in message.all_receipt_handles:
                if self._handles.get(handle) is message:
                    del self._handles[handle]
            bucket = self._by_deduplication_id.get(message.deduplication_id)
            if bucket is not None:
                bucket.pop(message, None)
                if not bucket:
                    del self._by_deduplication_id[message.deduplication_id]

    def replace(self, messages: Iterable[Any]) -> None:
        """Hold exactly ``messages`` (moto assigns a new list, e.g. on PurgeQueue)."""
        incoming = list(messages)
        with self._lock:
            keep = set(incoming)
            for message in list(self._members):
                if message not in keep:
                    self.remove(message)
            for message in incoming:
                self.append(message)

    # --- the index ----------------------------------------------------------------------------

    def changed(self, message: Any, attribute: str, value: Any) -> None:
        """A stored message's visibility, delay or receipt handle changed."""
        with self._lock:
            if message not in self._members:
                return
            if attribute == "receipt_handle":
                if value is not None:
                    self._handles[value] = message
                return
            self._schedule(message, _now_ms())

    def _schedule(self, message: Any, now: float) -> None:
        """File ``message`` as available, in flight and/or delayed, as of ``now``."""
        sequence = self._members[message]
        visible_at = float(message.visible_at)
        delayed_until = float(message.delayed_until)
        # moto: visible once now > visible_at; no longer delayed once now >= delayed_until.
        in_flight = not now > visible_at
        delayed = now < delayed_until
        if in_flight:
            if self._invisible.get(message) != visible_at:
                self._invisible[message] = visible_at
                heapq.heappush(self._visibility_heap, (visible_at, next(self._tick), message))
        else:
            self._invisible.pop(message, None)
        if delayed:
            if self._delayed.get(message) != delayed_until:
                self._delayed[message] = delayed_until
                heapq.heappush(self._delay_heap, (delayed_until, next(self._tick), message))
        else:
            self._delayed.pop(message, None)
        if in_flight or delayed:
            self._available.pop(sequence, None)
        else:
            self._available[sequence] = message

    def refresh(self) -> None:
        """Move the messages whose visibility timeout or delay has ended to the available ones."""
        now = _now_ms()
        with self._lock:
            heap = self._visibility_heap
            while heap and heap[0][0] < now:
                at, _, message = heapq.heappop(heap)
                if self._invisible.get(message) == at:
                    self._schedule(message, now)
            heap = self._delay_heap
            while heap and heap[0][0] <= now:
                at, _, message = heapq.heappop(heap)
                if self._delayed.get(message) == at:
                    self._schedule(message, now)

    def available(self) -> Iterator[Any]:
        """The messages a receive may return now, in send order; safe while they change."""
        self.refresh()
        after = -1
        while True:
            with self._lock:
                position = self._available.bisect_right(after)
                if position >= len(self._available):
                    return
                after, message = self._available.peekitem(position)
            yield message

    def count_available(self) -> int:
        self.refresh()
        return len(self._available)

    def count_in_flight(self) -> int:
        self.refresh()
        return len(self._invisible)

    def count_delayed(self) -> int:
        self.refresh()
        return len(self._delayed)

    def by_receipt_handle(self, handle: str) -> Any | None:
        """The stored message that has or had ``handle``, if any."""
        return self._handles.get(handle)


class AvailableMessages:
    """What ``Queue.messages`` returns: the available messages, walked lazily in send order."""

    def __init__(self, store: MessageStore) -> None:
        self._store = store

    def __iter__(self) -> Iterator[Any]:
        return self._store.available()

    def __len__(self) -> int:
        return self._store.count_available()

    def __bool__(self) -> bool:
        return self._store.count_available() > 0


def store_of(queue: Any) -> MessageStore:
    """The queue's store, made from whatever list it held before the extension was installed."""
    store: MessageStore | None = vars(queue).get(_STORE)
    if store is None:
        store = MessageStore(vars(queue).get("_messages", ()))
        vars(queue)[_STORE] = store
    return store


def _set_messages(queue: Any, messages: Iterable[Any]) -> None:
    if isinstance(messages, MessageStore):
        if vars(queue).get(_STORE) is not messages:
            vars(queue)[_STORE] = MessageStore(list(messages))
        return
    store_of(queue).replace(messages)


def _tracked_attribute(name: str) -> property:
    """A Message attribute kept in the instance as before, that tells its store of changes."""

    def get(message: Any) -> Any:
        try:
            return vars(message)[name]
        except KeyError:
            raise AttributeError(name) from None

    def set_(message: Any, value: Any) -> None:
        vars(message)[name] = value
        store = _OWNERS.get(message)
        if store is not None:
            store.changed(message, name, value)

    return property(get, set_)


def _untracked_message(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


_IMMUTABLE = (str, int, float, bool, bytes, type(None))


def _copy_message(message: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy`` of a message (moto copies each message it returns), without the
    generic reduce-and-rebuild: immutable values are shared, the others deep-copied."""
    copied = object.__new__(type(message))
    memo[id(message)] = copied
    state = vars(copied)
    for name, value in vars(message).items():
        state[name] = value if type(value) in _IMMUTABLE else copy.deepcopy(value, memo)
    return copied


def _content_based(queue: Any) -> bool:
    return str(getattr(queue, "content_based_deduplication", False)).lower() == "true"


def _patches() -> list[Patch]:
    from moto.sqs import models as sqs_models  # noqa: PLC0415
    from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid  # noqa: PLC0415
    from moto.sqs.models import Message, Queue, SQSBackend  # noqa: PLC0415

    moto_add: Callable[..., Any] = Queue.add_message

    def add_message(queue: Queue, message: Message) -> None:
        if not (queue.fifo_queue and (_content_based(queue) or message.deduplication_id)):
            moto_add(queue, message)
            return
        token = _DEDUPLICATION_PROBE.set((store_of(queue), message.deduplication_id))
        try:
            moto_add(queue, message)
        finally:
            _DEDUPLICATION_PROBE.reset(token)

    def delete_message(queue: Queue, receipt_handle: str) -> None:
        if receipt_handle in queue.deleted_messages:
            return  # already deleted: SQS accepts a repeated delete
        store = store_of(queue)
        message = store.by_receipt_handle(receipt_handle)
        if message is None:
            raise ReceiptHandleIsInvalid()
        queue.pending_messages.discard(message)
        queue.deleted_messages.update(message.all_receipt_handles)
        store.remove(message)

    def change_message_visibility(
        backend: SQSBackend, queue_name: str, receipt_handle: str, visibility_timeout: int
    ) -> None:
        queue = backend.get_queue(queue_name)
        message = store_of(queue).by_receipt_handle(receipt_handle)
        if message is None:
            raise ReceiptHandleIsInvalid
        given = _now_ms() + int(visibility_timeout) * 1000
        if given - message.sent_timestamp > 43200 * 1000:
            raise InvalidParameterValue(
                f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: "
                "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]"
            )
        message.change_visibility(visibility_timeout)
        if message.visible and message in queue.pending_messages:
            queue.pending_messages.remove(message)

    def retained(backend: SQSBackend, queue_name: str, message: Message) -> bool:
        # moto reads the period through GetQueueAttributes, which recounts every message.
        queue: Any = backend.get_queue(queue_name)
        retention = int(queue.message_retention_period)
        return bool(retention + int(message.sent_timestamp or 0) / 1000 > _now_ms() / 1000)

    def messages(queue: Queue) -> AvailableMessages:
        return AvailableMessages(store_of(queue))

    return [
        # Queue.attributes converts each of its attribute names on every call (every send).
        Patch(
            sqs_models,
            "camelcase_to_underscores",
            functools.lru_cache(maxsize=256)(sqs_models.camelcase_to_underscores),  # type: ignore[attr-defined]
        ),
        Patch(Queue, "_messages", property(store_of, _set_messages)),
        Patch(Queue, "messages", property(messages)),
        Patch(Queue, "approximate_number_of_messages", property(lambda q: len(messages(q)))),
        Patch(
            Queue,
            "approximate_number_of_messages_not_visible",
            property(lambda q: store_of(q).count_in_flight()),
        ),
        Patch(
            Queue,
            "approximate_number_of_messages_delayed",
            property(lambda q: store_of(q).count_delayed()),
        ),
        Patch(Queue, "add_message", add_message),
        Patch(Queue, "delete_message", delete_message),
        Patch(SQSBackend, "change_message_visibility", change_message_visibility),
        Patch(SQSBackend, "is_message_valid_based_on_retention_period", retained),
        *(Patch(Message, name, _tracked_attribute(name)) for name in _TRACKED),
        # moto's models remember every instance for its model-data endpoint; for messages that
        # is every message ever sent and a copy per receive, kept for the life of the process.
        Patch(Message, "__new__", staticmethod(_untracked_message)),
        Patch(Message, "__deepcopy__", _copy_message),
        Patch(sqs_models, "generate_receipt_handle", _receipt_handle),
        Patch(sqs_models, "unix_time_millis", _now_ms),
    ]


_EXTENSION = Extension("sqs-index", _patches)


def install() -> None:
    """Index every queue's messages (queues that already hold messages are indexed on use)."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's list; queues keep the messages they hold, in send order."""
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    _EXTENSION.uninstall()
    for regions in list(sqs_backends.values()):
        for backend in list(regions.values()):
            for queue in list(backend.queues.values()):
                store = vars(queue).pop(_STORE, None)
                if store is not None:
                    vars(queue)["_messages"] = list(store)
