"""Emulator extensions against moto in-process: a test installs what it tests, then removes it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from orderflow.emulator import clock
from orderflow.emulator.extension import installed as installed_for

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so nothing can reach a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws() -> Iterator[Callable[[str], Any]]:
    """moto in-process; yields a client factory."""
    with mock_aws():
        yield lambda service: boto3.client(service, region_name=REGION)


@pytest.fixture
def installed() -> Iterator[Callable[..., None]]:
    """Install emulator modules for one test; every one is removed afterwards."""
    with contextlib.ExitStack() as stack:

        def install(*modules: ModuleType) -> None:
            stack.enter_context(installed_for(*modules))

        yield install
    clock.set_clock(clock.EmulatorClock())
