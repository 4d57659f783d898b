"""Each function runs with its own execution role's session, as Lambda runs it.

Lambda assumes the function's execution role and sets the session's credentials as
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN`` in the execution
environment ("Defined runtime environment variables",
https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime;
"Lambda execution role", https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html).
The caller an assumed role's session signs as is
``arn:aws:sts::<account>:assumed-role/<role name>/<session name>`` (STS AssumeRole,
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from orderflow.emulator.server import EmbeddedAws
from orderflow.local.credentials import RENEW_BEFORE_SECONDS, RoleCredentials, RoleSession
from orderflow.local.faults import FaultPlan
from orderflow.local.functions import FAKE_CREDENTIALS, FunctionSpec, lambda_environment
from orderflow.local.pollers import OK, ExecutionEnvironment, function_role

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)

PROBE = """
import os
import boto3

def handler(event, context):
    identity = boto3.client("sts").get_caller_identity()
    return {
        "keys": {n: os.environ.get(n) for n in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                "AWS_SESSION_TOKEN")},
        "caller": identity["Arn"],
        "pid": os.getpid(),
    }
"""


def spec(role_arn: str, handler: str = "role_probe.handler") -> FunctionSpec:
    return FunctionSpec(
        service="payment",
        function_name="orderflow-local-payment",
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:orderflow-local-payment",
        handler=handler,
        timeout_seconds=30,
        memory_mb=512,
        environment={},
        queue_url="http://unused",
        queue_arn="arn:aws:sqs:us-east-1:123456789012:orderflow-local-payment",
        batch_size=10,
        batching_window_seconds=0,
        maximum_concurrency=2,
        report_batch_item_failures=True,
        role_arn=role_arn,
    )


def admin(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with EmbeddedAws() as aws:
        yield aws.endpoint_url


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "role_probe.py").write_text(PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return tmp_path


def role(endpoint: str, name: str) -> str:
    iam = admin(endpoint, "iam")
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"])


def test_the_session_signs_as_the_functions_assumed_role(endpoint: str) -> None:
    arn = role(endpoint, "payment-FunctionRole-session")
    session = RoleSession(admin(endpoint, "sts"), arn, "orderflow-local-payment")

    caller = session.client("sts", endpoint_url=endpoint, region_name="us-east-1")

    assert caller.get_caller_identity()["Arn"] == (
        "arn:aws:sts::123456789012:assumed-role/payment-FunctionRole-session/"
        "orderflow-local-payment"
    )
    assert session.current().access_key_id != FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]


def test_a_worker_assumes_its_functions_role_and_one_without_a_role_none(endpoint: str) -> None:
    arn = role(endpoint, "inventory-Role-worker")
    sts = admin(endpoint, "sts")

    worker_role = function_role(spec(arn), sts)

    assert worker_role is not None
    assert worker_role.current().assumed_role_arn.endswith(
        ":assumed-role/inventory-Role-worker/orderflow-local-payment"
    )
    assert function_role(spec(""), sts) is None


@pytest.mark.skipif(sys.platform != "linux", reason="process semantics checked on Linux")
def test_the_handler_runs_with_its_roles_credentials_in_its_environment(
    endpoint: str, probe: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a function's environment as its worker starts it, with the function's role
    arn = role(endpoint, "payment-FunctionRole-env")
    function = spec(arn)
    for name, value in lambda_environment(function, endpoint).items():
        monkeypatch.setenv(name, value)
    session = RoleSession(admin(endpoint, "sts"), arn, function.function_name)
    environment = ExecutionEnvironment(
        multiprocessing.get_context("spawn"),
        function,
        FaultPlan().to_json(),
        str(probe),
        credentials=session.current,
    )

    # WHEN it is invoked
    try:
        outcome, seen = environment.invoke({"Records": []}, timeout_real=60)
    finally:
        environment.close()

    # THEN its variables hold the role's session, and its calls are the assumed role's
    assert outcome == OK, seen
    assert seen["keys"] == session.current().env()
    assert seen["keys"]["AWS_ACCESS_KEY_ID"] != FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]
    assert seen["caller"] == (
        "arn:aws:sts::123456789012:assumed-role/payment-FunctionRole-env/orderflow-local-payment"
    )


ENV_PROBE = """
import os

def handler(event, context):
    return {"key": os.environ.get("AWS_ACCESS_KEY_ID"), "pid": os.getpid()}
"""


@pytest.mark.skipif(sys.platform != "linux", reason="process semantics checked on Linux")
def test_an_environment_whose_session_nears_expiry_is_replaced_with_a_fresh_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN sessions that expire soon after they are issued
    (tmp_path / "key_probe.py").write_text(ENV_PROBE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    numbers = itertools.count(1)
    lifetime = {"seconds": 3600.0}

    def credentials(*, valid_for: float = 0.0) -> RoleCredentials:
        n = next(numbers)
        return RoleCredentials(f"ASIA{n}", "secret", "token", time.time() + lifetime["seconds"])

    environment = ExecutionEnvironment(
        multiprocessing.get_context("spawn"),
        spec("arn:aws:iam::123456789012:role/r", handler="key_probe.handler"),
        FaultPlan().to_json(),
        str(tmp_path),
        credentials=credentials,
    )
    try:
        # WHEN the first session lasts, then the next one would expire during an invocation
        first = environment.invoke({}, timeout_real=30)
        warm = environment.invoke({}, timeout_real=30)
        lifetime["seconds"] = RENEW_BEFORE_SECONDS + 10
        environment.close()
        short = environment.invoke({}, timeout_real=30)
        replaced = environment.invoke({}, timeout_real=30)
    finally:
        environment.close()

    # THEN a warm environment keeps its session, and one about to expire gets a fresh one
    assert first[1]["key"] == warm[1]["key"] == "ASIA1"
    assert first[1]["pid"] == warm[1]["pid"]
    assert short[1]["key"] == "ASIA2"
    assert replaced[1]["key"] == "ASIA3"
    assert replaced[1]["pid"] != short[1]["pid"]


def test_refreshable_client_credentials_renew_through_the_session() -> None:
    issued: list[RoleCredentials] = []

    class Sts:
        def assume_role(self, **kwargs: Any) -> dict[str, Any]:
            from datetime import UTC, datetime, timedelta  # noqa: PLC0415

            n = len(issued) + 1
            expires = datetime.now(UTC) + timedelta(seconds=kwargs["DurationSeconds"])
            issued.append(RoleCredentials(f"ASIA{n}", "s", "t", expires.timestamp()))
            return {
                "Credentials": {
                    "AccessKeyId": f"ASIA{n}",
                    "SecretAccessKey": "s",
                    "SessionToken": "t",
                    "Expiration": expires,
                },
                "AssumedRoleUser": {"Arn": f"arn:aws:sts::1:assumed-role/r/s{n}"},
            }

    session = RoleSession(Sts(), "arn:aws:iam::1:role/r", "fn")

    first = session.current()
    again = session.current()
    longer = session.current(valid_for=3000)  # one hour minus the margin is not enough

    assert (first.access_key_id, again.access_key_id, longer.access_key_id) == (
        "ASIA1",
        "ASIA1",
        "ASIA2",
    )
    assert session.botocore_credentials().get_frozen_credentials().access_key == "ASIA2"
