"""TransactWriteItems atomic and isolated against concurrent requests, as DynamoDB's are.

TransactWriteItems, Amazon DynamoDB API Reference
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html):
the actions "are completed atomically so that either all of them succeed, or all of them fail";
a cancelled request raises TransactionCanceledException with one CancellationReason per action,
in order ("None" where the action would have succeeded, "ConditionalCheckFailed" with the item
under ReturnValuesOnConditionCheckFailure=ALL_OLD). "Amazon DynamoDB Transactions: How it
works", isolation levels
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html):
serializable between transactions and single-item writes and GetItem, and between
TransactWriteItems and TransactGetItems; reads never return an uncommitted change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend

from orderflow.emulator import dynamodb_transactions

TABLE = "payments"
WRITERS, CANCELLERS, PER_THREAD = 4, 4, 40
SEEDED = 400
"""Items stored before the race: each of moto's whole-table copies then takes a while."""


@pytest.fixture
def dynamodb(aws: Callable[[str], Any]) -> Callable[[], Any]:
    """A client factory over one table keyed by ``pk``, with ``SEEDED`` items and ``dup``."""
    client = aws("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for start in range(0, SEEDED, 25):
        client.batch_write_item(
            RequestItems={
                TABLE: [
                    {"PutRequest": {"Item": {"pk": {"S": f"seed-{n}"}, "note": {"S": "x" * 200}}}}
                    for n in range(start, start + 25)
                ]
            }
        )
    client.put_item(TableName=TABLE, Item={"pk": {"S": "dup"}})
    return lambda: aws("dynamodb")


@pytest.fixture
def extension(installed: Callable[..., None]) -> None:
    installed(dynamodb_transactions)


def put_once(pk: str) -> dict[str, Any]:
    """One Put that must be the first of its key (what the ledgers write)."""
    return {
        "Put": {
            "TableName": TABLE,
            "Item": {"pk": {"S": pk}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def run_together(*work: Callable[[], None]) -> None:
    """Start every piece of work at once; re-raise the first error any of them hit."""
    start = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        start.wait()
        try:
            job()
        except BaseException as error:  # handed to the test below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    if errors:
        raise errors[0]


def race_writers_against_cancelled_transactions(new_client: Callable[[], Any]) -> list[str]:
    """Committed writes (transactions and PutItem) racing duplicates that are cancelled."""
    committed: list[str] = []
    lock = threading.Lock()

    def writer(n: int) -> Callable[[], None]:
        def write() -> None:
            client = new_client()
            for i in range(PER_THREAD):
                pk = f"w{n}-{i}"
                if n % 2:
                    client.put_item(TableName=TABLE, Item={"pk": {"S": pk}})
                else:
                    client.transact_write_items(TransactItems=[put_once(pk)])
                with lock:
                    committed.append(pk)

        return write

    def canceller() -> None:
        client = new_client()
        for _ in range(PER_THREAD):
            with pytest.raises(ClientError) as cancelled:
                client.transact_write_items(TransactItems=[put_once("dup")])
            assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"

    run_together(*(writer(n) for n in range(WRITERS)), *([canceller] * CANCELLERS))
    return committed


def stored_keys(client: Any) -> set[str]:
    keys: set[str] = set()
    for page in client.get_paginator("scan").paginate(TableName=TABLE):
        keys.update(item["pk"]["S"] for item in page["Items"])
    return keys


def test_a_cancelled_transaction_never_erases_a_write_another_client_committed(
    dynamodb: Callable[[], Any], extension: None
) -> None:
    # GIVEN four clients committing 40 writes each (transactions and plain puts) while four
    # others send 40 duplicates each that DynamoDB cancels
    committed = race_writers_against_cancelled_transactions(dynamodb)
    # THEN every committed write is stored, with the seeded items and the original duplicate
    assert len(committed) == WRITERS * PER_THREAD
    missing = set(committed) - stored_keys(dynamodb())
    assert missing == set()
    assert len(stored_keys(dynamodb())) == SEEDED + 1 + WRITERS * PER_THREAD


def test_no_read_ever_sees_half_a_transaction(dynamodb: Callable[[], Any], extension: None) -> None:
    # GIVEN two accounts holding 100 between them, and transactions moving 1 from one to the
    # other, half of which are cancelled by a failing third action after both moves
    client = dynamodb()
    for pk in ("left", "right"):
        client.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "balance": {"N": "50"}})

    def move(amount: int, pk: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": TABLE,
                "Key": {"pk": {"S": pk}},
                "UpdateExpression": "ADD balance :n",
                "ExpressionAttributeValues": {":n": {"N": str(amount)}},
            }
        }

    def transfers() -> None:
        writer = dynamodb()
        for i in range(60):
            actions = [move(-1, "left"), move(1, "right")]
            if i % 2:
                actions.append(put_once("dup"))  # exists: the whole transfer is cancelled
            if i % 2:
                with pytest.raises(ClientError, match="TransactionCanceledException"):
                    writer.transact_write_items(TransactItems=actions)
            else:
                writer.transact_write_items(TransactItems=actions)

    seen: list[int] = []

    def reader(read: Callable[[Any], int]) -> Callable[[], None]:
        def loop() -> None:
            reading = dynamodb()
            for _ in range(60):
                seen.append(read(reading))

        return loop

    def transact_get(reading: Any) -> int:
        response = reading.transact_get_items(
            TransactItems=[
                {"Get": {"TableName": TABLE, "Key": {"pk": {"S": pk}}}} for pk in ("left", "right")
            ]
        )
        return sum(int(r["Item"]["balance"]["N"]) for r in response["Responses"])

    def batch_get(reading: Any) -> int:
        response = reading.batch_get_item(
            RequestItems={TABLE: {"Keys": [{"pk": {"S": pk}} for pk in ("left", "right")]}}
        )
        return sum(int(i["balance"]["N"]) for i in response["Responses"][TABLE])

    # WHEN readers read both accounts together all the while
    run_together(transfers, reader(transact_get), reader(batch_get))
    # THEN every read saw a total of 100, and the 30 committed transfers moved 30
    assert set(seen) == {100}
    balances = {
        pk: int(client.get_item(TableName=TABLE, Key={"pk": {"S": pk}})["Item"]["balance"]["N"])
        for pk in ("left", "right")
    }
    assert balances == {"left": 20, "right": 80}


def test_a_cancelled_transaction_names_each_actions_reason_and_changes_nothing(
    dynamodb: Callable[[], Any], extension: None
) -> None:
    client = dynamodb()
    client.put_item(TableName=TABLE, Item={"pk": {"S": "paid"}, "status": {"S": "paid"}})
    paid_twice = {
        "Put": {
            **put_once("paid")["Put"],
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(
            TransactItems=[put_once("fresh"), paid_twice, put_once("another")]
        )
    error = cancelled.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert error["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed, None]"
    )
    assert error["CancellationReasons"] == [
        {"Code": "None"},
        {
            "Code": "ConditionalCheckFailed",
            "Message": "The conditional request failed",
            "Item": {"pk": {"S": "paid"}, "status": {"S": "paid"}},
        },
        {"Code": "None"},
    ]
    assert {"fresh", "another"} & stored_keys(client) == set()


def test_a_request_dynamodb_rejects_whole_leaves_every_item_as_it_was(
    dynamodb: Callable[[], Any], extension: None
) -> None:
    # Two actions on one item: a ValidationException for the whole request, nothing written.
    client = dynamodb()
    with pytest.raises(ClientError) as rejected:
        client.transact_write_items(TransactItems=[put_once("new"), put_once("new")])
    assert rejected.value.response["Error"]["Code"] == "ValidationException"
    assert "new" not in stored_keys(client)


def test_a_failed_update_leaves_the_item_as_it_was(
    dynamodb: Callable[[], Any], extension: None
) -> None:
    client = dynamodb()
    client.put_item(TableName=TABLE, Item={"pk": {"S": "stock"}, "level": {"N": "3"}})
    with pytest.raises(ClientError):
        client.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "stock"}},
            UpdateExpression="ADD level :n",
            ConditionExpression="level > :zero",
            ExpressionAttributeValues={":n": {"N": "-5"}, ":zero": {"N": "5"}},
        )
    item = client.get_item(TableName=TABLE, Key={"pk": {"S": "stock"}})["Item"]
    assert item == {"pk": {"S": "stock"}, "level": {"N": "3"}}


def test_the_extension_can_be_removed_again(dynamodb: Callable[[], Any]) -> None:
    moto_transact = DynamoDBBackend.transact_write_items
    dynamodb_transactions.install()
    dynamodb_transactions.install()
    assert DynamoDBBackend.transact_write_items is not moto_transact
    dynamodb_transactions.uninstall()
    assert DynamoDBBackend.transact_write_items is moto_transact
