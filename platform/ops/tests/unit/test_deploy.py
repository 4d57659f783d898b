"""Deploy finds the package, refuses what cannot deploy, and runs SAM where it should."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from orderflow.platform.cli.main import cli
from orderflow.platform.deploy import (
    TARGETS,
    DeployError,
    DeployTarget,
    deploy_region,
    deploy_target,
    run_deploy,
    sam_deploy_command,
    sam_stage,
)
from orderflow.platform.workspace import workspace_root

ROOT = Path(__file__).resolve().parents[4]
STATE_MACHINE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Workflow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: workflow.asl.json
"""
SERVICE_SAMCONFIG = """
version = 0.1
[dev.deploy.parameters]
stack_name = "orderflow-dev-payment"
region = "us-east-1"
resolve_s3 = true
parameter_overrides = [
    "Stage=dev",
    "TopicArn=/orderflow/dev/order-events-topic-arn",
]
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with a platform package and a payment service not yet built."""
    for package in ("platform", "services/payment"):
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "template.yaml").write_text("Resources: {}\n")
        (tmp_path / package / "samconfig.toml").write_text("version = 0.1\n")
    return tmp_path


def test_the_root_is_found_from_inside_it(repo: Path) -> None:
    assert workspace_root(repo / "services" / "payment") == repo


def test_unknown_targets_and_unbuilt_services_are_refused(repo: Path) -> None:
    with pytest.raises(DeployError, match="unknown deploy target 'shipping'"):
        deploy_target("shipping", repo)
    expected = "no build/package; run nox -s \"build(service='payment')\" first"
    with pytest.raises(DeployError, match=re.escape(expected)):
        deploy_target("payment", repo)
    (repo / "services" / "payment" / "build" / "package").mkdir(parents=True)
    assert deploy_target("payment", repo).directory == repo / "services" / "payment"


def test_a_missing_samconfig_is_refused(repo: Path) -> None:
    (repo / "platform" / "samconfig.toml").unlink()
    with pytest.raises(DeployError, match=re.escape("platform/samconfig.toml is missing")):
        deploy_target("platform", repo)


def test_without_the_sam_cli_deploy_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DeployError, match="sam CLI is not installed"):
        sam_deploy_command("dev", None)


def test_sam_deploys_the_stage_from_the_package_directory(
    repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN a sam on PATH that records where and how it ran
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "sam-ran"
    sam = bin_dir / "sam"
    sam.write_text(f'#!/bin/sh\necho "$PWD $*" > {record}\n')
    sam.chmod(sam.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    # WHEN the platform is deployed to prod in eu-west-1
    code = run_deploy(deploy_target("platform", repo), sam_deploy_command("prod", "eu-west-1"))

    # THEN sam deploy ran in platform/ with that package's samconfig and stage
    assert code == 0
    assert record.read_text().split() == [
        str(repo / "platform"),
        "deploy",
        "--config-file",
        "samconfig.toml",
        "--config-env",
        "prod",
        "--template-file",
        "template.yaml",
        "--region",
        "eu-west-1",
    ]


def real_target(name: str) -> DeployTarget:
    return DeployTarget(name, ROOT / ("platform" if name == "platform" else f"services/{name}"))


@pytest.mark.parametrize("name", TARGETS)
@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_package_deploys_each_stage_to_one_region_with_a_bucket_for_its_artifacts(
    name: str, stage: str
) -> None:
    # The platform's state machine definition and each service's code are local files that
    # sam deploy must upload: without resolve_s3 or s3_bucket it stops "S3 Bucket not specified".
    target = real_target(name)
    assert deploy_region(target, sam_stage(target, stage), None) == "us-east-1"


def test_local_artifacts_without_an_s3_bucket_are_refused(repo: Path) -> None:
    (repo / "platform" / "template.yaml").write_text(STATE_MACHINE)
    (repo / "platform" / "samconfig.toml").write_text(
        'version = 0.1\n[dev.deploy.parameters]\nstack_name = "p"\nregion = "us-east-1"\n'
    )
    target = deploy_target("platform", repo)
    expected = (
        "platform: template.yaml uploads local files (Workflow.DefinitionUri) but "
        "samconfig.toml stage dev sets neither resolve_s3 nor s3_bucket"
    )
    with pytest.raises(DeployError, match=re.escape(expected)):
        deploy_region(target, sam_stage(target, "dev"), None)


def test_a_stage_missing_from_the_samconfig_is_refused(repo: Path) -> None:
    target = deploy_target("platform", repo)
    with pytest.raises(DeployError, match=re.escape("has no [prod.deploy.parameters]")):
        sam_stage(target, "prod")


@pytest.fixture
def built_payment(repo: Path) -> Path:
    """The payment service of ``repo``, built, with a samconfig pinned to us-east-1."""
    service = repo / "services" / "payment"
    (service / "build" / "package").mkdir(parents=True)
    (service / "samconfig.toml").write_text(SERVICE_SAMCONFIG)
    return repo


def deploy_cli(repo: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["deploy", *args, "--root", str(repo)])
    return result.exit_code, result.output


def test_without_credentials_deploy_fails_with_one_line_saying_so(
    built_payment: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN no credentials anywhere boto3 looks
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)

    code, output = deploy_cli(built_payment, "payment", "--stage", "dev")

    assert code == 1
    assert output.strip().splitlines() == [
        "Error: no AWS credentials found: configure a profile or set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY"
    ]


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def test_a_service_without_its_platform_stack_fails_with_one_line_saying_so(
    built_payment: Path, fake_aws: None
) -> None:
    # GIVEN an account where the dev platform stack was never deployed
    with mock_aws():
        code, output = deploy_cli(built_payment, "payment", "--stage", "dev")

    # THEN one line names the missing platform and what to run
    assert code == 1
    assert output.strip().splitlines() == [
        "Error: payment: no platform stack for stage dev in us-east-1 (SSM parameter "
        "/orderflow/dev/order-events-topic-arn is missing): run orderflow deploy platform "
        "--stage dev first"
    ]


def test_a_region_other_than_the_stages_fails_with_one_line_saying_so(
    built_payment: Path, fake_aws: None
) -> None:
    with mock_aws():
        code, output = deploy_cli(
            built_payment, "payment", "--stage", "dev", "--region", "eu-west-1"
        )
    assert code == 1
    assert output.strip().splitlines() == [
        "Error: payment: wrong region eu-west-1: stage dev lives in us-east-1 (samconfig.toml), "
        "where its platform's SSM parameters are"
    ]


def test_with_its_platform_deployed_the_service_goes_to_sam_in_the_stages_region(
    built_payment: Path, fake_aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN a sam on PATH that records how it ran, and the dev platform's parameter
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "sam-ran"
    sam = bin_dir / "sam"
    sam.write_text(f'#!/bin/sh\necho "$*" > {record}\n')
    sam.chmod(sam.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with mock_aws():
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name="/orderflow/dev/order-events-topic-arn", Value="arn:aws:sns:x", Type="String"
        )

        code, output = deploy_cli(built_payment, "payment", "--stage", "dev")

    # THEN sam deploy ran for dev in the region samconfig pins
    assert code == 0, output
    assert record.read_text().split()[-2:] == ["--region", "us-east-1"]
