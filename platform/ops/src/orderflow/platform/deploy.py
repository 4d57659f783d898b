"""``orderflow deploy``: one package's stack with ``sam deploy`` and that package's samconfig.

Functions are built beforehand by ``nox -s "build(service='<name>')"`` (CodeUri build/package),
so deploy runs no ``sam build``. Before SAM runs, what would make the deploy fail halfway is one
clear line instead of a SAM stack trace: the stage missing from samconfig.toml, local artifacts
with no S3 bucket to upload them to, a region other than the one the stage is pinned to (where
the platform's SSM parameters live), missing or expired credentials (STS), and, for a service,
a platform stack not deployed in that stage and region (its SSM parameters absent).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orderflow import naming
from orderflow.contracts import SERVICES
from orderflow.platform.errors import PlatformError
from orderflow.templates import load_template

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

PLATFORM = "platform"
TARGETS = (*SERVICES, PLATFORM)
SAMCONFIG = "samconfig.toml"
PLATFORM_PARAMETER_PREFIX = "/orderflow/"
# Properties whose local path sam deploy zips or uploads to S3 before CloudFormation sees them.
LOCAL_ARTIFACT_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Api": "DefinitionUri",
}


class DeployError(PlatformError):
    """The deploy cannot start (unknown target, missing build, no sam CLI)."""


@dataclass(frozen=True)
class DeployTarget:
    """One deployable package: its directory holds template.yaml and samconfig.toml."""

    name: str
    directory: Path

    @property
    def template(self) -> Path:
        """The package's template.yaml."""
        return self.directory / "template.yaml"

    def stack_name(self, stage: str) -> str:
        """The package's stack in ``stage``."""
        return naming.stack(stage, self.name)

    @property
    def needs_build(self) -> bool:
        """Service stacks ship code from build/package; the platform stack has none."""
        return self.name != PLATFORM


def deploy_target(name: str, root: Path) -> DeployTarget:
    """The package ``name`` (a service or ``platform``), checked ready to deploy."""
    if name not in TARGETS:
        raise DeployError(f"unknown deploy target {name!r} (known: {', '.join(TARGETS)})")
    directory = root / (PLATFORM if name == PLATFORM else f"services/{name}")
    target = DeployTarget(name, directory)
    for required in ("template.yaml", "samconfig.toml"):
        if not (directory / required).exists():
            raise DeployError(f"{name}: {directory.name}/{required} is missing")
    if target.needs_build and not (directory / "build" / "package").is_dir():
        raise DeployError(f"{name}: no build/package; run nox -s \"build(service='{name}')\" first")
    return target


@dataclass(frozen=True)
class SamStage:
    """One stage of a package's samconfig.toml, as ``sam deploy --config-env`` reads it."""

    name: str
    stack_name: str
    region: str | None
    parameters: dict[str, str]
    has_bucket: bool
    """``resolve_s3`` or ``s3_bucket`` is set: sam deploy has somewhere to upload artifacts."""


def _overrides(raw: Any) -> dict[str, str]:
    """``parameter_overrides`` as samconfig writes it: one string or a list of ``K=V``."""
    items = shlex.split(raw) if isinstance(raw, str) else [str(i) for i in raw or []]
    pairs = (item.partition("=") for item in items)
    return {key: value for key, _, value in pairs if key}


def sam_stage(target: DeployTarget, stage: str) -> SamStage:
    """The ``[<stage>.deploy.parameters]`` of the target's samconfig (global ones merged)."""
    path = target.directory / SAMCONFIG
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise DeployError(f"{target.name}: cannot read {SAMCONFIG}: {error}") from error
    commands = config.get(stage) or {}
    deploy = ((commands or {}).get("deploy") or {}).get("parameters")
    if not isinstance(deploy, Mapping):
        raise DeployError(f"{target.name}: {SAMCONFIG} has no [{stage}.deploy.parameters]")
    merged = {**((commands.get("global") or {}).get("parameters") or {}), **deploy}
    return SamStage(
        name=stage,
        stack_name=str(merged.get("stack_name", "")),
        region=str(merged["region"]) if merged.get("region") else None,
        parameters=_overrides(merged.get("parameter_overrides")),
        has_bucket=bool(merged.get("resolve_s3") or merged.get("s3_bucket")),
    )


