"""The batch shell every consumer shares: parse, trace, run the domain, report partial failures."""

from __future__ import annotations

from orderflow.consumer.batch import (
    EventHandler,
    RecordNotStartedError,
    SqsConsumer,
)
from orderflow.consumer.budget import (
    CLIENT_TIMEOUTS,
    NON_IDEMPOTENT_TIMEOUTS,
    RECORD_BUDGET,
    ClientTimeouts,
    RecordBudget,
    effect_window_ms,
)
from orderflow.consumer.entry import LambdaEntry, Service
from orderflow.contracts.errors import UnexpectedEventError

__all__ = [
    "CLIENT_TIMEOUTS",
    "NON_IDEMPOTENT_TIMEOUTS",
    "RECORD_BUDGET",
    "ClientTimeouts",
    "EventHandler",
    "LambdaEntry",
    "RecordBudget",
    "RecordNotStartedError",
    "Service",
    "SqsConsumer",
    "UnexpectedEventError",
    "effect_window_ms",
]
