"""What a function and its SQS event source mapping are, read back from the deployed stack.

Everything comes from the embedded AWS after CloudFormation created the service stack: the
handler, timeout, memory and environment of the function (its template's, with every ``Ref``
resolved), and the mapping's batch size, batching window, maximum concurrency and response
types. The local runtime adds only what Lambda itself adds to a function's environment.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from orderflow.platform.errors import PlatformError

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
"""The embedded AWS accepts any credentials; these keep boto3 from looking for real ones."""


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


def lambda_environment(
    spec: FunctionSpec, endpoint_url: str, xray_daemon_address: str | None = None
) -> dict[str, str]:
    """The function's variables plus what Lambda sets, pointed at the embedded AWS.

    Lambda sets AWS_XRAY_DAEMON_ADDRESS when the function's tracing is Active.
    """
    tracing = (
        {"AWS_XRAY_DAEMON_ADDRESS": xray_daemon_address}
        if spec.tracing_active and xray_daemon_address
        else {}
    )
    return {
        **tracing,
        **spec.environment,
        **FAKE_CREDENTIALS,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
        "_HANDLER": spec.handler,
    }


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
