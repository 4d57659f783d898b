"""Each execution environment reports its init once, as Lambda reports ``Init Duration``.

AWS Lambda Developer Guide, "Understanding the Lambda execution environment lifecycle"
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html): the Init phase
runs the function's static code (the handler module's import) once per execution environment,
and the REPORT line of that environment's first invocation carries its ``Init Duration``.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orderflow.emulator.clock import EmulatorClock
from orderflow.local.faults import FaultPlan
from orderflow.local.functions import FunctionSpec
from orderflow.local.pollers import OK, ExecutionEnvironment, InvocationReport, SqsPoller
from orderflow.local.status import init_durations, init_line, init_summary

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process semantics on Linux")

HANDLERS = """
import time

_started = time.perf_counter()
# Module-level work, as a handler module's imports and clients are: measured by the module.
PRIMES = [n for n in range(2, 60_000) if all(n % d for d in range(2, int(n ** 0.5) + 1))]
IMPORT_WORK_MS = (time.perf_counter() - _started) * 1000


def report(event, context):
    return {"import_work_ms": IMPORT_WORK_MS, "primes": len(PRIMES)}


def done(event, context):
    return None
"""


@pytest.fixture
def handlers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "init_work_handlers.py").write_text(HANDLERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return tmp_path


def spec_for(
    handler: str, url: str = "http://unused", arn: str = "arn:aws:sqs:::q"
) -> FunctionSpec:
    return FunctionSpec(
        service="payment",
        function_name="orderflow-local-payment",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:orderflow-local-payment",
        handler=handler,
        timeout_seconds=30,
        memory_mb=512,
        environment={},
        queue_url=url,
        queue_arn=arn,
        batch_size=1,
        batching_window_seconds=0,
        maximum_concurrency=1,
        report_batch_item_failures=True,
    )


def environment_for(spec: FunctionSpec, tmp_path: Path) -> ExecutionEnvironment:
    context = multiprocessing.get_context("spawn")
    return ExecutionEnvironment(context, spec, FaultPlan().to_json(), str(tmp_path / "faults"))


def test_an_environments_init_duration_covers_its_handler_import(handlers: Path) -> None:
    # GIVEN a fresh environment for a handler whose module does measurable work at import
    environment = environment_for(spec_for("init_work_handlers.report"), handlers)

    # WHEN it is invoked (started on first use, as Lambda starts one)
    try:
        outcome, response = environment.invoke({"Records": []}, timeout_real=60)
    finally:
        environment.close()

    # THEN its reported init is positive and holds the whole of the module's own import work
    assert outcome == OK
    assert response["primes"] > 6000
    assert environment.init_duration_ms is not None
    assert environment.init_duration_ms >= response["import_work_ms"] > 0


def test_the_init_is_reported_with_an_environments_first_invocation_only(
    aws: Callable[[str], Any], handlers: Path
) -> None:
    # GIVEN a queue, and a poller that owns one real environment
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    spec = spec_for("init_work_handlers.done", url, arn)
    environment = environment_for(spec, handlers)
    reports: list[InvocationReport] = []
    poller = SqsPoller(
        spec,
        sqs,
        EmulatorClock(100),
        environment=environment,
        report=reports.append,
        stop=threading.Event(),
    )

    # WHEN it takes three batches, one at a time
    try:
        for body in ("a", "b", "c"):
            sqs.send_message(QueueUrl=url, MessageBody=body)
            assert poller.poll_once() is not None
    finally:
        environment.close()

    # THEN the cold invocation carries the environment's init and the warm ones carry none
    assert [r.cold for r in reports] == [True, False, False]
    first = reports[0].init_duration_ms
    assert first is not None
    assert first > 0
    assert [r.init_duration_ms for r in reports[1:]] == [None, None]
    assert init_durations(reports) == (first,)
    assert init_summary(init_durations(reports)) == f"{first:.0f} ms"
    assert init_line(reports[0]) == f"payment: Init Duration {first:.2f} ms"
    assert init_line(reports[1]) is None


def test_the_status_shows_the_latest_and_the_slowest_init() -> None:
    assert init_summary(()) == "-"
    assert init_summary((412.4,)) == "412 ms"
    assert init_summary((412.4, 980.0, 388.6)) == "389 ms (max 980 ms of 3)"
