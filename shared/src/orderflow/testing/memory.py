"""In-memory stand-ins for shared ports: an idempotency store and a topic.

Same rules as the real ones (an effect runs once per key and its result is kept; an effect that
raises is not remembered, as with Powertools), for unit tests and benchmarks of every service.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from orderflow.contracts.events import EventEnvelope


class MemoryOnceOnly:
    """``OnceOnly`` in a dict: each key's effect runs once, later calls get its result."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}
        self.contexts: list[object] = []

    def run(self, key: str, effect: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if key not in self.results:
            self.results[key] = effect()
        return self.results[key]

    def register_lambda_context(self, context: object) -> None:
        self.contexts.append(context)


class MemoryTopic:
    """``EventPublisher`` in a list: the events published, in order; can fail the next ones."""

    def __init__(self) -> None:
        self.events: list[EventEnvelope] = []
        self.failing = 0

    def publish(self, event: EventEnvelope) -> str:
        if self.failing:
            self.failing -= 1
            raise ConnectionError("SNS unreachable")
        self.events.append(event)
        return f"msg-{len(self.events)}"

    def publish_batch(self, events: Sequence[EventEnvelope]) -> int:
        for event in events:
            self.publish(event)
        return len(events)

    def ids(self, event_type: str) -> set[uuid.UUID]:
        """The event ids published of one type."""
        return {e.event_id for e in self.events if event_type == e.TYPE}
