"""Ledger entries and the state they derive, written in one conditional DynamoDB transaction."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

MAX_TRANSACTION_ITEMS = 100


class ApplyOutcome(enum.Enum):
    APPLIED = "applied"
    ALREADY_APPLIED = "already_applied"


class LedgerConflictError(RuntimeError):
    """Another transaction touched the same items; the record should retry."""


class UpdateConditionFailedError(RuntimeError):
    """A state update's own condition failed (e.g. not enough stock); nothing was written."""

    def __init__(self, update: StateUpdate) -> None:
        super().__init__(f"condition failed on {update.table} {dict(update.key)}")
        self.update = update


@dataclass(frozen=True)
class LedgerEntry:
    """An item that records one applied change; written only if its key does not exist."""

    table: str
    item: Mapping[str, Any]
    key_attribute: str


@dataclass(frozen=True)
class StateUpdate:
    """An UpdateItem on derived state, with plain Python values (serialised here)."""

    table: str
    key: Mapping[str, Any]
    expression: str
    values: Mapping[str, Any] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    condition: str | None = None


class ConditionalLedger:
    """Applies ledger entries and state updates atomically; a replay reports ALREADY_APPLIED."""

    def __init__(self, client: DynamoDBClient) -> None:
        from boto3.dynamodb.types import TypeSerializer  # noqa: PLC0415

        self._client = client
        self._serializer = TypeSerializer()

    def apply(self, entries: Sequence[LedgerEntry], updates: Sequence[StateUpdate]) -> ApplyOutcome:
        """Write every entry (each only if absent) and every update, all or nothing."""
        if not entries:
            raise ValueError("a ledger transaction needs at least one entry")
        if len(entries) + len(updates) > MAX_TRANSACTION_ITEMS:
            raise ValueError(f"a transaction holds at most {MAX_TRANSACTION_ITEMS} items")
        items = [self._put(e) for e in entries] + [self._update(u) for u in updates]
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            return self._cancelled(exc, entries, updates)
        return ApplyOutcome.APPLIED

    def _cancelled(
        self, exc: ClientError, entries: Sequence[LedgerEntry], updates: Sequence[StateUpdate]
    ) -> ApplyOutcome:
        reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])]
        if any(code == "TransactionConflict" for code in reasons):
            raise LedgerConflictError("transaction conflict; retry") from exc
        failed = [i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
        if not failed:
            raise exc
        if any(i < len(entries) for i in failed):
            return ApplyOutcome.ALREADY_APPLIED
        raise UpdateConditionFailedError(updates[failed[0] - len(entries)]) from exc

    def _put(self, entry: LedgerEntry) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": entry.table,
                "Item": self._typed(entry.item),
                "ConditionExpression": "attribute_not_exists(#k)",
                "ExpressionAttributeNames": {"#k": entry.key_attribute},
            }
        }

    def _update(self, update: StateUpdate) -> TransactWriteItemTypeDef:
        request: dict[str, Any] = {
            "TableName": update.table,
            "Key": self._typed(update.key),
            "UpdateExpression": update.expression,
        }
        if update.values:
            request["ExpressionAttributeValues"] = self._typed(update.values)
        if update.names:
            request["ExpressionAttributeNames"] = dict(update.names)
        if update.condition:
            request["ConditionExpression"] = update.condition
        return {"Update": request}  # type: ignore[typeddict-item]

    def _typed(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._serializer.serialize(v) for k, v in values.items()}
