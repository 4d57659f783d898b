"""Every function starts with the environment Lambda gives it, so its code behaves as on AWS.

What Lambda sets, and which of it a function may override, is the Lambda developer guide's
"Defined runtime environment variables"
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime);
the log stream's name is the format of "Sending Lambda function logs to CloudWatch Logs"
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html). Without
``LAMBDA_TASK_ROOT`` Powertools' Tracer stays off, so a local run never showed what the Tracer
does on AWS.
"""

from __future__ import annotations

import multiprocessing
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from orderflow.local.environment import LOG_STREAM_ENV, TRACE_ENV
from orderflow.local.faults import FaultPlan
from orderflow.local.functions import (
    FunctionSpec,
    handler_task_root,
    invocation_trace_header,
    lambda_environment,
    log_stream_name,
)
from orderflow.local.pollers import OK, ExecutionEnvironment
from orderflow.observability.tracing import TraceHeader

ENDPOINT = "http://127.0.0.1:4566"
DAEMON = "127.0.0.1:2000"
LOG_STREAM = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")


def spec(handler: str = "orderflow.payment.handler.handler", **changes: Any) -> FunctionSpec:
    fields: dict[str, Any] = {
        "service": "payment",
        "function_name": "orderflow-dev-payment",
        "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:orderflow-dev-payment",
        "handler": handler,
        "timeout_seconds": 30,
        "memory_mb": 512,
        "environment": {"STAGE": "dev"},
        "queue_url": "http://127.0.0.1:4566/123456789012/orderflow-dev-payment",
        "queue_arn": "arn:aws:sqs:us-east-1:123456789012:orderflow-dev-payment",
        "batch_size": 10,
        "batching_window_seconds": 0,
        "maximum_concurrency": 2,
        "report_batch_item_failures": True,
        "tracing_active": True,
        "runtime": "python3.12",
    }
    return FunctionSpec(**{**fields, **changes})


def test_a_function_gets_every_variable_lambda_defines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONPATH", raising=False)
    environment = lambda_environment(
        spec(), ENDPOINT, DAEMON, task_root="/srv/task", runtime_dir="/srv/runtime"
    )

    assert {k: environment[k] for k in RESERVED} == RESERVED
    assert environment["LANG"] == "en_US.UTF-8"
    assert environment["PATH"].endswith(":/usr/local/bin:/usr/bin/:/bin:/opt/bin")
    assert environment["PATH"].split(":")[0] == str(Path(sys.executable).parent)  # /var/lang/bin
    assert environment["LD_LIBRARY_PATH"].split(":")[1:] == [
        "/lib64",
        "/usr/lib64",
        "/srv/runtime",
        "/srv/runtime/lib",
        "/srv/task",
        "/srv/task/lib",
        "/opt/lib",
    ]
    assert environment["PYTHONPATH"] == "/srv/runtime"
    assert environment["AWS_XRAY_DAEMON_ADDRESS"] == DAEMON
    assert environment["AWS_XRAY_CONTEXT_MISSING"] == "LOG_ERROR"
    assert environment["STAGE"] == "dev"
    assert environment["AWS_ENDPOINT_URL"] == ENDPOINT


RESERVED = {
    "_HANDLER": "orderflow.payment.handler.handler",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "AWS_LAMBDA_FUNCTION_NAME": "orderflow-dev-payment",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/orderflow-dev-payment",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "LAMBDA_TASK_ROOT": "/srv/task",
    "LAMBDA_RUNTIME_DIR": "/srv/runtime",
    "TZ": ":UTC",
}


def test_reserved_variables_are_lambdas_and_unreserved_ones_the_functions() -> None:
    own = {"AWS_REGION": "eu-west-1", "LAMBDA_TASK_ROOT": "/elsewhere", "LANG": "C.UTF-8"}

    environment = lambda_environment(spec(environment=own), ENDPOINT, DAEMON)

    assert environment["AWS_REGION"] == "us-east-1"
    assert environment["LAMBDA_TASK_ROOT"] != "/elsewhere"
    assert environment["LANG"] == "C.UTF-8"


