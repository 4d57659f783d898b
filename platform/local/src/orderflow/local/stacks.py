"""The local stage's stacks, deployed from the same template.yaml files that deploy to AWS.

The platform stack goes first (it writes the SSM parameters the others read), then every
``services/*/template.yaml``. A SAM template is transformed into plain CloudFormation with
aws-sam-translator (managed policies from the translator's bundled list, so no AWS call), and
created with CreateStack on the embedded AWS; CloudFormation resolves every SSM-typed parameter
itself. Nothing here lists a queue, topic or table: what exists is what the templates say.

Local artifacts are packaged as ``sam package`` would, into the embedded S3: each function's
``CodeUri`` becomes a zip of the package's source (the stack holds a real function; the local
runtime runs the handler from the installed package, see ``pollers``), and a state machine's
``DefinitionUri`` its definition file.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orderflow.emulator import cfn_sam_deploy
from orderflow.platform.deploy import PLATFORM, DeployTarget
from orderflow.platform.errors import PlatformError
from orderflow.templates import load_template

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

S3Client = Any  # the dev stubs carry no S3 types

ARTIFACTS_BUCKET = "orderflow-local-artifacts"
_SOURCE_SUFFIXES = (".py", ".typed", ".json")
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


class StackDeployError(PlatformError):
    """A stack could not be transformed or created; the message says which and why."""


@dataclass(frozen=True)
class DeployedStack:
    """A created stack: its outputs and its resources (logical id -> type, physical id)."""

    name: str
    stack_name: str
    outputs: dict[str, str]
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)

    def physical_ids(self, resource_type: str) -> dict[str, str]:
        """Logical id -> physical id of every resource of ``resource_type``."""
        return {
            logical: physical
            for logical, (kind, physical) in self.resources.items()
            if kind == resource_type
        }


def stack_templates(root: Path) -> list[DeployTarget]:
    """The platform template first, then every service template in name order."""
    services = sorted(p for p in (root / "services").glob("*/template.yaml") if p.is_file())
    return [DeployTarget(PLATFORM, root / PLATFORM)] + [
        DeployTarget(path.parent.name, path.parent) for path in services
    ]


def stack_parameters(
    template: Mapping[str, Any], stage: str, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The parameters the local stage passes to a template, only those it declares.

    ``Stage`` is the local stage; an SSM-typed parameter defaulting to ``/orderflow/<stage>/x``
    points at the local stage's ``/orderflow/<local stage>/x`` (what samconfig does per stage);
    ``overrides`` (fault injection, the local sender address) apply where declared.
    """
    declared: Mapping[str, Any] = template.get("Parameters", {})
    values: dict[str, str] = {}
    if "Stage" in declared:
        values["Stage"] = stage
    for name, spec in declared.items():
        default = str(spec.get("Default", ""))
        if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::") and default.startswith(
            "/orderflow/"
        ):
            parts = default.split("/")
            if len(parts) >= 4:
                parts[2] = stage
                values[name] = "/".join(parts)
    for name, value in (overrides or {}).items():
        if name in declared:
            values[name] = str(value)
    return values


def package_source(package_dir: Path) -> bytes:
    """A deterministic zip of the package's ``src/`` tree (what its function runs)."""
    buffer = io.BytesIO()
    source = package_dir / "src"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if (
                path.is_file()
                and path.suffix in _SOURCE_SUFFIXES
                and "__pycache__" not in str(path)
            ):
                info = zipfile.ZipInfo(str(path.relative_to(source)), date_time=_ZIP_TIME)
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _local(uri: Any) -> bool:
    return isinstance(uri, str) and not uri.startswith("s3://")


def package_artifacts(
    template: dict[str, Any], package: DeployTarget, stage: str, s3: S3Client
) -> dict[str, Any]:
    """What ``sam package`` does, into the embedded S3: local code and definitions uploaded.

    A function's local ``CodeUri`` becomes a zip of the package's source; a state machine's
    local ``DefinitionUri`` becomes the uploaded definition file.
    """
    document: dict[str, Any] = json.loads(json.dumps(template))
    uploads: dict[str, bytes] = {}
    code_key = f"{stage}/{package.name}/code.zip"
    sections = [r.get("Properties", {}) for r in document["Resources"].values()]
    kinds = [r.get("Type") for r in document["Resources"].values()]
    functions = [
        p for p, k in zip(sections, kinds, strict=True) if k == "AWS::Serverless::Function"
    ]
    functions.append(document.get("Globals", {}).get("Function", {}))
    for properties in functions:
        if _local(properties.get("CodeUri")):
            uploads[code_key] = package_source(package.directory)
            properties["CodeUri"] = {"Bucket": ARTIFACTS_BUCKET, "Key": code_key}
    for properties, kind in zip(sections, kinds, strict=True):
        if kind == "AWS::Serverless::StateMachine" and _local(properties.get("DefinitionUri")):
            path = package.directory / str(properties["DefinitionUri"])
            if not path.is_file():
                raise StackDeployError(f"{package.template}: no state machine definition {path}")
            key = f"{stage}/{package.name}/{path.name}"
            uploads[key] = path.read_bytes()
            properties["DefinitionUri"] = {"Bucket": ARTIFACTS_BUCKET, "Key": key}
    if uploads:
        _ensure_bucket(s3)
        for key, body in uploads.items():
            s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=key, Body=body)
    return document


def sam_to_cloudformation(
    template: dict[str, Any], parameters: Mapping[str, str], region: str = "us-east-1"
) -> dict[str, Any]:
    """Plain CloudFormation from a (packaged) SAM template: the embedded AWS's own transform."""
    try:
        return cfn_sam_deploy.sam_to_cloudformation(template, parameters, region)
    except cfn_sam_deploy.SamTransformError as exc:
        raise StackDeployError(f"SAM transform failed: {exc}") from exc


def deploy_stack(
    cloudformation: CloudFormationClient,
    s3: S3Client,
    template: DeployTarget,
    *,
    stage: str,
    overrides: Mapping[str, str] | None = None,
    region: str = "us-east-1",
) -> DeployedStack:
    """Transform, create and wait for one stack; return its outputs and resources."""
    document = load_template(template.template)
    parameters = stack_parameters(document, stage, overrides)
    stack_name = template.stack_name(stage)
    try:
        packaged = package_artifacts(document, template, stage, s3)
        body = sam_to_cloudformation(packaged, parameters, region)
    except StackDeployError as exc:
        raise StackDeployError(f"{template.template}: {exc}") from exc
    from botocore.exceptions import ClientError, WaiterError  # noqa: PLC0415

    try:
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(body),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        cloudformation.get_waiter("stack_create_complete").wait(
            StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    except (ClientError, WaiterError) as exc:
        raise StackDeployError(f"stack {stack_name} ({template.template}): {exc}") from exc
    return describe_stack(cloudformation, template.name, stack_name)


def describe_stack(
    cloudformation: CloudFormationClient, name: str, stack_name: str
) -> DeployedStack:
    """Outputs and resources of an existing stack."""
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resources = {
        r["LogicalResourceId"]: (r["ResourceType"], r.get("PhysicalResourceId", ""))
        for r in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        if r.get("LogicalResourceId") and r.get("ResourceType")
    }
    return DeployedStack(name, stack_name, outputs, resources)


def _ensure_bucket(s3: S3Client) -> None:
    from botocore.exceptions import ClientError  # noqa: PLC0415

    try:
        s3.head_bucket(Bucket=ARTIFACTS_BUCKET)
    except ClientError:
        s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
