"""orderflow inventory service: exact, event-sourced stock under at-least-once delivery."""

from __future__ import annotations

from orderflow.inventory.domain import (
    DEFAULT_REORDER_THRESHOLD,
    HANDLED_TYPES,
    Inventory,
    InventoryResult,
    Outcome,
    StockLevel,
    StockSetting,
)

__all__ = [
    "DEFAULT_REORDER_THRESHOLD",
    "HANDLED_TYPES",
    "Inventory",
    "InventoryResult",
    "Outcome",
    "StockLevel",
    "StockSetting",
]
