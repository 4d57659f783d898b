"""Deploy finds the package, refuses what cannot deploy, and runs SAM where it should."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from orderflow.platform.deploy import (
    DeployError,
    deploy_target,
    run_deploy,
    sam_deploy_command,
    workspace_root,
)


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
