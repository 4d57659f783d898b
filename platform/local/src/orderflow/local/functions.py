"""What a function and its SQS event source mapping are, read back from the deployed stack.

Everything comes from the embedded AWS after CloudFormation created the service stack: the
handler, runtime, timeout, memory and environment of the function (its template's, with every
``Ref`` resolved), and the mapping's batch size, batching window, maximum concurrency and
response types. The local runtime adds what Lambda itself adds to a function's environment
(:func:`lambda_environment`), so code that asks "am I on Lambda?" (Powertools' Tracer and
batch processor, botocore) behaves here as it does there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orderflow.observability.tracing import TraceHeader, new_trace_id
from orderflow.platform.errors import PlatformError

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
"""The administrator's (test) credentials: tools, tests and the runtime itself use them, and
the embedded AWS allows them everything. A function never runs with them: it gets its role's
session (``orderflow.local.credentials``)."""


class FunctionDiscoveryError(PlatformError):
    """A deployed function or its event source mapping is not what the runtime can run."""


@dataclass(frozen=True)
class FunctionSpec:
    """One function and the SQS mapping that drives it, as deployed."""

    service: str
    function_name: str
    function_arn: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str]
    queue_url: str
    queue_arn: str
    batch_size: int
    batching_window_seconds: int
    maximum_concurrency: int | None
    report_batch_item_failures: bool
    enabled: bool = True
    region: str = "us-east-1"
    tracing_active: bool = False
    runtime: str = "python3.12"
    role_arn: str = ""
    """The function's execution role (its ``Role``), whose session the function runs with."""
    mapping_uuid: str = ""
    """The SQS event source mapping's ``UUID`` (Get/UpdateEventSourceMapping take it)."""

    @property
    def handler_module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    def concurrency(self, ceiling: int | None) -> int:
        """Concurrent invocations: the mapping's maximum (Lambda's default 1000), capped."""
        allowed = self.maximum_concurrency or 1000
        return max(1, min(allowed, ceiling) if ceiling else allowed)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> FunctionSpec:
        return cls(**json.loads(text))


LAMBDA_PATH = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
"""Lambda's PATH after its language directory (``/var/lang/bin``)."""
FUNCTION_VERSION = "$LATEST"


