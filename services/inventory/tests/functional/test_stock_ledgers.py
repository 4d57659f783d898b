"""Both StockLedger implementations keep the same promises, so unit tests on the in-memory one
say something about DynamoDB."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from orderflow.idempotency import ApplyOutcome
from orderflow.inventory.adapters.dynamodb import DynamoDBStockLedger
from orderflow.inventory.adapters.memory import MemoryStockLedger
from orderflow.inventory.domain import (
    Cancellation,
    LevelChangedError,
    Movement,
    MovementKind,
    OrderOutcome,
    OrderRecord,
    StockChange,
    StockLevel,
)

pytestmark = pytest.mark.functional
AT = datetime(2025, 11, 28, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb"])
def ledger(request):
    if request.param == "memory":
        return MemoryStockLedger()
    return request.getfixturevalue("stack").ledger()


def seed(ledger, sku: str, available: int, threshold: int = 10) -> None:
    movement = Movement(
        f"seed:{sku}", sku, MovementKind.SEED, available, AT, level_before=0, level_after=available
    )
    change = StockChange(movement.order_id, movements=(movement,), thresholds={sku: threshold})
    assert ledger.record(change) is ApplyOutcome.APPLIED


def reserve(order_id: str, sku: str, quantity: int, before: int | None) -> StockChange:
    movement = Movement(
        order_id,
        sku,
        MovementKind.RESERVE,
        -quantity,
        AT,
        level_before=before,
        level_after=None if before is None else before - quantity,
        threshold=10,
        crossed=before is not None and before >= 10 > before - quantity,
    )
    record = OrderRecord(order_id, OrderOutcome.RESERVED, AT, lines={sku: quantity})
    return StockChange(order_id, record=record, movements=(movement,))


def test_levels_of_unknown_skus_are_zero(ledger):
    assert ledger.levels(["nope"]) == {"nope": StockLevel("nope", 0)}


def test_a_change_is_recorded_once(ledger):
    seed(ledger, "sku-1", 12, threshold=4)
    change = reserve("ord-1", "sku-1", 3, before=12)

    assert ledger.record(change) is ApplyOutcome.APPLIED
    assert ledger.record(change) is ApplyOutcome.ALREADY_APPLIED

    assert ledger.levels(["sku-1"])["sku-1"] == StockLevel("sku-1", 9, 4)
    history = ledger.history("ord-1")
    assert history.record == change.record
    assert history.movements == change.movements


def test_a_moved_level_writes_nothing(ledger):
    seed(ledger, "sku-1", 12)
    with pytest.raises(LevelChangedError):
        ledger.record(reserve("ord-1", "sku-1", 3, before=11))
    assert ledger.levels(["sku-1"])["sku-1"].available == 12
    assert ledger.history("ord-1").record is None


def test_a_level_never_goes_below_zero(ledger):
    seed(ledger, "sku-1", 2)
    with pytest.raises(LevelChangedError):
        ledger.record(reserve("ord-1", "sku-1", 3, before=None))
    assert ledger.levels(["sku-1"])["sku-1"].available == 2


def test_an_existing_entry_wins_over_a_moved_level(ledger):
    # A replay whose level has since moved is a duplicate, not a conflict.
    seed(ledger, "sku-1", 12)
    ledger.record(reserve("ord-1", "sku-1", 3, before=12))
    assert ledger.record(reserve("ord-1", "sku-1", 3, before=12)) is ApplyOutcome.ALREADY_APPLIED


def test_a_cancellation_and_release_round_trip(ledger):
    seed(ledger, "sku-1", 12)
    ledger.record(reserve("ord-1", "sku-1", 3, before=12))
    release = Movement("ord-1", "sku-1", MovementKind.RELEASE, 3, AT)
    change = StockChange("ord-1", cancellation=Cancellation("ord-1", AT), movements=(release,))

    assert ledger.record(change) is ApplyOutcome.APPLIED
    assert ledger.record(change) is ApplyOutcome.ALREADY_APPLIED

    assert ledger.levels(["sku-1"])["sku-1"].available == 12
    assert ledger.history("ord-1").cancellation == Cancellation("ord-1", AT)


def test_published_marks_stick(ledger):
    seed(ledger, "sku-1", 10)
    change = reserve("ord-1", "sku-1", 1, before=10)
    ledger.record(change)
    ledger.mark_published("ord-1", [change.movements[0].key])
    (movement,) = ledger.history("ord-1").movements
    assert movement.crossed
    assert movement.published


def test_audit_reads_every_level_and_movement(ledger):
    seed(ledger, "sku-2", 5)
    seed(ledger, "sku-1", 7)
    ledger.record(reserve("ord-1", "sku-1", 2, before=7))
    assert [lv.sku for lv in ledger.all_levels()] == ["sku-1", "sku-2"]
    assert sorted((m.sku, m.delta) for m in ledger.all_movements()) == [
        ("sku-1", -2),
        ("sku-1", 7),
        ("sku-2", 5),
    ]


def test_a_transaction_conflict_on_dynamodb_is_a_moved_level_to_decide_again():
    # GIVEN DynamoDB cancelling the transaction for a concurrent write to the same item
    client = boto3.client("dynamodb")
    stubber = Stubber(client)
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        service_message="Transaction cancelled",
        modeled_fields={"CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}]},
    )
    ledger = DynamoDBStockLedger(client, stock_table="stock", movements_table="movements")

    # WHEN a reservation is recorded THEN the domain is told to read again and decide again
    with stubber, pytest.raises(LevelChangedError, match="conflict"):
        ledger.record(reserve("ord-1", "sku-1", 1, before=5))
