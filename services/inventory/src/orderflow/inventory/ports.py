"""What the inventory domain needs from the world: a stock ledger and an observer.

It publishes through the shared ``orderflow.messaging.EventSink``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from orderflow.contracts import EventEnvelope
    from orderflow.idempotency import ApplyOutcome
    from orderflow.inventory.domain import (
        InventoryResult,
        Movement,
        OrderHistory,
        StockChange,
        StockLevel,
    )


class StockLedger(Protocol):
    """Stock levels and the movements that made them, changed only through ``record``.

    Reads are strongly consistent: a change recorded before a read is seen by it.
    """

    def history(self, order_id: str) -> OrderHistory:
        """Everything recorded under ``order_id`` (its record, cancellation and movements)."""
        ...

    def levels(self, skus: Iterable[str]) -> dict[str, StockLevel]:
        """Current level of each sku; an unknown sku has nothing available."""
        ...

    def record(self, change: StockChange) -> ApplyOutcome:
        """Write the whole change atomically or nothing.

        Returns ``ALREADY_APPLIED`` (writing nothing) when any of its records or movements
        exists; raises ``LevelChangedError`` (writing nothing) when a pinned level moved or a
        level would go below zero.
        """
        ...

    def mark_published(self, order_id: str, keys: Iterable[str]) -> None:
        """Note that the events owed by these entries (record or movement keys) went out."""
        ...

    def all_levels(self) -> list[StockLevel]:
        """Every item's level, by sku (for operators, not for the per-order path)."""
        ...

    def all_movements(self) -> Iterator[Movement]:
        """Every movement ever recorded (for audits, not for the per-order path)."""
        ...


class InventoryObserver(Protocol):
    """Told what the inventory did with each event (logs and metrics in Lambda)."""

    def handled(self, event: EventEnvelope, result: InventoryResult) -> None:
        """``event`` was handled with ``result`` (not called when handling raised)."""
        ...
