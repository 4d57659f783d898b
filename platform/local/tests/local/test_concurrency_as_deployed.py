"""Functions run as deployed: the template's concurrency, the function's own timeout."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orderflow.emulator.clock import EmulatorClock
from orderflow.local.demo import DemoOptions
from orderflow.local.faults import CrashDice
from orderflow.local.functions import FunctionSpec
from orderflow.local.pollers import (
    OK,
    InvocationReport,
    VisibilityHold,
    invocation_timeout,
    order_id_of,
)
from orderflow.local.runtime import (
    RuntimeOptions,
    concurrency_ceiling,
    machine_concurrency,
)

from .test_pollers import ScriptedEnvironment, poller, send, spec_for

TEMPLATES = {"payment": 10, "inventory": 5, "notifications": 5, "analytics": 2}
"""Each service template's ScalingConfig.MaximumConcurrency (default parameters)."""
ROOMY_MB = 16_000
MANY_CPUS = 8


def spec_with(**changes: Any) -> FunctionSpec:
    return spec_for("http://unused", "arn:aws:sqs:us-east-1:123456789012:q", **changes)


@pytest.mark.parametrize("options", [DemoOptions(), RuntimeOptions()], ids=["demo", "runtime"])
def test_by_default_each_function_runs_with_its_templates_concurrency(options: Any) -> None:
    ceiling = concurrency_ceiling(
        options.max_concurrency, len(TEMPLATES), memory_mb=ROOMY_MB, cpus=MANY_CPUS
    )
    assert {
        s: spec_with(maximum_concurrency=n).concurrency(ceiling) for s, n in TEMPLATES.items()
    } == TEMPLATES


def test_a_small_machine_still_runs_two_environments_of_each_function() -> None:
    ceiling = concurrency_ceiling(None, len(TEMPLATES), memory_mb=300, cpus=MANY_CPUS)
    assert ceiling == 2
    assert concurrency_ceiling(None, len(TEMPLATES), memory_mb=ROOMY_MB, cpus=1) == 2
    assert {
        s: spec_with(maximum_concurrency=n).concurrency(ceiling) for s, n in TEMPLATES.items()
    } == dict.fromkeys(TEMPLATES, 2)


def test_the_machine_ceiling_follows_its_memory_and_its_cores() -> None:
    assert machine_concurrency(4, memory_mb=4 * 160 * 7, cpus=MANY_CPUS) == 7
    assert machine_concurrency(4, memory_mb=ROOMY_MB, cpus=2) == 4
    assert concurrency_ceiling(3, 4, memory_mb=ROOMY_MB, cpus=MANY_CPUS) == 3


@pytest.mark.parametrize(
    ("factor", "visibility", "expected"),
    [(6.0, 180, 30.0), (10.0, 180, 30.0), (6.0, 360, 30.0), (10.0, None, 3.0)],
)
def test_an_invocation_gets_the_functions_real_timeout_whatever_the_clock(
    factor: float, visibility: int | None, expected: float
) -> None:
    spec = spec_with(timeout_seconds=30)
    assert invocation_timeout(spec, EmulatorClock(factor), visibility) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("factor", "window", "receive_seconds"),
    # x10: 180 s of visibility pass in 18 real seconds, under a 30 s invocation: held for the
    # window, the invocation and the deletes (0.1 + 30 + 2 real seconds, 321 emulated); x1:
    # the queue's own timeout already covers them (Lambda requires visibility >= timeout).
    [(10.0, 1, 321), (12.0, 0, 384), (1.0, 1, 180)],
)
def test_records_are_held_for_as_long_as_their_invocation_may_run(
    factor: float, window: int, receive_seconds: int
) -> None:
    spec = spec_with(timeout_seconds=30, batching_window_seconds=window)
    hold = VisibilityHold.of(spec, EmulatorClock(factor), 180, 30.0)
    assert (hold.queue_seconds, hold.receive_seconds) == (180, receive_seconds)
    assert hold.extended == (factor > 1)


def test_crash_limits_hold_when_environments_roll_at_once(tmp_path: Path) -> None:
    # GIVEN sixteen environments of one function, all due to crash, under a limit of two
    dice = [CrashDice("payment", 1.0, 2, tmp_path / "crashes", random.Random(n)) for n in range(16)]
    start = threading.Barrier(len(dice))
    crashed: list[bool] = []

    def roll(one: CrashDice) -> None:
        start.wait()
        crashed.append(one.roll())

    threads = [threading.Thread(target=roll, args=(d,)) for d in dice]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # THEN exactly two crashed
    assert crashed.count(True) == 2
    assert dice[0].crashes() == 2


def test_each_invocation_reports_its_records_and_orders(aws: Callable[[str], Any]) -> None:
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = (sqs, url, arn)
    send(sqs, url, json.dumps({"Type": "Notification", "Message": '{"order_id": "ord-1"}'}), "x")

    def fail_x(event: dict[str, Any]) -> tuple[str, Any]:
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "x"]
        return OK, {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    reports: list[InvocationReport] = []
    poller(queue, ScriptedEnvironment(fail_x), reports).poll_once()
    [report] = reports
    assert sorted(report.order_ids) == ["", "ord-1"]
    assert len(report.message_ids) == 2
    assert len(report.failed_ids) == 1
    # ... and reads back from its JSON line, as the runtime's invocation log holds it
    raw = json.loads(report.to_json())
    raw.pop("type")
    assert InvocationReport(**raw) == report


def test_a_body_without_an_order_names_none() -> None:
    assert order_id_of("not json") == ""
    assert order_id_of('{"order_id": "ord-2"}') == "ord-2"
    assert order_id_of("[1, 2]") == ""
