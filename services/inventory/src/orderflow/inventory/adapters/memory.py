"""The inventory ports in memory: unit tests and benchmarks run the real domain on these.

``MemoryStockLedger`` keeps DynamoDB's semantics: each call is atomic (a lock), as each DynamoDB
request is. Events go to the shared ``orderflow.messaging.MemoryTopic``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Iterator

from orderflow.contracts import EventEnvelope
from orderflow.idempotency import ApplyOutcome
from orderflow.inventory.domain import (
    Cancellation,
    InventoryResult,
    LevelChangedError,
    Movement,
    OrderHistory,
    OrderRecord,
    StockChange,
    StockLevel,
)


class MemoryStockLedger:
    """``StockLedger`` in a dict; ``record`` checks every condition before writing anything."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stock: dict[str, StockLevel] = {}
        self._records: dict[str, OrderRecord] = {}
        self._cancellations: dict[str, Cancellation] = {}
        self._movements: dict[tuple[str, str], Movement] = {}

    def history(self, order_id: str) -> OrderHistory:
        with self._lock:
            return OrderHistory(
                order_id,
                self._records.get(order_id),
                self._cancellations.get(order_id),
                tuple(m for (oid, _), m in self._movements.items() if oid == order_id),
            )

    def levels(self, skus: Iterable[str]) -> dict[str, StockLevel]:
        with self._lock:
            return {sku: self._stock.get(sku, StockLevel(sku, 0)) for sku in skus}

    def record(self, change: StockChange) -> ApplyOutcome:
        with self._lock:
            if self._any_entry_exists(change):
                return ApplyOutcome.ALREADY_APPLIED
            for movement in change.movements:
                current = self._stock.get(movement.sku, StockLevel(movement.sku, 0)).available
                pinned_moved = movement.level_before not in (None, current)
                if pinned_moved or current + movement.delta < 0:
                    raise LevelChangedError(
                        f"order {change.order_id}: level of {movement.sku} moved"
                    )
            self._write(change)
            return ApplyOutcome.APPLIED

    def mark_published(self, order_id: str, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                if key == OrderRecord.KEY:
                    record = self._records[order_id]
                    self._records[order_id] = dataclasses.replace(record, published=True)
                else:
                    movement = self._movements[(order_id, key)]
                    self._movements[(order_id, key)] = dataclasses.replace(movement, published=True)

    def all_levels(self) -> list[StockLevel]:
        with self._lock:
            return sorted(self._stock.values(), key=lambda level: level.sku)

    def all_movements(self) -> Iterator[Movement]:
        with self._lock:
            snapshot = list(self._movements.values())
        return iter(snapshot)

    def _any_entry_exists(self, change: StockChange) -> bool:
        return (
            (change.record is not None and change.order_id in self._records)
            or (change.cancellation is not None and change.order_id in self._cancellations)
            or any((m.order_id, m.key) in self._movements for m in change.movements)
        )

    def _write(self, change: StockChange) -> None:
        if change.record is not None:
            self._records[change.order_id] = change.record
        if change.cancellation is not None:
            self._cancellations[change.order_id] = change.cancellation
        for movement in change.movements:
            self._movements[(movement.order_id, movement.key)] = movement
            level = self._stock.get(movement.sku, StockLevel(movement.sku, 0))
            threshold = change.thresholds.get(movement.sku, level.threshold)
            self._stock[movement.sku] = StockLevel(
                movement.sku, level.available + movement.delta, threshold
            )


class MemoryObserver:
    """``InventoryObserver`` that keeps each handled event's order id and result, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.outcomes: list[tuple[str, InventoryResult]] = []

    def handled(self, event: EventEnvelope, result: InventoryResult) -> None:
        with self._lock:
            self.outcomes.append((event.order_id, result))
