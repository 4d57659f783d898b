"""What each service's template.yaml says about its function and event source mapping.

Benchmarks read the same templates that deploy, so a change of memory or batch size shows up in
the cost figures without anyone copying numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orderflow.bench.stats import BenchError
from orderflow.contracts import SERVICES
from orderflow.templates import load_template, resolve, resources_of_type

FUNCTION_TYPE = "AWS::Serverless::Function"
# SAM's defaults when a template leaves a property out.
DEFAULT_MEMORY_MB = 128
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_BATCH_SIZE = 10
DEFAULT_ARCHITECTURE = "x86_64"


@dataclass(frozen=True)
class FunctionSettings:
    """One service's function as deployed: handler, memory, architecture and SQS batching."""

    service: str
    handler: str
    memory_mb: int
    timeout_seconds: int
    architecture: str
    batch_size: int
    batching_window_seconds: int
    environment: Mapping[str, Any]

    @property
    def handler_module(self) -> str:
        return self.handler.rsplit(".", 1)[0]


def template_path(root: Path, service: str) -> Path:
    """``services/<service>/template.yaml`` under the checkout ``root``."""
    return root / "services" / service / "template.yaml"


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    """Every declared parameter with a default, as the string CloudFormation would pass."""
    return {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }


def function_settings(root: Path, service: str) -> FunctionSettings:
    """The settings of ``service``'s one SQS-driven function, parameters at their defaults."""
    path = template_path(root, service)
    if not path.is_file():
        raise BenchError(f"{path} does not exist")
    template = load_template(path)
    functions = resources_of_type(template, FUNCTION_TYPE)
    if len(functions) != 1:
        raise BenchError(f"{path} has {len(functions)} functions; benchmarks expect one")
    (properties,) = functions.values()
    defaults = {**parameter_defaults(template), "AWS::Region": "us-east-1"}
    sqs = _sqs_event(path, properties)
    architectures = properties.get("Architectures") or [DEFAULT_ARCHITECTURE]
    return FunctionSettings(
        service=service,
        handler=str(properties["Handler"]),
        memory_mb=int(resolve(properties.get("MemorySize", DEFAULT_MEMORY_MB), defaults)),
        timeout_seconds=int(resolve(properties.get("Timeout", DEFAULT_TIMEOUT_SECONDS), defaults)),
        architecture=str(architectures[0]),
        batch_size=int(resolve(sqs.get("BatchSize", DEFAULT_BATCH_SIZE), defaults)),
        batching_window_seconds=int(
            resolve(sqs.get("MaximumBatchingWindowInSeconds", 0), defaults)
        ),
        environment=properties.get("Environment", {}).get("Variables", {}),
    )


def all_function_settings(root: Path) -> dict[str, FunctionSettings]:
    """Settings of every service in the routing table, by service."""
    return {service: function_settings(root, service) for service in SERVICES}


def _sqs_event(path: Path, properties: Mapping[str, Any]) -> Mapping[str, Any]:
    for event in properties.get("Events", {}).values():
        if event.get("Type") == "SQS":
            return dict(event.get("Properties", {}))
    raise BenchError(f"{path}: the function has no SQS event")
