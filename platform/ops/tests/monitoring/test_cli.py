"""``orderflow incident`` and ``orderflow trace``: readable help and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result
from moto import mock_aws

from orderflow.emulator import xray_queries
from orderflow.emulator.extension import installed
from orderflow.platform.cli import cli

pytestmark = pytest.mark.functional


@pytest.fixture(autouse=True)
def emulated_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_line_error(result: Result) -> str:
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["incident", "--help"], "approve"),
        (["incident", "approve", "--help"], "--rate"),
        (["incident", "reject", "--help"], "--reason"),
        (["trace", "--help"], "ORDER_ID"),
    ],
)
def test_help_reads_well(args: list[str], says: str) -> None:
    result = run(*args)

    assert result.exit_code == 0
    assert says in result.output


def test_incidents_without_a_deployed_workflow_say_so() -> None:
    error = one_line_error(run("incident", "ls", "--stage", "qa"))

    assert "no monitoring workflow 'orderflow-qa-dlq-incident'" in error


def test_a_rejection_needs_a_reason() -> None:
    result = run("incident", "reject", "inc-1")

    assert result.exit_code == 2
    assert "--reason" in result.stderr


def test_an_order_without_a_trace_is_one_line() -> None:
    with installed(xray_queries):
        error = one_line_error(run("trace", "ord-nowhere"))

    assert "no trace of order ord-nowhere" in error
