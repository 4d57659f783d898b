"""The batch shell every consumer shares: parse, trace, run the domain, report partial failures."""

from __future__ import annotations

from orderflow.consumer.batch import (
    EventHandler,
    RecordNotStartedError,
    SqsConsumer,
    UnexpectedEventError,
)
from orderflow.consumer.budget import (
    CLIENT_TIMEOUTS,
    NON_IDEMPOTENT_TIMEOUTS,
    RECORD_BUDGET,
    ClientTimeouts,
    RecordBudget,
)

__all__ = [
    "CLIENT_TIMEOUTS",
    "NON_IDEMPOTENT_TIMEOUTS",
    "RECORD_BUDGET",
    "ClientTimeouts",
    "EventHandler",
    "RecordBudget",
    "RecordNotStartedError",
    "SqsConsumer",
    "UnexpectedEventError",
]
