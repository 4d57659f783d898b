"""Every function takes Powertools from the public layer of the version the workspace locks.

The build leaves Powertools out of each zip (``LAYER_PROVIDED`` in the noxfile); the function's
``Layers`` bring it back from the public Powertools layer, resolved per region from the SSM
parameter Powertools documents (``/aws/service/powertools/python/{arch}/{python_version}/
{version}``, "Lambda Layer",
https://docs.aws.amazon.com/powertools/python/latest/getting-started/lambda-layers/). The local
runtime runs functions with the installed Powertools, so the pinned, the locked and the installed
versions must be one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from orderflow.local.stacks import deploy_stack, stack_templates
from orderflow.templates import load_template

ROOT = Path(__file__).resolve().parents[4]
SERVICES = ("payment", "inventory", "notifications", "analytics")


def locked_powertools() -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == "aws-lambda-powertools")


@pytest.mark.parametrize("service", SERVICES)
def test_the_function_takes_the_powertools_layer_of_the_locked_version(service: str) -> None:
    # GIVEN the service's template and the workspace's lock
    template = load_template(ROOT / "services" / service / "template.yaml")
    (function,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"
    ]
    properties = function["Properties"]
    parameter = template["Parameters"]["PowertoolsLayerArn"]

    # WHEN its function's layers are read
    layers = properties["Layers"]

    # THEN the one layer is the public Powertools layer for its runtime, architecture and the
    # locked Powertools, which is also the one the local runtime runs
    architecture = properties.get("Architectures", ["x86_64"])[0]
    version = locked_powertools()
    assert layers == [{"Ref": "PowertoolsLayerArn"}]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == (
        f"/aws/service/powertools/python/{architecture}/{properties['Runtime']}/{version}"
    )
    assert metadata.version("aws-lambda-powertools") == version


def test_the_local_stage_deploys_every_function_with_the_powertools_layer(
    embedded: Callable[[str], Any],
) -> None:
    # GIVEN the embedded AWS, which publishes the Powertools layer the local runtime runs
    overrides = {"SenderAddress": "orders@orderflow.local", "ManageSenderIdentity": "true"}

    # WHEN the platform stack and every service stack deploy from their templates
    deployed = [
        deploy_stack(
            embedded("cloudformation"), embedded("s3"), t, stage="local", overrides=overrides
        )
        for t in stack_templates(ROOT)
    ]

    # THEN every function carries the public layer of the installed Powertools
    expected = embedded("ssm").get_parameter(
        Name=f"/aws/service/powertools/python/x86_64/python3.12/{metadata.version('aws-lambda-powertools')}"
    )["Parameter"]["Value"]
    functions = [
        name for stack in deployed for name in stack.physical_ids("AWS::Lambda::Function").values()
    ]
    assert len(functions) == len(SERVICES)
    for name in functions:
        layers = embedded("lambda").get_function_configuration(FunctionName=name)["Layers"]
        assert [layer["Arn"] for layer in layers] == [expected]
