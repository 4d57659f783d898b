"""The shell never starts a record that might not finish before the invocation times out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from orderflow.consumer import (
    CLIENT_TIMEOUTS,
    NON_IDEMPOTENT_TIMEOUTS,
    RECORD_BUDGET,
    ClientTimeouts,
    RecordBudget,
    SqsConsumer,
    effect_window_ms,
)
from orderflow.contracts import OrderEvent
from orderflow.failures import FailureLedger
from orderflow.idempotency import OnceOnly
from orderflow.observability import build_logger
from orderflow.testing import make_order, sqs_event, sqs_record

from .conftest import hash_key_table


@dataclass
class InvocationClock:
    """A Lambda context whose time left drops only by what the records spend (no real waiting)."""

    left_ms: int
    function_name: str = "orderflow-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:orderflow-test"
    aws_request_id: str = "req-1"
    reads: list[int] = field(default_factory=list)

    def get_remaining_time_in_millis(self) -> int:
        self.reads.append(self.left_ms)
        return self.left_ms

    def spend(self, ms: int) -> None:
        self.left_ms = max(0, self.left_ms - ms)


def ten_orders() -> tuple[dict[str, Any], list[str]]:
    orders = [make_order(f"ord-{n}") for n in range(10)]
    records = [sqs_record(o, message_id=f"m-{n}") for n, o in enumerate(orders)]
    return sqs_event(records), [o.order_id for o in orders]


def test_records_left_without_enough_time_are_failed_unstarted() -> None:
    # GIVEN 30 s left, a 10 s record budget, and an email that takes 4 s to send per record
    context = InvocationClock(left_ms=30_000)
    emails: list[str] = []

    def send_email(event: OrderEvent) -> None:
        context.spend(4_000)
        emails.append(event.order_id)

    event, order_ids = ten_orders()
    consumer = SqsConsumer(
        "notifications",
        logger=build_logger("notifications-budget"),
        record_budget=RecordBudget(calls=(CLIENT_TIMEOUTS,), margin_seconds=1.0),
    )
    assert consumer.record_budget.milliseconds == 10_000
    # WHEN the batch runs out of time halfway
    response = consumer.process(event, context, send_email)  # type: ignore[arg-type]
    # THEN the six records started with 10 s or more left sent their email, and the other four
    # were reported failed without their handler ever running (no email, nothing half done)
    assert emails == order_ids[:6]
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    assert failed == [f"m-{n}" for n in range(6, 10)]
    assert context.reads[:7] == [30_000, 26_000, 22_000, 18_000, 14_000, 10_000, 6_000]


def test_an_invocation_that_starts_short_of_time_runs_no_record() -> None:
    context = InvocationClock(left_ms=RECORD_BUDGET.milliseconds - 1)
    handled: list[str] = []
    event, _ = ten_orders()
    consumer = SqsConsumer("notifications", logger=build_logger("notifications-budget"))

    response = consumer.process(event, context, lambda e: handled.append(e.order_id))  # type: ignore[arg-type]

    assert handled == []
    assert len(response["batchItemFailures"]) == 10


def test_a_record_that_fails_keeps_the_rest_of_the_batch_within_budget() -> None:
    # A failing record spends time too: the records after it are judged on what is left.
    context = InvocationClock(left_ms=21_000)
    handled: list[str] = []

    def handle(event: OrderEvent) -> None:
        context.spend(5_000)
        if event.order_id == "ord-0":
            raise RuntimeError("gateway unreachable")
        handled.append(event.order_id)

    event, _ = ten_orders()
    consumer = SqsConsumer("payment", logger=build_logger("payment-budget"))
    response = consumer.process(event, context, handle)  # type: ignore[arg-type]

    assert handled == ["ord-1", "ord-2"]
    assert len(response["batchItemFailures"]) == 8


def test_a_record_not_started_runs_first_when_it_comes_back() -> None:
    # GIVEN a slow batch with time for one record only: nine fresh orders, and at its tail the
    # one a previous invocation did not start (its second receive; SQS counts both towards the
    # queue's maxReceiveCount, and parks it past that without it ever having run)
    context = InvocationClock(left_ms=14_000)
    handled: list[str] = []

    def handle(event: OrderEvent) -> None:
        context.spend(5_000)
        handled.append(event.order_id)

    orders = [make_order(f"ord-{n}") for n in range(10)]
    records = [sqs_record(o, message_id=f"m-{n}") for n, o in enumerate(orders[:9])]
    records.append(sqs_record(orders[9], message_id="m-9", receive_count=2))
    consumer = SqsConsumer("notifications", logger=build_logger("notifications-budget"))
    # WHEN the batch runs
    response = consumer.process(sqs_event(records), context, handle)  # type: ignore[arg-type]
    # THEN the record that waited longest ran, and only fresh records go back unstarted
    assert handled == ["ord-9"]
    failed = [item["itemIdentifier"] for item in response["batchItemFailures"]]
    assert failed == [f"m-{n}" for n in range(9)]


def test_records_run_most_received_first_and_ties_keep_the_batch_order() -> None:
    counts = [1, 3, 2, 1, 3]
    records = [
        sqs_record(make_order(f"ord-{n}"), message_id=f"m-{n}", receive_count=count)
        for n, count in enumerate(counts)
    ]
    handled: list[str] = []
    consumer = SqsConsumer("payment", logger=build_logger("payment-budget"))

    consumer.process(
        sqs_event(records), InvocationClock(left_ms=60_000), lambda e: handled.append(e.order_id)
    )  # type: ignore[arg-type]

    assert handled == ["ord-1", "ord-4", "ord-2", "ord-0", "ord-3"]


def test_a_fifo_batch_keeps_its_order() -> None:
    # A FIFO queue promises order within a message group: the shell never reorders its records.
    fifo = "arn:aws:sqs:us-east-1:123456789012:orderflow-test-queue.fifo"
    records = [
        sqs_record(make_order(f"ord-{n}"), message_id=f"m-{n}", receive_count=count, queue_arn=fifo)
        for n, count in enumerate([1, 2, 3])
    ]
    handled: list[str] = []
    consumer = SqsConsumer("payment", logger=build_logger("payment-budget"))

    consumer.process(
        sqs_event(records), InvocationClock(left_ms=60_000), lambda e: handled.append(e.order_id)
    )  # type: ignore[arg-type]

    assert handled == ["ord-0", "ord-1", "ord-2"]


@pytest.mark.functional
def test_an_email_is_sent_only_with_time_left_for_it_and_its_once_only_record(
    ledger: FailureLedger,
) -> None:
    # GIVEN a start window of 19 s for the send, 25 s left, and records whose first calls take
    # 2 s and whose send takes 3 s (the ledger fixture's in-process AWS holds the once-only table)
    import boto3  # noqa: PLC0415

    dynamodb = boto3.client("dynamodb")
    hash_key_table(dynamodb, "idempotency", "id")
    window = effect_window_ms(NON_IDEMPOTENT_TIMEOUTS)
    assert window == 19_000
    once = OnceOnly("idempotency", client=dynamodb, start_window_ms=window)
    sent: list[str] = []

    def run_batch(context: InvocationClock) -> list[str]:
        once.register_lambda_context(context)  # type: ignore[arg-type]

        def notify(event: OrderEvent) -> None:
            context.spend(2_000)

            def send() -> dict[str, Any]:
                context.spend(3_000)
                sent.append(event.order_id)
                return {"message_id": f"ses-{event.order_id}"}

            once.run(f"email-{event.order_id}", send)

        consumer = SqsConsumer(
            "notifications", logger=build_logger("notifications-window"), failure_ledger=ledger
        )
        event, _ = ten_orders()
        response = consumer.process(event, context, notify)  # type: ignore[arg-type]
        return [item["itemIdentifier"] for item in response["batchItemFailures"]]

    # WHEN the batch runs: the first record sends with 23 s left, the next ones start (the
    # record budget is 10 s) but reach their send with 18 s or less
    failed = run_batch(InvocationClock(left_ms=25_000))
    # THEN only the first email went out, the others were handed back with nothing done: no
    # failure recorded, no once-only record left in progress to block their retry
    assert sent == ["ord-0"]
    assert failed == [f"m-{n}" for n in range(1, 10)]
    assert ledger.lookup(failed) == {}
    # AND their retry, with time enough, sends each of them once (and ord-0 not again)
    assert run_batch(InvocationClock(left_ms=600_000)) == []
    assert sorted(sent) == sorted(f"ord-{n}" for n in range(10))


def test_the_default_budget_outlasts_the_slowest_call_of_every_consumer_client() -> None:
    # One call at its worst: two attempts of connect + read, and one throttling backoff (1 s).
    assert CLIENT_TIMEOUTS.worst_case_seconds() == 2 * (1.0 + 3.0) + 1.0
    assert NON_IDEMPOTENT_TIMEOUTS.worst_case_seconds() == 1.0 + 8.0
    assert RECORD_BUDGET.admits(CLIENT_TIMEOUTS)
    assert RECORD_BUDGET.admits(NON_IDEMPOTENT_TIMEOUTS)
    assert RECORD_BUDGET.milliseconds == 10_000
    slower = ClientTimeouts(connect_seconds=3.0, read_seconds=10.0, max_attempts=3)
    assert not RECORD_BUDGET.admits(slower)
    assert RecordBudget(calls=(CLIENT_TIMEOUTS, slower)).admits(slower)


def test_client_timeouts_become_the_botocore_config_clients_are_built_with() -> None:
    config = CLIENT_TIMEOUTS.botocore_config(max_pool_connections=4)
    assert (config.connect_timeout, config.read_timeout) == (1.0, 3.0)
    assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert config.max_pool_connections == 4
    # a call with no idempotency key is never repeated by the SDK
    assert NON_IDEMPOTENT_TIMEOUTS.botocore_config().retries == {
        "mode": "standard",
        "total_max_attempts": 1,
    }


@pytest.mark.parametrize("bad", [(0.0, 1.0, 1), (1.0, 0.0, 1), (1.0, 1.0, 0)])
def test_timeouts_that_bound_nothing_are_refused(bad: tuple[float, float, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        ClientTimeouts(*bad)
