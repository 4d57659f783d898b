"""The runtime's local.json: what other tools read, and the guard against a second runtime."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orderflow.local.runtime import (
    FunctionWorker,
    LocalResources,
    LocalRuntime,
    LocalRuntimeError,
    RuntimeOptions,
    ServiceResources,
    read_local_resources,
)

ROOT = Path(__file__).resolve().parents[4]


def resources(pid: int) -> LocalResources:
    payment = ServiceResources(
        stack="orderflow-local-payment",
        queue_url="http://127.0.0.1:5000/123456789012/orderflow-local-payment",
        queue_arn="arn:aws:sqs:us-east-1:123456789012:orderflow-local-payment",
        dlq_url="http://127.0.0.1:5000/123456789012/orderflow-local-payment-dlq",
        dlq_arn="arn:aws:sqs:us-east-1:123456789012:orderflow-local-payment-dlq",
        function_name="orderflow-local-payment",
        tables={"PaymentsTable": "orderflow-local-payment-payments"},
        outputs={"PaymentsTableName": "orderflow-local-payment-payments"},
    )
    return LocalResources(
        endpoint_url="http://127.0.0.1:5000",
        region="us-east-1",
        stage="local",
        clock_factor=6.0,
        topic_arn="arn:aws:sns:us-east-1:123456789012:orderflow-local-order-events",
        paging_topic_arn="arn:aws:sns:us-east-1:123456789012:orderflow-local-paging",
        failure_ledger_table="orderflow-local-failure-ledger",
        pager_queue_url="http://127.0.0.1:5000/123456789012/orderflow-local-pager-inbox",
        services={"payment": payment},
        run_dir="/tmp/run",
        gateway_journal="/tmp/run/gateway-journal.sqlite",
        pid=pid,
    )


def test_local_json_reads_back_what_the_runtime_wrote(tmp_path: Path) -> None:
    written = resources(pid=123)
    (tmp_path / "local.json").write_text(written.to_json())
    assert read_local_resources(tmp_path) == written
    assert written.env()["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"
    assert written.env()["ORDERFLOW_STAGE"] == "local"


def test_without_a_running_runtime_tools_are_told_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(LocalRuntimeError, match="orderflow up"):
        read_local_resources(tmp_path)


def test_a_second_runtime_on_the_same_state_directory_is_refused(tmp_path: Path) -> None:
    # GIVEN local.json of a runtime that is still running (our parent process stands in)
    (tmp_path / "local.json").write_text(resources(pid=os.getppid()).to_json())
    runtime = LocalRuntime(RuntimeOptions(state_dir=tmp_path, root=ROOT))
    # WHEN another one starts there THEN it refuses, and the first one's file is untouched
    with pytest.raises(LocalRuntimeError, match="already running"):
        runtime.start()
    assert read_local_resources(tmp_path).pid == os.getppid()
    assert runtime.aws.pid is None


def test_a_worker_follows_its_mapping_state_and_logs_only_invocations(tmp_path: Path) -> None:
    # GIVEN a worker's report stream: its mapping's state, an invocation, the state again
    from orderflow.local.pollers import MAPPING_REPORT, InvocationReport  # noqa: PLC0415

    from .test_pollers import spec_for  # noqa: PLC0415

    worker = FunctionWorker(spec_for("http://unused", "arn:aws:sqs:us-east-1:1:q"), tmp_path)
    invocation = InvocationReport(
        service="payment",
        function="orderflow-local-payment",
        outcome="ok",
        records=2,
        succeeded=2,
        failed=0,
        duplicates=0,
        started=1.0,
        ended=2.0,
        cold=False,
    )
    read_fd, write_fd = os.pipe()
    with os.fdopen(write_fd, "w") as stream:
        for state in ("Enabled", "Disabled"):
            line = {"type": MAPPING_REPORT, "service": "payment", "state": state, "at": 1.0}
            stream.write(json.dumps(line) + "\n")
        stream.write(invocation.to_json() + "\n")
    # WHEN the runtime reads it
    worker._read(read_fd)
    # THEN it knows the latest state, counted the invocation, and logged only the invocation
    assert worker.mapping_state == "Disabled"
    assert worker.snapshot().records_succeeded == 2
    [logged] = worker.invocation_log.read_text().splitlines()
    assert json.loads(logged)["outcome"] == "ok"


def test_killing_a_worker_ends_its_whole_process_group(tmp_path: Path) -> None:
    # GIVEN a worker process in its own session with a child of its own (as its environments)
    from .test_pollers import spec_for  # noqa: PLC0415

    worker = FunctionWorker(spec_for("http://unused", "arn:aws:sqs:us-east-1:1:q"), tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD_AND_WAIT],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    child = int(process.stdout.readline())
    worker._process, worker.process_group = process, process.pid
    # WHEN it is killed
    worker.kill()
    # THEN the worker and its child are gone (the child, orphaned, is reaped by init)
    assert process.returncode == -signal.SIGKILL
    assert wait_until(lambda: not alive(child))


CHILD_AND_WAIT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def wait_until(condition: Callable[[], bool], checks: int = 600) -> bool:
    for _ in range(checks):
        if condition():
            return True
        time.sleep(0.05)
    return False
