"""Cost per call of the embedded AWS as it fills up: extensions on against plain moto, one run.

Four calls the pipeline makes all the time, each timed in-process (moto's ``mock_aws``, no HTTP)
while 0, 1,000, 10,000 and 100,000 messages are queued or items stored:

* SendMessageBatch of 10 to a queue holding N messages;
* ReceiveMessage of 10 plus DeleteMessageBatch of them, from a queue holding N (the 10 are sent
  untimed before each call);
* Publish to a topic with 4 SQS subscriptions whose queues hold N between them (N / 4 each);
* TransactWriteItems with one Put into a table holding N items;
* Query by hash key (10 items) on a table with a range key holding N items besides them, under
  other hash keys (10 a key). It is measured and printed with the others but is not in
  ``CALLS``, the rows the bench's figures are made of.

The backlog is written to moto's model directly (a Message appended to the queue, an item put
into the table): through the API, plain moto takes minutes to queue 10,000 messages. Plain moto
is measured first, then every extension the embedded AWS installs. A size whose call took longer
than ``slow_call_seconds`` ends that call's larger sizes for that side ("not reached"), so a run
stays bounded, and the timed calls at one size stop after 5 s together (at least one). Run as
``python -m orderflow.bench.callcost``: it prints its JSON, and the bench runs it in
its own interpreter so nothing it installs leaks into other benchmarks.

A call's cost is the CPU time this process spends on it (client, moto and the extensions all run
in it, on one thread): on a shared machine the wall-clock time of the same call swings with
whatever else runs, from one size to the next, by more than the growth being measured. The
wall-clock medians are kept beside it (``wall_seconds``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

SIZES = (0, 1_000, 10_000, 100_000)
CALLS = (
    "SendMessageBatch",
    "ReceiveMessage + DeleteMessageBatch",
    "Publish to 4",
    "TransactWriteItems",
)
QUERY = "Query by hash key"
MEASURED = (*CALLS, QUERY)
"""Every call measured: ``CALLS`` and the Query row."""
QUERY_ITEMS = 10
SIDES = ("extensions", "plain moto")
BATCH = 10
SUBSCRIBERS = 4
REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class CallCost:
    """Median CPU seconds per call of one call at one size on one side (None when not reached),
    and the median wall-clock seconds."""

    call: str
    side: str
    size: int
    seconds: float | None
    calls: int
    wall_seconds: float | None = None


def per_size(costs: Sequence[CallCost], call: str, side: str) -> dict[int, float | None]:
    """size -> seconds per call for one call and side (None where not reached)."""
    return {c.size: c.seconds for c in costs if c.call == call and c.side == side}


def per_size_wall(costs: Sequence[CallCost], call: str, side: str) -> dict[int, float | None]:
    """size -> median wall-clock seconds per call for one call and side."""
    return {c.size: c.wall_seconds for c in costs if c.call == call and c.side == side}


def growth(costs: Sequence[CallCost], call: str, side: str) -> float | None:
    """Cost at the largest size as a multiple of the cost at the smallest (None if either is
    missing)."""
    sizes = per_size(costs, call, side)
    if not sizes:
        return None
    smallest, largest = sizes.get(min(sizes)), sizes.get(max(sizes))
    if smallest is None or largest is None or smallest <= 0:
        return None
    return largest / smallest


def batch_path_rate(costs: Sequence[CallCost], side: str, size: int) -> float | None:
    """Messages per CPU second through the SQS batch path (send 10, receive 10, delete 10) at
    ``size``; None if either call was not reached."""
    send = per_size(costs, CALLS[0], side).get(size)
    receive = per_size(costs, CALLS[1], side).get(size)
    if send is None or receive is None or send + receive <= 0:
        return None
    return BATCH / (send + receive)


# --- measuring -----------------------------------------------------------------------------


CELL_BUDGET_SECONDS = 5.0
"""Timed calls at one size stop once they have taken this long together (at least one call)."""


@dataclass(frozen=True)
class Timing:
    """Median CPU and wall-clock seconds of the timed calls at one size, and how many."""

    cpu: float
    wall: float
    calls: int


def _median_call(call: Callable[[], object], prepare: Callable[[], object], calls: int) -> Timing:
    cpu: list[float] = []
    wall: list[float] = []
    while len(cpu) < calls and sum(wall) < CELL_BUDGET_SECONDS:
        prepare()
        started, started_cpu = time.perf_counter(), time.process_time()
        call()
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    return Timing(float(statistics.median(cpu)), float(statistics.median(wall)), len(cpu))


def _fill_queue(queue_name: str, count: int) -> None:
    """``count`` visible messages written to moto's model directly."""
    from moto.sqs.models import Message, sqs_backends  # noqa: PLC0415

    queue = sqs_backends[ACCOUNT][REGION].queues[queue_name]
    for _ in range(count):
        message = Message(str(uuid.uuid4()), '{"backlog": true}')
        message.mark_sent()
        queue.add_message(message)


