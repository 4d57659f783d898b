"""``EventPublisher`` in memory: the events published, in order; can fail the next ones.

For unit tests, in-memory runs and the bench of every service. Pure Python: safe in a zip.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from orderflow.contracts.events import EventEnvelope


class MemoryTopic:
    """The topic in a list; ``failing = n`` makes the next ``n`` publishes raise."""

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
