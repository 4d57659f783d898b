"""Publishing contracts to the order-events topic."""

from __future__ import annotations

from orderflow.messaging.memory import MemoryTopic
from orderflow.messaging.ports import EventSink
from orderflow.messaging.publisher import EventPublisher, PublishError

__all__ = ["EventPublisher", "EventSink", "MemoryTopic", "PublishError"]