def _fill_table(table_name: str, count: int) -> None:
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

    backend = dynamodb_backends[ACCOUNT][REGION]
    for number in range(count):
        backend.put_item(table_name, {"pk": {"S": f"backlog-{number}"}})


def _fill_keyed_table(table_name: str, count: int) -> None:
    """``count`` items under ``count / QUERY_ITEMS`` other hash keys, written to moto's model."""
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

    backend = dynamodb_backends[ACCOUNT][REGION]
    for number in range(count):
        item = {
            "pk": {"S": f"backlog-{number // QUERY_ITEMS}"},
            "sk": {"S": f"{number % QUERY_ITEMS:04d}"},
        }
        backend.put_item(table_name, item)


def _query_call(calls: int, size: int) -> Timing:
    import boto3  # noqa: PLC0415

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="bench-query",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    _fill_keyed_table("bench-query", size)
    for number in range(QUERY_ITEMS):
        item: Any = {"pk": {"S": "order-1"}, "sk": {"S": f"{number:04d}"}}
        dynamodb.put_item(TableName="bench-query", Item=item)

    def query() -> None:
        got = dynamodb.query(
            TableName="bench-query",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "order-1"}},
        )
        if got["Count"] != QUERY_ITEMS:
            raise RuntimeError(f"Query returned {got['Count']} items, not {QUERY_ITEMS}")

    return _median_call(query, lambda: None, calls)


def _one_size(call: str, size: int, calls: int) -> Timing:
    import boto3  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415

    entries: Any = [{"Id": str(i), "MessageBody": '{"order": 1}'} for i in range(BATCH)]
    with mock_aws():
        if call == QUERY:
            return _query_call(calls, size)
        sqs = boto3.client("sqs", region_name=REGION)
        if call == CALLS[0]:
            url = sqs.create_queue(QueueName="bench")["QueueUrl"]
            _fill_queue("bench", size)
            return _median_call(
                lambda: sqs.send_message_batch(QueueUrl=url, Entries=entries), lambda: None, calls
            )
        if call == CALLS[1]:
            url = sqs.create_queue(QueueName="bench")["QueueUrl"]
            _fill_queue("bench", size)

            def receive_and_delete() -> None:
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=BATCH)
                handles = [m["ReceiptHandle"] for m in got.get("Messages", [])]
                if handles:
                    sqs.delete_message_batch(
                        QueueUrl=url,
                        Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)],
                    )

            return _median_call(
                receive_and_delete,
                lambda: sqs.send_message_batch(QueueUrl=url, Entries=entries),
                calls,
            )
        if call == CALLS[2]:
            sns = boto3.client("sns", region_name=REGION)
            topic = sns.create_topic(Name="bench")["TopicArn"]
            for index in range(SUBSCRIBERS):
                url = sqs.create_queue(QueueName=f"bench-{index}")["QueueUrl"]
                arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:bench-{index}"
                sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
                _fill_queue(f"bench-{index}", size // SUBSCRIBERS)
            return _median_call(
                lambda: sns.publish(TopicArn=topic, Message='{"order": 1}'), lambda: None, calls
            )
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName="bench",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        _fill_table("bench", size)
        counter = iter(range(10**9))

        def transact() -> None:
            item = {"pk": {"S": f"new-{next(counter)}"}}
            dynamodb.transact_write_items(
                TransactItems=[{"Put": {"TableName": "bench", "Item": item}}]
            )

        return _median_call(transact, lambda: None, calls)


def measure_side(
    side: str, sizes: Sequence[int], calls: int, slow_call_seconds: float
) -> list[CallCost]:
    """Every call at every size on one side (this process's moto as it is now)."""
    costs = []
    for call in MEASURED:
        reached = True
        for size in sizes:
            timing = _one_size(call, size, calls) if reached else None
            if timing is None:
                costs.append(CallCost(call, side, size, None, 0))
                continue
            costs.append(CallCost(call, side, size, timing.cpu, timing.calls, timing.wall))
            if timing.wall > slow_call_seconds:
                reached = False
    return costs


def measure_call_costs(
    sizes: Sequence[int] = SIZES, calls: int = 15, slow_call_seconds: float = 2.0
) -> list[CallCost]:
    """Plain moto first, then with every extension installed (there is no going back)."""
    from orderflow.emulator.clock import EmulatorClock  # noqa: PLC0415
    from orderflow.emulator.server import install_extensions  # noqa: PLC0415

    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench")):
        os.environ.setdefault(name, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    plain = measure_side(SIDES[1], sizes, calls, slow_call_seconds)
    install_extensions(EmulatorClock())
    return measure_side(SIDES[0], sizes, calls, slow_call_seconds) + plain


def from_json(document: Sequence[dict[str, Any]]) -> list[CallCost]:
    return [CallCost(**entry) for entry in document]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orderflow.bench.callcost")
    parser.add_argument("--calls", type=int, default=15, help="timed calls per size")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--slow-call-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    costs = measure_call_costs(args.sizes, args.calls, args.slow_call_seconds)
    print(json.dumps([asdict(c) for c in costs]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
