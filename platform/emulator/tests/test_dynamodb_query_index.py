"""A Query on a table reads only its partition's items and answers exactly as moto's full read.

Query, Amazon DynamoDB Developer Guide
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.html) and API Reference
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html): a Query takes
"a single value" for the partition key and "returns all items with that partition key value",
narrowed by a sort key condition; results are "always sorted by the sort key value" (numeric
order for a Number sort key), descending with ``ScanIndexForward=false``; ``Limit`` caps the
items evaluated and a page that stops early returns ``LastEvaluatedKey``, from which
``ExclusiveStartKey`` continues; ``FilterExpression`` drops items after they are read and
``ProjectionExpression`` picks their attributes.

Each case runs the same Queries on the same items twice, once through moto's own read of the
whole table and once with the extension, and compares every page of every answer.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto.dynamodb.models.table import Table

from orderflow.emulator import dynamodb_query_index
from orderflow.emulator.extension import installed

PARTITIONS = 60
SEED = 20_260_901


def _create(client: Any, name: str, sort_type: str | None, *, gsi: bool = False) -> None:
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    if sort_type is not None:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": sort_type})
    extra: dict[str, Any] = {}
    if gsi:
        attributes.append({"AttributeName": "status", "AttributeType": "S"})
        extra["GlobalSecondaryIndexes"] = [
            {
                "IndexName": "by-status",
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ]
    client.create_table(
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=attributes,
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


def _sort_value(sort_type: str, number: int) -> dict[str, str]:
    # Numbers as text that sorts differently from their value ("10" < "9"), and some with a
    # fraction, so that a wrong order shows.
    if sort_type == "N":
        return {"N": f"{number / 4:g}" if number % 3 == 0 else str(number)}
    return {"S": f"item#{number:03d}" if number % 2 else f"item#{number}"}


def _fill(client: Any, name: str, sort_type: str | None, rng: random.Random) -> None:
    for partition in range(PARTITIONS):
        count = 1 if sort_type is None else rng.randint(0, 14)
        for number in range(count):
            item: dict[str, Any] = {
                "pk": {"S": f"order-{partition}"},
                "status": {"S": rng.choice(["NEW", "PAID", "SHIPPED"])},
                "amount": {"N": str(rng.randint(0, 500))},
                "note": {"S": "x" * rng.randint(0, 40)},
            }
            if sort_type is not None:
                item["sk"] = _sort_value(sort_type, number * 3 + rng.randint(0, 2))
            client.put_item(TableName=name, Item=item)


def _request(name: str, sort_type: str | None, rng: random.Random) -> dict[str, Any]:
    """One random Query on the table: a partition (sometimes one that holds nothing), maybe a
    sort key condition, an order, a limit, a filter, a projection."""
    names = {"#pk": "pk"}
    values: dict[str, Any] = {":pk": {"S": f"order-{rng.randint(0, PARTITIONS + 2)}"}}
    condition = "#pk = :pk"
    if sort_type is not None and rng.random() < 0.6:
        names["#sk"] = "sk"
        low, high = sorted(rng.sample(range(45), 2))
        values[":low"] = _sort_value(sort_type, low)
        operator = rng.choice(["=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"])
        if operator == "BETWEEN":
            values[":high"] = _sort_value(sort_type, high)
            condition += " AND #sk BETWEEN :low AND :high"
        elif operator == "begins_with":
            if sort_type == "N":
                condition += " AND #sk >= :low"
            else:
                values[":low"] = {"S": rng.choice(["item#0", "item#1", "item#", "item#2"])}
                condition += " AND begins_with(#sk, :low)"
        else:
            condition += f" AND #sk {operator} :low"
    request: dict[str, Any] = {
        "TableName": name,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": rng.random() < 0.5,
    }
    if rng.random() < 0.5:
        request["Limit"] = rng.randint(1, 6)
    if rng.random() < 0.4:
        values[":cap"] = {"N": str(rng.randint(0, 500))}
        request["FilterExpression"] = "amount < :cap"
    if rng.random() < 0.3:
        names["#st"] = "status"
        request["ProjectionExpression"] = "#pk, amount, #st"
    return request


def _all_pages(client: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    pages = []
    start: dict[str, Any] | None = None
    while True:
        page = client.query(**request, **({"ExclusiveStartKey": start} if start else {}))
        page.pop("ResponseMetadata")
        pages.append(page)
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


def _answers(
    client: Any, requests: list[dict[str, Any]]
) -> list[list[dict[str, Any]] | tuple[str, str]]:
    answers: list[list[dict[str, Any]] | tuple[str, str]] = []
    for request in requests:
        try:
            answers.append(_all_pages(client, request))
        except client.exceptions.ClientError as error:
            answers.append((error.response["Error"]["Code"], error.response["Error"]["Message"]))
    return answers


@pytest.fixture
def moto_reads() -> Iterator[list[Table]]:
    """The tables moto's own ``all_items`` (every item of a table) was called on."""
    calls: list[Table] = []
    original = Table.all_items

    def counting(table: Table) -> Any:
        calls.append(table)
        return original(table)

    Table.all_items = counting  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        Table.all_items = original  # type: ignore[method-assign]


