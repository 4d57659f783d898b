"""Exactly-once effects on at-least-once delivery.

Two tools, one per kind of effect:

* ``OnceOnly`` for external side effects (charge a card, send an email): Powertools idempotency
  over DynamoDB, keyed on a business identity, remembered past the DLQ redrive window.
* ``ConditionalLedger`` for state in our own tables: ledger entries written only if absent, in
  the same DynamoDB transaction as the derived state they change, so a replay is a no-op.
"""

from __future__ import annotations

from orderflow.idempotency.ledger import (
    ApplyOutcome,
    ConditionalLedger,
    LedgerConflictError,
    LedgerEntry,
    StateUpdate,
    UpdateConditionFailedError,
)
from orderflow.idempotency.memory import MemoryOnceOnly
from orderflow.idempotency.once import (
    REDRIVE_WINDOW_SECONDS,
    EffectNotStartedError,
    OnceOnly,
    register_invocation,
)
from orderflow.idempotency.ports import OnceOnlyEffects

__all__ = [
    "REDRIVE_WINDOW_SECONDS",
    "ApplyOutcome",
    "ConditionalLedger",
    "EffectNotStartedError",
    "LedgerConflictError",
    "LedgerEntry",
    "MemoryOnceOnly",
    "OnceOnly",
    "OnceOnlyEffects",
    "StateUpdate",
    "UpdateConditionFailedError",
    "register_invocation",
]