def local_artifacts(template_path: Path) -> list[str]:
    """``Resource.Property`` of every local path the template needs uploaded to S3."""
    document = load_template(template_path)
    found = []
    for logical_id, resource in (document.get("Resources") or {}).items():
        prop = LOCAL_ARTIFACT_PROPERTIES.get(str(resource.get("Type")))
        value = (resource.get("Properties") or {}).get(prop) if prop else None
        if isinstance(value, str) and not value.startswith("s3://"):
            found.append(f"{logical_id}.{prop}")
    globals_code = ((document.get("Globals") or {}).get("Function") or {}).get("CodeUri")
    if isinstance(globals_code, str) and not globals_code.startswith("s3://"):
        found.append("Globals.Function.CodeUri")
    return found


def deploy_region(target: DeployTarget, stage: SamStage, requested: str | None) -> str:
    """The region the stage deploys to; refuse a stage that would fail or split on the way.

    A stage with local artifacts needs an S3 bucket; a stage without a pinned region would
    deploy wherever the caller's default points; a different ``--region`` would put this stack
    where the stage's platform SSM parameters do not exist.
    """
    uploads = local_artifacts(target.directory / "template.yaml")
    if uploads and not stage.has_bucket:
        raise DeployError(
            f"{target.name}: template.yaml uploads local files ({', '.join(uploads)}) but "
            f"{SAMCONFIG} stage {stage.name} sets neither resolve_s3 nor s3_bucket"
        )
    if stage.region is None:
        raise DeployError(f"{target.name}: {SAMCONFIG} stage {stage.name} pins no region")
    if requested and requested != stage.region:
        raise DeployError(
            f"{target.name}: wrong region {requested}: stage {stage.name} lives in "
            f"{stage.region} ({SAMCONFIG}), where its platform's SSM parameters are"
        )
    return stage.region


def require_platform(ssm: SSMClient, target: DeployTarget, stage: SamStage, region: str) -> None:
    """A service stack reads the platform's SSM parameters: they must exist in ``region``."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    from orderflow.platform.aws import translated_errors  # noqa: PLC0415

    names = sorted(
        value for value in stage.parameters.values() if value.startswith(PLATFORM_PARAMETER_PREFIX)
    )
    with translated_errors():
        for name in names:
            try:
                ssm.get_parameter(Name=name)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ParameterNotFound":
                    raise
                raise DeployError(
                    f"{target.name}: no platform stack for stage {stage.name} in {region} (SSM "
                    f"parameter {name} is missing): run orderflow deploy platform --stage "
                    f"{stage.name} first"
                ) from error


def sam_environment(endpoint_url: str | None) -> dict[str, str]:
    """The environment sam deploy runs in: this one, pointed at ``--endpoint-url`` if given."""
    env = dict(os.environ)
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


def sam_deploy_command(stage: str, region: str | None) -> list[str]:
    """The ``sam deploy`` command line for one stage of the package's samconfig."""
    sam = shutil.which("sam")
    if sam is None:
        raise DeployError("the sam CLI is not installed (pip install aws-sam-cli)")
    command = [
        sam,
        "deploy",
        "--config-file",
        "samconfig.toml",
        "--config-env",
        stage,
        "--template-file",
        "template.yaml",
    ]
    if region:
        command += ["--region", region]
    return command


def run_deploy(
    target: DeployTarget, command: Sequence[str], env: Mapping[str, str] | None = None
) -> int:
    """Run the deploy in the package's directory; return its exit code."""
    return subprocess.run(  # noqa: S603  (the sam CLI found on PATH, no shell)
        list(command), cwd=target.directory, env=dict(env) if env is not None else None, check=False
    ).returncode