def test_the_runtimes_own_import_path_stays_behind_lambdas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/checkout/src")

    environment = lambda_environment(spec(), ENDPOINT, DAEMON, runtime_dir="/srv/runtime")

    assert environment["PYTHONPATH"] == "/srv/runtime:/checkout/src"


def test_the_xray_variables_come_with_active_tracing_only() -> None:
    environment = lambda_environment(spec(tracing_active=False), ENDPOINT, DAEMON)

    assert not {"AWS_XRAY_DAEMON_ADDRESS", "AWS_XRAY_CONTEXT_MISSING"} & set(environment)


def test_the_task_root_is_where_the_handlers_package_is_imported_from() -> None:
    import orderflow.payment  # noqa: PLC0415

    (package,) = orderflow.payment.__path__
    assert handler_task_root("orderflow.payment.handler") == str(Path(package).parents[1])


def test_each_invocation_has_a_trace_of_its_own_sampled_when_tracing_is_active() -> None:
    first = TraceHeader.parse(invocation_trace_header(spec()))
    second = TraceHeader.parse(invocation_trace_header(spec()))
    passthrough = TraceHeader.parse(invocation_trace_header(spec(tracing_active=False)))

    assert first is not None
    assert second is not None
    assert passthrough is not None
    assert re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", first.root)
    assert re.fullmatch(r"[0-9a-f]{16}", first.parent or "")
    assert first.root != second.root
    assert first.sampled
    assert not passthrough.sampled
    assert LOG_STREAM.match(log_stream_name())


PROBE = """
import os, sys
from orderflow.observability import build_tracer

tracer = build_tracer("payment")

def handler(event, context):
    return {
        "environ": {name: os.environ.get(name) for name in event["names"]},
        "log_stream": context.log_stream_name,
        "tracer_on": not tracer.disabled,
        "xray_sdk": sorted(m for m in sys.modules if m.startswith("aws_xray_sdk.")),
    }
"""


@pytest.mark.skipif(sys.platform != "linux", reason="process semantics checked on Linux")
def test_the_function_process_runs_with_lambdas_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a function's worker environment as the local runtime sets it up
    (tmp_path / "env_probe.py").write_text(PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))
    probe = spec(handler="env_probe.handler")
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    for name, value in lambda_environment(probe, ENDPOINT, DAEMON).items():
        monkeypatch.setenv(name, value)
    environment = ExecutionEnvironment(
        multiprocessing.get_context("spawn"), probe, FaultPlan().to_json(), str(tmp_path)
    )
    names = [*RESERVED, "AWS_XRAY_DAEMON_ADDRESS", LOG_STREAM_ENV, TRACE_ENV]

    # WHEN the function is invoked twice in one execution environment
    try:
        first = environment.invoke({"names": names}, timeout_real=60)
        second = environment.invoke({"names": names}, timeout_real=60)
    finally:
        environment.close()

    # THEN it saw Lambda's variables, so the Tracer ran as on AWS (and loaded no X-Ray SDK) ...
    assert first[0] == second[0] == OK
    seen = first[1]["environ"]
    assert seen["LAMBDA_TASK_ROOT"] == str(tmp_path)
    assert seen["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert seen["TZ"] == ":UTC"
    assert seen["AWS_XRAY_DAEMON_ADDRESS"] == DAEMON
    assert first[1]["tracer_on"]
    assert first[1]["xray_sdk"] == []
    # ... one log stream for the environment, named as Lambda names it, and a trace per invocation
    assert LOG_STREAM.match(seen[LOG_STREAM_ENV])
    assert first[1]["log_stream"] == seen[LOG_STREAM_ENV] == second[1]["environ"][LOG_STREAM_ENV]
    assert seen[TRACE_ENV] != second[1]["environ"][TRACE_ENV]
    assert TraceHeader.parse(seen[TRACE_ENV]) is not None
