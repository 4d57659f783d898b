"""The runtime's local.json: what other tools read, and the guard against a second runtime."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orderflow.local.runtime import (
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
