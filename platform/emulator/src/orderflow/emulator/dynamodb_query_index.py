"""A DynamoDB Query on a table reads only the items of the partition it names.

A Query names one partition key value, with an equality, and returns the items of that
partition, ordered by sort key (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.html;
the API reference, https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html:
"You must provide the name of the partition key attribute and a single value for that
attribute. Query returns all items with that partition key value"). moto already
keeps a table's items by partition (``Table.items``: ``{hash key: {range key: item}}`` for a
table with a sort key, ``{hash key: item}`` without one), but ``Table.query`` on the table itself
(not an index) starts from ``all_items()``: every item of the table, sorted by hash and range
key, and then keeps those of the one hash key. So each Query cost time in proportion to the items
the whole table held: 0.5 s at 100,000 items, for a Query that returns 10.

Here that one list is the partition's items only, sorted as moto sorts them; everything after it
is moto's own code, unchanged: the range key condition, ``ScanIndexForward``, ``Limit``,
``ExclusiveStartKey`` and ``LastEvaluatedKey``, the 1 MB page, ``FilterExpression`` and the
projection. A Query on an index (global or local secondary) still reads every item, as in moto:
an index's items are not kept by its own key.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from orderflow.emulator.extension import Extension, Patch

_PARTITION: contextvars.ContextVar[tuple[Any, Any] | None] = contextvars.ContextVar(
    "orderflow_dynamodb_query_partition", default=None
)
"""(table, hash key) while ``Table.query`` reads that table's items for one hash key."""


def _moto_order(item: Any) -> Any:
    """The sort key ``Table.all_items`` orders items by."""
    return (item.hash_key, item.range_key) if item.range_key else item.hash_key


def partition_items(table: Any, hash_key: Any) -> list[Any]:
    """The items stored under ``hash_key``, in the order ``all_items`` lists them."""
    stored = table.items.get(hash_key)  # a defaultdict: a plain read never adds the key
    if stored is None:
        return []
    items = list(stored.values()) if table.range_key_attr else [stored]
    return sorted(items, key=_moto_order)


def _querying_one_partition(query: Callable[..., Any]) -> Callable[..., Any]:
    def partition_query(table: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs["index_name"] if "index_name" in kwargs else _positional_index(args)
        if index_name or hash_key is None:
            return query(table, hash_key, *args, **kwargs)
        token = _PARTITION.set((table, hash_key))
        try:
            return query(table, hash_key, *args, **kwargs)
        finally:
            _PARTITION.reset(token)

    return partition_query


_INDEX_NAME_POSITION = 6
"""``index_name``'s place among ``Table.query``'s arguments after ``hash_key``."""


def _positional_index(args: tuple[Any, ...]) -> Any:
    return args[_INDEX_NAME_POSITION] if len(args) > _INDEX_NAME_POSITION else None


def _partition_first(all_items: Callable[[Any], list[Any]]) -> Callable[[Any], list[Any]]:
    def items(table: Any) -> list[Any]:
        partition = _PARTITION.get()
        if partition is not None and partition[0] is table:
            # Only the one read the query itself makes: anything it calls sees the whole table.
            _PARTITION.set(None)
            return partition_items(table, partition[1])
        return all_items(table)

    return items


def _patches() -> list[Patch]:
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    return [
        Patch(Table, "query", _querying_one_partition(Table.query)),
        Patch(Table, "all_items", _partition_first(Table.all_items)),
    ]


_EXTENSION = Extension("dynamodb-query-index", _patches)


def install() -> None:
    """A Query on a table reads only its partition's items."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's Query, which reads every item of the table."""
    _EXTENSION.uninstall()
