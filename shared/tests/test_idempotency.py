"""The same event applied twice changes state once; concurrent attempts run an effect once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from moto import mock_aws

from orderflow.idempotency import (
    ApplyOutcome,
    ConditionalLedger,
    LedgerEntry,
    OnceOnly,
    StateUpdate,
    UpdateConditionFailedError,
)
from orderflow.testing import FakeLambdaContext

from .conftest import hash_key_table

pytestmark = pytest.mark.functional


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb")
        for name, key in (("ledger", "entry_id"), ("levels", "sku"), ("idempotency", "id")):
            hash_key_table(client, name, key)
        client.put_item(TableName="levels", Item={"sku": {"S": "sku-1"}, "level": {"N": "10"}})
        yield client


def take(order_id: str, quantity: int) -> tuple[list[LedgerEntry], list[StateUpdate]]:
    entry = LedgerEntry(
        "ledger", {"entry_id": f"{order_id}#sku-1", "quantity": quantity}, "entry_id"
    )
    update = StateUpdate(
        "levels",
        {"sku": "sku-1"},
        "SET #l = #l - :q",
        values={":q": quantity},
        names={"#l": "level"},
        condition="#l >= :q",
    )
    return [entry], [update]


def level(client: Any) -> int:
    return int(
        client.get_item(TableName="levels", Key={"sku": {"S": "sku-1"}})["Item"]["level"]["N"]
    )


def test_the_same_ledger_entry_applied_twice_changes_state_once(dynamodb: Any) -> None:
    ledger = ConditionalLedger(dynamodb)

    first = ledger.apply(*take("ord-1", 3))
    second = ledger.apply(*take("ord-1", 3))

    assert (first, second) == (ApplyOutcome.APPLIED, ApplyOutcome.ALREADY_APPLIED)
    assert level(dynamodb) == 7


def test_a_failed_update_condition_writes_nothing(dynamodb: Any) -> None:
    ledger = ConditionalLedger(dynamodb)

    with pytest.raises(UpdateConditionFailedError, match="levels"):
        ledger.apply(*take("ord-big", 11))

    assert level(dynamodb) == 10
    assert "Item" not in dynamodb.get_item(
        TableName="ledger", Key={"entry_id": {"S": "ord-big#sku-1"}}
    )


def test_an_effect_runs_once_per_key_and_repeats_return_its_result(dynamodb: Any) -> None:
    once = OnceOnly("idempotency", client=dynamodb)
    once.register_lambda_context(FakeLambdaContext())  # type: ignore[arg-type]
    charges: list[str] = []

    def charge() -> dict[str, Any]:
        charges.append("ord-1")
        return {"payment_id": f"pay-{len(charges)}"}

    results = [once.run("charge-ord-1", charge) for _ in range(3)]

    assert charges == ["ord-1"]
    assert results == [{"payment_id": "pay-1"}] * 3


def test_an_effect_that_raises_is_not_remembered(dynamodb: Any) -> None:
    once = OnceOnly("idempotency", client=dynamodb)
    once.register_lambda_context(FakeLambdaContext())  # type: ignore[arg-type]
    attempts: list[int] = []

    def flaky() -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("gateway timed out")
        return {"ok": True}

    with pytest.raises(ConnectionError):
        once.run("charge-ord-2", flaky)
    assert once.run("charge-ord-2", flaky) == {"ok": True}
    assert len(attempts) == 2


def test_two_concurrent_attempts_run_the_effect_once(dynamodb: Any) -> None:
    # GIVEN two deliveries of the same order racing, the first still inside its effect
    once = OnceOnly("idempotency", client=dynamodb)
    once.register_lambda_context(FakeLambdaContext())  # type: ignore[arg-type]
    inside, release = threading.Event(), threading.Event()
    runs: list[str] = []

    def slow_charge() -> dict[str, Any]:
        runs.append("charge")
        inside.set()
        release.wait(5)
        return {"payment_id": "pay-1"}

    outcome: dict[str, Any] = {}
    first = threading.Thread(
        target=lambda: outcome.update(first=once.run("charge-ord-3", slow_charge))
    )
    first.start()
    inside.wait(5)

    # WHEN the second attempt arrives while the first is in progress
    with pytest.raises(IdempotencyAlreadyInProgressError):
        once.run("charge-ord-3", slow_charge)
    release.set()
    first.join(5)

    # THEN the effect ran once, and a retry of the second sees the first's result
    assert runs == ["charge"]
    assert outcome["first"] == {"payment_id": "pay-1"}
    assert once.run("charge-ord-3", slow_charge) == {"payment_id": "pay-1"}
    assert runs == ["charge"]
