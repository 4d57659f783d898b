"""The local runtime's parts against moto in-process, with the emulator extensions they rely on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from orderflow.emulator import (
    cfn_no_value,
    cfn_resources,
    clock,
    lambda_public_layers,
    lambda_sqs_mappings,
    stepfunctions_execution,
)
from orderflow.emulator.extension import installed

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so nothing can reach a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws() -> Iterator[Callable[[str], Any]]:
    """moto in-process; yields a client factory."""
    with mock_aws():
        yield lambda service: boto3.client(service, region_name=REGION)


@pytest.fixture
def embedded(aws: Callable[[str], Any]) -> Iterator[Callable[[str], Any]]:
    """moto with what the local runtime's deployments need from the emulator."""
    modules = (
        cfn_no_value,
        cfn_resources,
        lambda_public_layers,
        lambda_sqs_mappings,
        stepfunctions_execution,
    )
    with installed(*modules):
        yield aws
    clock.set_clock(clock.EmulatorClock())
