"""The seams every service shares: its settings, its conflict retries, its names, its entry."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from orderflow import naming
from orderflow.consumer import LambdaEntry
from orderflow.contracts import OrderCreated
from orderflow.idempotency import OnceOnly
from orderflow.observability import Telemetry
from orderflow.retry import Backoff, retrying
from orderflow.settings import ConfigError, one_of, optional, required
from orderflow.testing import FakeLambdaContext, make_order, sqs_event, sqs_record

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


class LostRaceError(Exception):
    pass


def test_a_missing_setting_names_the_variable():
    with pytest.raises(ConfigError, match="environment variable TOPIC_ARN is not set"):
        required("TOPIC_ARN", {"TOPIC_ARN": "  "})
    assert required("TOPIC_ARN", {"TOPIC_ARN": " arn "}) == "arn"
    assert optional("GATEWAY", "simulated", {}) == "simulated"


def test_a_setting_outside_its_choices_is_refused():
    assert one_of("GATEWAY", ("simulated", "stripe"), {}) == "simulated"
    with pytest.raises(ConfigError, match="GATEWAY must be one of simulated, stripe, got 'x'"):
        one_of("GATEWAY", ("simulated", "stripe"), {"GATEWAY": "x"})


def test_a_write_that_loses_races_is_tried_again_after_a_bounded_pause():
    pauses: list[float] = []
    outcomes: list[Any] = [LostRaceError(), LostRaceError(), None, "applied"]

    def step() -> str | None:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    backoff = Backoff(attempts=5, base_seconds=0.01, cap_seconds=0.015, sleep=pauses.append)
    assert retrying(step, conflicts=LostRaceError, backoff=backoff) == "applied"
    # One pause per lost race, none for "already done elsewhere"; each within its ceiling.
    assert len(pauses) == 2
    assert 0 <= pauses[0] <= 0.01
    assert 0 <= pauses[1] <= 0.015


def test_retrying_gives_up_after_its_attempts_without_a_last_pause():
    pauses: list[float] = []
    calls = 0

    def step() -> str | None:
        nonlocal calls
        calls += 1
        raise LostRaceError

    assert retrying(step, conflicts=LostRaceError, backoff=Backoff(3, sleep=pauses.append)) is None
    assert calls == 3
    assert len(pauses) == 2


def test_resource_names_follow_the_stage_convention():
    assert naming.queue("dev", "payment") == "orderflow-dev-payment"
    assert naming.dlq("dev", "payment") == "orderflow-dev-payment-dlq"
    assert naming.alarm("dev", "payment", "dlq-growth") == "orderflow-dev-payment-dlq-growth"
    assert naming.topic("dev") == "orderflow-dev-order-events"
    assert naming.stack("dev", "platform") == "orderflow-dev-platform"
    assert naming.dlq("dev", "payment").startswith(naming.prefix("dev"))


class Recorder:
    """A domain that records what it handled and fails one order."""

    def __init__(self) -> None:
        self.handled: list[str] = []

    def handle(self, event: OrderCreated) -> None:
        if event.order_id == "ord-bad":
            raise RuntimeError("cannot handle ord-bad")
        self.handled.append(event.order_id)


def test_the_entry_runs_the_batch_reports_failures_and_registers_the_invocation(monkeypatch):
    monkeypatch.delenv("FAILURE_LEDGER_TABLE", raising=False)
    domain = Recorder()
    built: list[Telemetry] = []
    once = OnceOnly("idempotency", client=boto3.client("dynamodb"))

    def build(telemetry: Telemetry) -> Recorder:
        built.append(telemetry)
        return domain

    entry = LambdaEntry("payment", build)
    records = [
        sqs_record(make_order("ord-1")),
        sqs_record(make_order("ord-bad"), message_id="m-bad"),
    ]
    context = FakeLambdaContext()

    response = entry(sqs_event(records), context)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
    assert domain.handled == ["ord-1"]
    # Built through the bootstrap's cache, over the entry's telemetry.
    assert built
    assert all(telemetry is entry.telemetry for telemetry in built)
    assert once.lambda_context is context


def test_a_missing_setting_fails_each_record_through_the_shell(monkeypatch, ledger):
    monkeypatch.delenv("FAILURE_LEDGER_TABLE", raising=False)

    def build(telemetry: Telemetry) -> Recorder:
        required("TOPIC_ARN", {})  # raises: the stack did not set it
        return Recorder()

    entry = LambdaEntry("payment", build)
    entry.consumer = type(entry.consumer)(
        "payment", logger=entry.telemetry.logger, failure_ledger=ledger
    )
    records = [sqs_record(make_order("ord-1"), message_id="m-1")]

    response = entry(sqs_event(records), FakeLambdaContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    recorded = ledger.lookup(["m-1"])["m-1"]
    assert recorded.exception_type == "ConfigError"
    assert "TOPIC_ARN" in recorded.message
