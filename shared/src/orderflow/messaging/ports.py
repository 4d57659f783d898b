"""The port a domain publishes its events through (``EventPublisher``; ``MemoryTopic``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from orderflow.contracts.events import EventEnvelope


class EventSink(Protocol):
    """Where a service's events go: the order-events topic."""

    def publish(self, event: EventEnvelope) -> str:
        """Publish one event; return the message id."""
        ...

    def publish_batch(self, events: Sequence[EventEnvelope]) -> int:
        """Publish every event (all or raise); return how many were published."""
        ...
