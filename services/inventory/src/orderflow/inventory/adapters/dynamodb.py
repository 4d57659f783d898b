"""The stock ledger on DynamoDB: a stock table (one item per sku) and a movements table.

The movements table holds, under each ``order_id``, the order's record (``entry = "order"``),
its cancellation (``"cancel"``) and its movements (``"reserve#<sku>"``, ``"release#<sku>"``);
seeds live under ``seed:<seed id>``. Every change goes through ``ConditionalLedger``: the entries
only if absent, the levels in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

from orderflow.contracts import StockShortfall
from orderflow.idempotency import (
    ApplyOutcome,
    ConditionalLedger,
    LedgerConflictError,
    LedgerEntry,
    StateUpdate,
    UpdateConditionFailedError,
)
from orderflow.inventory.domain import (
    DEFAULT_REORDER_THRESHOLD,
    Cancellation,
    LevelChangedError,
    Movement,
    MovementKind,
    OrderHistory,
    OrderOutcome,
    OrderRecord,
    StockChange,
    StockLevel,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ORDER_KEY = "order_id"
ENTRY_KEY = "entry"
BATCH_GET_LIMIT = 100


class DynamoDBStockLedger:
    """``StockLedger`` over the service's two tables."""

    def __init__(self, client: DynamoDBClient, *, stock_table: str, movements_table: str) -> None:
        self.client = client
        self.stock_table = stock_table
        self.movements_table = movements_table
        self._ledger = ConditionalLedger(client)
        self._deserializer = TypeDeserializer()

    def history(self, order_id: str) -> OrderHistory:
        """Everything under ``order_id``, read with one strongly consistent query."""
        record: OrderRecord | None = None
        cancellation: Cancellation | None = None
        movements: list[Movement] = []
        pages = self.client.get_paginator("query").paginate(
            TableName=self.movements_table,
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": ORDER_KEY},
            ExpressionAttributeValues={":o": {"S": order_id}},
            ConsistentRead=True,
        )
        for page in pages:
            for raw in page.get("Items", []):
                item = self._plain(raw)
                if item[ENTRY_KEY] == OrderRecord.KEY:
                    record = _order_record(item)
                elif item[ENTRY_KEY] == Cancellation.KEY:
                    cancellation = Cancellation(order_id, datetime.fromisoformat(item["at"]))
                else:
                    movements.append(_movement(item))
        return OrderHistory(order_id, record, cancellation, tuple(movements))

    def levels(self, skus: Iterable[str]) -> dict[str, StockLevel]:
        """Strongly consistent levels; an sku with no item has nothing available."""
        wanted = list(dict.fromkeys(skus))
        found = {sku: StockLevel(sku, 0) for sku in wanted}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            keys = [{"sku": {"S": sku}} for sku in wanted[start : start + BATCH_GET_LIMIT]]
            request: dict[str, Any] = {self.stock_table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for raw in response.get("Responses", {}).get(self.stock_table, []):
                    level = _stock_level(self._plain(raw))
                    found[level.sku] = level
                request = dict(response.get("UnprocessedKeys") or {})
        return found

    def record(self, change: StockChange) -> ApplyOutcome:
        """Apply ``change`` in one transaction (see ``StockLedger.record``)."""
        entries = [
            LedgerEntry(self.movements_table, item, ORDER_KEY) for item in _entry_items(change)
        ]
        updates = [self._level_update(m, change.thresholds.get(m.sku)) for m in change.movements]
        try:
            return self._ledger.apply(entries, updates)
        except UpdateConditionFailedError as exc:
            sku = exc.update.key["sku"]
            raise LevelChangedError(f"order {change.order_id}: level of {sku} moved") from exc
        except LedgerConflictError as exc:
            # DynamoDB cancelled it for a concurrent write to the same item: nothing was written,
            # so deciding again from fresh reads is safe (and beats waiting out a visibility
            # timeout; after the last attempt the record fails and SQS retries it anyway).
            raise LevelChangedError(f"order {change.order_id}: {exc}") from exc

    def mark_published(self, order_id: str, keys: Iterable[str]) -> None:
        """Set ``published`` on each entry (which must exist)."""
        for key in keys:
            self.client.update_item(
                TableName=self.movements_table,
                Key={ORDER_KEY: {"S": order_id}, ENTRY_KEY: {"S": key}},
                UpdateExpression="SET #published = :yes",
                ConditionExpression="attribute_exists(#o)",
                ExpressionAttributeNames={"#o": ORDER_KEY, "#published": "published"},
                ExpressionAttributeValues={":yes": {"BOOL": True}},
            )

    def all_levels(self) -> list[StockLevel]:
        """Every item of the stock table, by sku."""
        levels = [
            _stock_level(self._plain(raw))
            for page in self.client.get_paginator("scan").paginate(
                TableName=self.stock_table, ConsistentRead=True
            )
            for raw in page.get("Items", [])
        ]
        return sorted(levels, key=lambda level: level.sku)

    def all_movements(self) -> Iterator[Movement]:
        """Every movement of the movements table (records and cancellations skipped)."""
        pages = self.client.get_paginator("scan").paginate(
            TableName=self.movements_table,
            FilterExpression="attribute_exists(#kind)",
            ExpressionAttributeNames={"#kind": "kind"},
            ConsistentRead=True,
        )
        for page in pages:
            for raw in page.get("Items", []):
                yield _movement(self._plain(raw))

    def _level_update(self, movement: Movement, threshold: int | None) -> StateUpdate:
        names = {"#available": "available"}
        values: dict[str, Any] = {":delta": movement.delta}
        expression = "ADD #available :delta"
        if threshold is not None:
            expression = f"SET #threshold = :threshold {expression}"
            names["#threshold"] = "threshold"
            values[":threshold"] = threshold
        conditions = []
        if movement.level_before is not None:
            values[":before"] = movement.level_before
            pinned = "#available = :before"
            # An item that does not exist yet is at level 0.
            conditions.append(
                f"(attribute_not_exists(#available) OR {pinned})"
                if movement.level_before == 0
                else pinned
            )
        if movement.delta < 0:
            # Never below zero, whatever the caller read: this is the oversell guard.
            values[":quantity"] = -movement.delta
            conditions.append("#available >= :quantity")
        return StateUpdate(
            table=self.stock_table,
            key={"sku": movement.sku},
            expression=expression,
            values=values,
            names=names,
            condition=" AND ".join(conditions) or None,
        )

    def _plain(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return {name: self._deserializer.deserialize(value) for name, value in raw.items()}


def _entry_items(change: StockChange) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if change.record is not None:
        items.append(_record_item(change.record))
    if change.cancellation is not None:
        items.append(
            {
                ORDER_KEY: change.order_id,
                ENTRY_KEY: Cancellation.KEY,
                "at": change.cancellation.at.isoformat(),
            }
        )
    items.extend(_movement_item(m) for m in change.movements)
    return items


def _record_item(record: OrderRecord) -> dict[str, Any]:
    return {
        ORDER_KEY: record.order_id,
        ENTRY_KEY: OrderRecord.KEY,
        "outcome": record.outcome.value,
        "at": record.at.isoformat(),
        "lines": dict(record.lines),
        "shortfalls": [s.model_dump() for s in record.shortfalls],
        "published": record.published,
    }


def _movement_item(movement: Movement) -> dict[str, Any]:
    item: dict[str, Any] = {
        ORDER_KEY: movement.order_id,
        ENTRY_KEY: movement.key,
        "sku": movement.sku,
        "kind": movement.kind.value,
        "delta": movement.delta,
        "at": movement.at.isoformat(),
        "crossed": movement.crossed,
        "published": movement.published,
    }
    for name in ("level_before", "level_after", "threshold"):
        value = getattr(movement, name)
        if value is not None:
            item[name] = value
    return item


def _order_record(item: Mapping[str, Any]) -> OrderRecord:
    return OrderRecord(
        order_id=item[ORDER_KEY],
        outcome=OrderOutcome(item["outcome"]),
        at=datetime.fromisoformat(item["at"]),
        lines={sku: int(quantity) for sku, quantity in item.get("lines", {}).items()},
        shortfalls=tuple(
            StockShortfall(
                sku=s["sku"], requested=int(s["requested"]), available=int(s["available"])
            )
            for s in item.get("shortfalls", [])
        ),
        published=bool(item.get("published", False)),
    )


def _movement(item: Mapping[str, Any]) -> Movement:
    def optional(name: str) -> int | None:
        return int(item[name]) if name in item else None

    return Movement(
        order_id=item[ORDER_KEY],
        sku=item["sku"],
        kind=MovementKind(item["kind"]),
        delta=int(item["delta"]),
        at=datetime.fromisoformat(item["at"]),
        level_before=optional("level_before"),
        level_after=optional("level_after"),
        threshold=optional("threshold"),
        crossed=bool(item.get("crossed", False)),
        published=bool(item.get("published", False)),
    )


def _stock_level(item: Mapping[str, Any]) -> StockLevel:
    return StockLevel(
        sku=item["sku"],
        available=int(item.get("available", 0)),
        threshold=int(item.get("threshold", DEFAULT_REORDER_THRESHOLD)),
    )
