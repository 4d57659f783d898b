"""The batch shell every consumer shares: parse, trace, run the domain, report partial failures."""

from __future__ import annotations

from orderflow.consumer.batch import EventHandler, SqsConsumer, UnexpectedEventError

__all__ = ["EventHandler", "SqsConsumer", "UnexpectedEventError"]
