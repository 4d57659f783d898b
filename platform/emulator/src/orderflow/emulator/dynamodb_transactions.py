"""DynamoDB transactions that are atomic and isolated, as DynamoDB's are; moto's are neither.

moto's ``transact_write_items`` deep-copies every table a transaction touches as its rollback
copy, and when the transaction is cancelled puts those copies back whole: a write another client
committed in the meantime is erased (a cancelled duplicate undoes someone else's payment), and
each transaction costs time in proportion to the size of its tables. Nothing is locked either,
so a concurrent request can read half a transaction, or fail while a table is being copied.

DynamoDB (TransactWriteItems, Amazon DynamoDB API Reference,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html):
the actions "are completed atomically so that either all of them succeed, or all of them fail";
a cancelled transaction raises ``TransactionCanceledException`` whose ``CancellationReasons``
hold one entry per action, in order (``None`` for an action that would have succeeded,
``ConditionalCheckFailed`` for an unmet condition, with the item when
``ReturnValuesOnConditionCheckFailure`` is ``ALL_OLD``). Isolation ("Amazon DynamoDB
Transactions: How it works", isolation levels,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html):
serializable between a transaction and every single-item operation (GetItem, PutItem,
UpdateItem, DeleteItem) and between transactions; read-committed for Query, Scan, BatchGetItem
and BatchWriteItem as a whole, which never see uncommitted (or rolled back) changes.

This module gives the embedded AWS exactly that:

* one re-entrant lock per table: every item request (GetItem, PutItem, UpdateItem, DeleteItem,
  Query, Scan, BatchGetItem, BatchWriteItem, TransactGetItems, TransactWriteItems) holds the
  locks of every table it names, taken in name order, from its first read to its response, so
  it runs wholly before or wholly after any transaction on those tables;
* the rollback copy of a transaction is the previous version of each item it writes, and a
  cancelled transaction puts back only those items (and drops the stream records it added);
  an update replaces an item instead of changing it in place, so a previous version stays
  intact for a rollback and for a response already on its way;
* moto's own validation and cancellation reasons, unchanged.

Requests on one table are serialized rather than rejected, so this emulator never answers
``TransactionConflict``: DynamoDB may reject two overlapping requests where this runs them one
after the other, an outcome DynamoDB also produces for requests that do not overlap in time.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from orderflow.emulator.extension import Extension, Patch

ITEM_ACTIONS = frozenset(
    {
        "get_item",
        "put_item",
        "update_item",
        "delete_item",
        "query",
        "scan",
        "batch_get_item",
        "batch_write_item",
        "transact_get_items",
        "transact_write_items",
    }
)
"""DynamoHandler actions (moto's method names) that read or write items."""

MAX_TRANSACTION_ACTIONS = 100

_LOCKS: dict[tuple[str, str, str], threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def table_lock(account_id: str, region: str, table_name: str) -> threading.RLock:
    """The lock every item request on the table holds (one per account, region and name)."""
    key = (account_id, region, table_name)
    lock = _LOCKS.get(key)
    if lock is None:
        with _LOCKS_GUARD:
            lock = _LOCKS.setdefault(key, threading.RLock())
    return lock


def _table_name(backend: Any, name_or_arn: str) -> str:
    """A table's name, whether the request named it or gave its ARN."""
    from moto.dynamodb.exceptions import ResourceNotFoundException  # noqa: PLC0415

    try:
        return str(backend.get_table(name_or_arn).name)
    except ResourceNotFoundException:
        return name_or_arn  # moto answers for the missing table; the lock guards nothing


@contextlib.contextmanager
def holding_tables(backend: Any, names: Iterable[str]) -> Iterator[None]:
    """Hold the locks of the ``names`` tables, always in the same (name) order: no deadlock."""
    resolved = sorted({_table_name(backend, name) for name in names if isinstance(name, str)})
    with contextlib.ExitStack() as stack:
        for name in resolved:
            stack.enter_context(table_lock(backend.account_id, backend.region_name, name))
        yield


def tables_named(params: dict[str, Any]) -> set[str]:
    """Every table an item request names (TableName, RequestItems, TransactItems)."""
    names: set[str] = set()
    if isinstance(params.get("TableName"), str):
        names.add(params["TableName"])
    request_items = params.get("RequestItems")
    if isinstance(request_items, dict):
        names.update(name for name in request_items if isinstance(name, str))
    for action in params.get("TransactItems") or []:
        if isinstance(action, dict):
            for operation in action.values():
                if isinstance(operation, dict) and isinstance(operation.get("TableName"), str):
                    names.add(operation["TableName"])
    return names


# --- the rollback copy -------------------------------------------------------------------------


@dataclass
class RollbackCopy:
    """The previous version of each item a transaction writes, and each table's stream length."""

    items: dict[tuple[int, Any, Any], tuple[Any, Any, Any, Any]] = field(default_factory=dict)
    """(table id, hash, range) -> (table, hash, range, previous Item or None)"""
    streams: dict[int, tuple[Any, int]] = field(default_factory=dict)

    def keep(self, backend: Any, table_name: str, key: dict[str, Any]) -> None:
        """Remember the item at ``key`` before the transaction writes it (first write only)."""
        table = backend.get_table(table_name)
        hash_key, range_key = backend.get_keys_value(table, key)
        slot = (id(table), hash_key, range_key)
        if slot not in self.items:
            self.items[slot] = (table, hash_key, range_key, table.get_item(hash_key, range_key))
        if id(table) not in self.streams:
            shard = table.stream_shard
            self.streams[id(table)] = (table, len(shard.items) if shard is not None else 0)

    def restore(self) -> None:
        """Put every remembered item back as it was; drop the stream records added since."""
        for table, hash_key, range_key, previous in reversed(list(self.items.values())):
            _store(table, hash_key, range_key, previous)
        for table, length in self.streams.values():
            shard = table.stream_shard
            if shard is not None and len(shard.items) >= length:
                del shard.items[length:]


def _store(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    """Set (or, with ``item`` None, remove) one item of moto's table directly."""
    if range_key is not None:
        if item is None:
            table.items.get(hash_key, {}).pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item
    elif item is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = item


# --- the patched operations --------------------------------------------------------------------


def _transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems, under the tables' locks, rolled back item by item."""
    from moto.dynamodb.exceptions import (  # noqa: PLC0415
        TooManyTransactionsException,
        TransactionCanceledException,
    )

    if len(transact_items) > MAX_TRANSACTION_ACTIONS:
        raise TooManyTransactionsException()
    with holding_tables(backend, tables_named({"TransactItems": transact_items})):
        rollback = RollbackCopy()
        try:
            reasons = _apply(backend, transact_items, rollback)
        except BaseException:
            rollback.restore()  # a request DynamoDB rejects whole changes nothing
            raise
        if any(code is not None for code, _, _ in reasons):
            rollback.restore()
            raise TransactionCanceledException(reasons)


def _apply(
    backend: Any, transact_items: list[dict[str, Any]], rollback: RollbackCopy
) -> list[tuple[Any, Any, Any]]:
    """Each action in order, as moto applies it; return one cancellation reason per action."""
    from moto.dynamodb.comparisons import get_filter_expression  # noqa: PLC0415
    from moto.dynamodb.exceptions import (  # noqa: PLC0415
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TransactWriteSingleOpException,
    )

    targets: set[tuple[str, str]] = set()
    reasons: list[tuple[Any, Any, Any]] = []
    for action in transact_items:
        old_item: dict[str, Any] | None = None
        if len(action) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(action.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            key = _action_key(backend, op_type, op)
            target = (str(op["TableName"]), str(dict(sorted(key.items()))))
            if target in targets:
                raise MultipleTransactionsException()
            targets.add(target)
            current = backend.get_item(op["TableName"], key)
            condition = op.get("ConditionExpression")
            if condition is not None and not get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            ).expr(current):
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    old_item = current.to_json()["Attributes"]
                raise ConditionalCheckFailed(item=old_item)
            if op_type != "ConditionCheck":
                rollback.keep(backend, op["TableName"], key)
                _write(backend, op_type, op, key)
            reasons.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as failed:
            reasons.append(("ConditionalCheckFailed", str(failed.message), old_item))
        except Exception as error:  # noqa: BLE001  (moto reports any other error as the reason)
            reasons.append((type(error).__name__, str(error), old_item))
    return reasons


def _action_key(backend: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    """The primary key an action targets (a Put's is in its item)."""
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _write(backend: Any, op_type: str, op: dict[str, Any], key: dict[str, Any]) -> None:
    """Apply one Put, Delete or Update through moto's own backend operations."""
    expressions = {
        "condition_expression": op.get("ConditionExpression"),
        "expression_attribute_names": op.get("ExpressionAttributeNames"),
        "expression_attribute_values": op.get("ExpressionAttributeValues"),
    }
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"], **expressions)
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], key, **expressions)
    else:
        backend.update_item(
            op["TableName"], key, update_expression=op["UpdateExpression"], **expressions
        )


def _copy_on_write(update_item: Callable[..., Any]) -> Callable[..., Any]:
    """UpdateItem on a copy of the item, so its previous version never changes in place."""

    def copying_update_item(
        backend: Any, table_name: str, key: Any, *args: Any, **kwargs: Any
    ) -> Any:
        from moto.dynamodb.exceptions import MockValidationException  # noqa: PLC0415

        with holding_tables(backend, [table_name]):
            table = backend.get_table(table_name)
            try:
                hash_key, range_key = backend.get_keys_value(table, key)
            except MockValidationException:
                return update_item(backend, table_name, key, *args, **kwargs)
            previous = table.get_item(hash_key, range_key)
            if previous is not None:
                _store(table, hash_key, range_key, copy.deepcopy(previous))
            try:
                return update_item(backend, table_name, key, *args, **kwargs)
            except BaseException:
                _store(table, hash_key, range_key, previous)  # a failed update changes nothing
                raise

    return copying_update_item


def _isolated(call_action: Callable[..., Any]) -> Callable[..., Any]:
    """Every item request holds the locks of the tables it names until it has its response."""

    def isolated_call_action(handler: Any) -> Any:
        from moto.core.utils import camelcase_to_underscores  # noqa: PLC0415

        if camelcase_to_underscores(handler._get_action()) not in ITEM_ACTIONS:
            return call_action(handler)
        params = getattr(handler, "params", None) or {}
        with holding_tables(handler.dynamodb_backend, tables_named(params)):
            return call_action(handler)

    return isolated_call_action


def _patches() -> list[Patch]:
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

    return [
        Patch(DynamoDBBackend, "transact_write_items", _transact_write_items),
        Patch(DynamoDBBackend, "update_item", _copy_on_write(DynamoDBBackend.update_item)),
        Patch(DynamoHandler, "call_action", _isolated(DynamoHandler.call_action)),
    ]


_EXTENSION = Extension("dynamodb-transactions", _patches)


def install() -> None:
    """Atomic, isolated TransactWriteItems with a rollback copy of the items it writes."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's transactions (whole-table copies, no isolation)."""
    _EXTENSION.uninstall()
