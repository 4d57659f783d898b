"""Lambda sends each invocation's platform lines to the function's log group, with its role.

Per "Sending Lambda function logs to CloudWatch Logs"
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html): one log stream
per execution environment, ``START``, ``END`` and ``REPORT`` lines per invocation (``Init
Duration`` on the environment's first), written with the execution role's
``logs:CreateLogStream`` and ``logs:PutLogEvents``; without those permissions the logs are lost
and the function still runs.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from orderflow.local.faults import FaultPlan
from orderflow.local.functions import FunctionSpec
from orderflow.local.pollers import OK, ExecutionEnvironment, FunctionLogs

GROUP = "/aws/lambda/orderflow-local-payment"


def lines(logs: Any, stream: str) -> list[str]:
    events = logs.get_log_events(logGroupName=GROUP, logStreamName=stream)["events"]
    return [e["message"] for e in events]


def test_an_invocation_writes_start_end_and_report_to_the_environments_stream(
    aws: Callable[[str], Any],
) -> None:
    logs = aws("logs")
    logs.create_log_group(logGroupName=GROUP)
    writer = FunctionLogs(logs, GROUP)

    now = time.time()
    writer.create_stream("2026/12/02/[$LATEST]abc")
    writer.invocation(
        "2026/12/02/[$LATEST]abc",
        "req-1",
        started=now,
        ended=now + 0.2504,
        memory_mb=512,
        init_duration_ms=412.3,
    )

    start, end, report = lines(logs, "2026/12/02/[$LATEST]abc")
    assert start == "START RequestId: req-1 Version: $LATEST"
    assert end == "END RequestId: req-1"
    assert report == (
        "REPORT RequestId: req-1\tDuration: 250.40 ms\tBilled Duration: 251 ms\t"
        "Memory Size: 512 MB\tInit Duration: 412.30 ms"
    )


def test_logs_the_role_may_not_write_are_lost_without_failing_anything() -> None:
    class Denied:
        def __getattr__(self, name: str) -> Callable[..., Any]:
            def call(**_: Any) -> Any:
                raise ClientError(
                    {"Error": {"Code": "AccessDeniedException", "Message": "no"}}, name
                )

            return call

    writer = FunctionLogs(Denied(), GROUP)
    writer.create_stream("s")
    writer.invocation("s", "r", started=1.0, ended=2.0, memory_mb=128, init_duration_ms=None)


class Recorded:
    def __init__(self) -> None:
        self.streams: list[str] = []
        self.reports: list[tuple[str, float | None]] = []

    def create_stream(self, stream: str) -> None:
        self.streams.append(stream)

    def invocation(self, stream: str, request_id: str, **timing: Any) -> None:
        self.reports.append((stream, timing["init_duration_ms"]))


@pytest.mark.skipif(sys.platform != "linux", reason="process semantics checked on Linux")
def test_the_stream_is_the_environments_own_and_init_is_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "quiet_probe.py").write_text("def handler(event, context):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    recorded = Recorded()
    spec = FunctionSpec(
        service="payment",
        function_name="orderflow-local-payment",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:orderflow-local-payment",
        handler="quiet_probe.handler",
        timeout_seconds=30,
        memory_mb=512,
        environment={},
        queue_url="http://unused",
        queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
        batch_size=10,
        batching_window_seconds=0,
        maximum_concurrency=2,
        report_batch_item_failures=True,
    )
    environment = ExecutionEnvironment(
        multiprocessing.get_context("spawn"),
        spec,
        FaultPlan().to_json(),
        str(tmp_path),
        logs=recorded,  # type: ignore[arg-type]
    )
    try:
        assert environment.invoke({}, timeout_real=30)[0] == OK
        assert environment.invoke({}, timeout_real=30)[0] == OK
    finally:
        environment.close()

    (stream,) = recorded.streams
    assert "/[$LATEST]" in stream
    assert [s for s, _ in recorded.reports] == [stream, stream]
    assert recorded.reports[0][1] is not None
    assert recorded.reports[1][1] is None