def lambda_environment(
    spec: FunctionSpec,
    endpoint_url: str,
    xray_daemon_address: str | None = None,
    *,
    task_root: str | None = None,
    runtime_dir: str | None = None,
    credentials: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The function's variables plus what Lambda sets, pointed at the embedded AWS.

    As the Lambda developer guide's "Defined runtime environment variables" lists them
    (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html): the reserved
    ones override the function's own, the unreserved ones (``LANG``, ``PATH``,
    ``LD_LIBRARY_PATH``, ``PYTHONPATH``, the X-Ray pair) the function may override. Lambda's
    directories map to this machine's: ``/var/task`` to where the handler's package is
    imported from, ``/var/runtime`` to where the runtime's boto3 is, ``/var/lang`` to the
    interpreter's prefix. Per execution environment and per invocation Lambda adds
    ``AWS_LAMBDA_LOG_STREAM_NAME`` (:func:`log_stream_name`) and ``_X_AMZN_TRACE_ID``
    (:func:`invocation_trace_header`). ``AWS_XRAY_*`` are set when the function's tracing is
    Active. ``credentials`` are the execution role's session (``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``); without them, the test credentials.
    """
    task = task_root or handler_task_root(spec.handler_module)
    runtime = runtime_dir or runtime_libraries()
    language = Path(sys.base_prefix)
    tracing = (
        {"AWS_XRAY_DAEMON_ADDRESS": xray_daemon_address, "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR"}
        if spec.tracing_active and xray_daemon_address
        else {}
    )
    unreserved = {
        "LANG": "en_US.UTF-8",
        "PATH": f"{Path(sys.executable).parent}:{LAMBDA_PATH}",
        "LD_LIBRARY_PATH": ":".join(
            (
                str(language / "lib"),
                "/lib64:/usr/lib64",
                runtime,
                f"{runtime}/lib",
                task,
                f"{task}/lib",
                "/opt/lib",
            )
        ),
        # The caller's own import path stays behind the runtime's, so the functions import the
        # same code the runtime was started with.
        "PYTHONPATH": ":".join(p for p in (runtime, os.environ.get("PYTHONPATH", "")) if p),
        **tracing,
    }
    reserved = {
        **(credentials or FAKE_CREDENTIALS),
        "_HANDLER": spec.handler,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": FUNCTION_VERSION,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": log_group_name(spec),
        "LAMBDA_TASK_ROOT": task,
        "LAMBDA_RUNTIME_DIR": runtime,
        "TZ": ":UTC",
        "AWS_ENDPOINT_URL": endpoint_url,
    }
    return {**unreserved, **spec.environment, **reserved}


def log_group_name(spec: FunctionSpec) -> str:
    return f"/aws/lambda/{spec.function_name}"


def log_stream_name(now: datetime | None = None) -> str:
    """One execution environment's stream: ``YYYY/MM/DD/[version]`` and the environment's id.

    The format CloudWatch Logs shows for Lambda ("Sending Lambda function logs to CloudWatch
    Logs", https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html).
    """
    day = (now or datetime.now(UTC)).strftime("%Y/%m/%d")
    return f"{day}/[{FUNCTION_VERSION}]{secrets.token_hex(16)}"


def invocation_trace_header(spec: FunctionSpec) -> str:
    """``_X_AMZN_TRACE_ID`` for one invocation: a trace of its own, as Lambda starts for SQS.

    The parent is the function's segment for the invocation; sampled when tracing is Active.
    """
    header = TraceHeader(new_trace_id(), secrets.token_hex(8), sampled=spec.tracing_active)
    return header.render()


def handler_task_root(handler_module: str) -> str:
    """The directory the handler's top-level package is imported from (Lambda's /var/task)."""
    parts = handler_module.split(".")
    for depth in range(min(2, len(parts)), 0, -1):
        found = importlib.util.find_spec(".".join(parts[:depth]))
        if found is not None and found.origin:
            location = Path(found.origin)
            if found.submodule_search_locations is not None:  # a package: its __init__.py
                location = location.parent
            return str(location.parents[depth - 1])
    raise FunctionDiscoveryError(f"handler module {handler_module} cannot be found")


def runtime_libraries() -> str:
    """Where the runtime's boto3 is installed (Lambda's /var/runtime, which provides it)."""
    found = importlib.util.find_spec("boto3")
    if found is None or not found.origin:
        raise FunctionDiscoveryError("boto3 is not installed: the runtime provides it to functions")
    return str(Path(found.origin).parents[1])


def discover_functions(
    lambda_client: Any, sqs: Any, functions_by_service: Mapping[str, list[str]]
) -> list[FunctionSpec]:
    """The spec of every deployed function that an SQS event source mapping drives."""
    specs = []
    for service, names in sorted(functions_by_service.items()):
        for name in names:
            specs.extend(_function_specs(lambda_client, sqs, service, name))
    return specs


def _function_specs(lambda_client: Any, sqs: Any, service: str, name: str) -> list[FunctionSpec]:
    config = lambda_client.get_function_configuration(FunctionName=name)
    variables = config.get("Environment", {}).get("Variables", {}) or {}
    mappings = lambda_client.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    specs = []
    for mapping in mappings:
        source = str(mapping["EventSourceArn"])
        if source.split(":")[2] != "sqs":
            continue
        queue_name = source.split(":")[5]
        scaling = mapping.get("ScalingConfig") or {}
        specs.append(
            FunctionSpec(
                service=service,
                function_name=config["FunctionName"],
                function_arn=config["FunctionArn"],
                handler=config["Handler"],
                timeout_seconds=int(config.get("Timeout") or 3),
                memory_mb=int(config.get("MemorySize") or 128),
                environment={str(k): str(v) for k, v in variables.items()},
                queue_url=sqs.get_queue_url(QueueName=queue_name)["QueueUrl"],
                queue_arn=source,
                batch_size=int(mapping.get("BatchSize") or 10),
                batching_window_seconds=int(mapping.get("MaximumBatchingWindowInSeconds") or 0),
                maximum_concurrency=(
                    int(scaling["MaximumConcurrency"]) if "MaximumConcurrency" in scaling else None
                ),
                report_batch_item_failures="ReportBatchItemFailures"
                in (mapping.get("FunctionResponseTypes") or []),
                enabled=str(mapping.get("State", "Enabled")) == "Enabled",
                region=source.split(":")[3],
                tracing_active=(config.get("TracingConfig") or {}).get("Mode") == "Active",
                runtime=str(config.get("Runtime") or "python3.12"),
                role_arn=str(config.get("Role") or ""),
                mapping_uuid=str(mapping["UUID"]),
            )
        )
    if not specs:
        raise FunctionDiscoveryError(f"function {name} ({service}) has no SQS event source")
    return specs


@dataclass
class LambdaContext:
    """The context object Lambda passes a Python handler (same attributes and method)."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    deadline: float
    """Epoch seconds at which the invocation times out (on the real clock)."""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))