@pytest.mark.parametrize("sort_type", ["S", "N", None], ids=["string-sort", "number-sort", "hash"])
def test_every_query_answers_as_moto_reading_the_whole_table(
    aws: Callable[[str], Any], sort_type: str | None, moto_reads: list[Table]
) -> None:
    # GIVEN a table of 60 partitions holding 0-14 items each (one each without a sort key)
    client = aws("dynamodb")
    rng = random.Random(f"{SEED}-{sort_type}")
    _create(client, "orders", sort_type)
    _fill(client, "orders", sort_type, rng)
    requests = [_request("orders", sort_type, rng) for _ in range(250)]

    # WHEN the same Queries run through moto's whole-table read and then with the extension
    plain = _answers(client, requests)
    plain_reads = len(moto_reads)
    with installed(dynamodb_query_index):
        indexed = _answers(client, requests)

    # THEN every page of every answer is the same, and none read the whole table
    assert indexed == plain
    assert plain_reads >= len(requests)
    assert len(moto_reads) == plain_reads
    pages = [answer for answer in plain if isinstance(answer, list)]
    assert any(page["Count"] == 0 for answer in pages for page in answer)
    if sort_type is not None:
        assert any(len(answer) > 1 for answer in pages), "no Query was paginated"
        assert any(page["Count"] > 1 for answer in pages for page in answer)


def test_a_partition_comes_back_in_numeric_sort_key_order_both_ways(
    aws: Callable[[str], Any], installed_query_index: None
) -> None:
    # GIVEN items under one partition with Number sort keys, and many under other partitions
    client = aws("dynamodb")
    _create(client, "ledger", "N")
    for value in ("10", "9", "100", "-1.5", "2.25"):
        client.put_item(TableName="ledger", Item={"pk": {"S": "a"}, "sk": {"N": value}})
    for other in range(200):
        client.put_item(TableName="ledger", Item={"pk": {"S": f"b{other}"}, "sk": {"N": "1"}})

    def sort_keys(forward: bool, **extra: Any) -> list[str]:
        got = client.query(
            TableName="ledger",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "a"}},
            ScanIndexForward=forward,
            **extra,
        )
        return [item["sk"]["N"] for item in got["Items"]]

    # THEN ascending by value by default, descending with ScanIndexForward=false
    assert sort_keys(True) == ["-1.5", "2.25", "9", "10", "100"]
    assert sort_keys(False) == ["100", "10", "9", "2.25", "-1.5"]
    # AND a page continues after its LastEvaluatedKey
    first = client.query(
        TableName="ledger",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "a"}},
        Limit=2,
    )
    assert first["LastEvaluatedKey"] == {"pk": {"S": "a"}, "sk": {"N": "2.25"}}
    assert sort_keys(True, ExclusiveStartKey=first["LastEvaluatedKey"]) == ["9", "10", "100"]


def test_a_query_on_an_index_still_reads_the_table_and_answers_as_before(
    aws: Callable[[str], Any], moto_reads: list[Table]
) -> None:
    # GIVEN a table with a global secondary index on status
    client = aws("dynamodb")
    rng = random.Random(SEED)
    _create(client, "orders", "S", gsi=True)
    _fill(client, "orders", "S", rng)
    request = {
        "TableName": "orders",
        "IndexName": "by-status",
        "KeyConditionExpression": "#st = :st",
        "ExpressionAttributeNames": {"#st": "status"},
        "ExpressionAttributeValues": {":st": {"S": "PAID"}},
        "Limit": 7,
    }

    # WHEN it is queried through moto's path and with the extension
    plain = _all_pages(client, request)
    plain_reads = len(moto_reads)
    with installed(dynamodb_query_index):
        indexed = _all_pages(client, request)

    # THEN the pages are the same, and the index query read the whole table as moto does
    assert indexed == plain
    assert len(plain) > 1
    assert len(moto_reads) == 2 * plain_reads


def test_a_query_leaves_the_table_as_it_was(
    aws: Callable[[str], Any], installed_query_index: None
) -> None:
    # GIVEN a table with one partition
    client = aws("dynamodb")
    _create(client, "orders", "S")
    client.put_item(TableName="orders", Item={"pk": {"S": "a"}, "sk": {"S": "1"}})

    # WHEN a partition that holds nothing is queried
    got = client.query(
        TableName="orders",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "missing"}},
    )

    # THEN nothing comes back and the table has no new, empty partition
    assert got["Items"] == []
    scanned = client.scan(TableName="orders")
    assert scanned["Count"] == 1
    description = client.describe_table(TableName="orders")["Table"]
    assert description["ItemCount"] == 1


@pytest.fixture
def installed_query_index() -> Iterator[None]:
    with installed(dynamodb_query_index):
        yield
