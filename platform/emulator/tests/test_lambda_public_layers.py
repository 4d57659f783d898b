"""The public Powertools layer resolves and attaches, as AWS publishes it in every region.

Powertools for AWS Lambda (Python), "Lambda Layer"
(https://docs.aws.amazon.com/powertools/python/latest/getting-started/lambda-layers/): the layer
is published from account 017000801446 as ``AWSLambdaPowertoolsPythonV3-python312-x86_64`` (and
siblings), and the public SSM parameter
``/aws/service/powertools/python/{arch}/{python_version}/{version}`` holds each region's layer
version ARN. AWS Lambda Developer Guide, "Adding layers to functions"
(https://docs.aws.amazon.com/lambda/latest/dg/adding-layers.html): a function may use a layer
version another account shared with it, as Powertools shares its layers with every account.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from importlib import metadata
from typing import Any

import pytest
from botocore.exceptions import ClientError

from orderflow.emulator import cfn_resources, lambda_public_layers

VERSION = metadata.version("aws-lambda-powertools")
PARAMETER = f"/aws/service/powertools/python/x86_64/python3.12/{VERSION}"


def _code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def _role(aws: Callable[[str], Any]) -> str:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = aws("iam").create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(policy))
    return str(role["Role"]["Arn"])


def test_a_stack_takes_the_powertools_layer_from_its_public_parameter(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    # GIVEN the embedded AWS with its public Powertools layer
    installed(cfn_resources, lambda_public_layers)

    # WHEN a stack's function takes the layer through the documented SSM parameter
    template = {
        "Parameters": {
            "PowertoolsLayerArn": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": PARAMETER,
            }
        },
        "Resources": {
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "payment",
                    "Runtime": "python3.12",
                    "Handler": "handler.handler",
                    "Role": _role(aws),
                    "Code": {"ZipFile": "def handler(event, context):\n    return None\n"},
                    "Layers": [{"Ref": "PowertoolsLayerArn"}],
                },
            }
        },
    }
    aws("cloudformation").create_stack(StackName="layered", TemplateBody=json.dumps(template))

    # THEN the function carries the region's layer version from Powertools' own account
    (layer,) = aws("lambda").get_function_configuration(FunctionName="payment")["Layers"]
    assert layer["Arn"].startswith(
        "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:"
    )
    value = aws("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    assert value == layer["Arn"]
    latest = "/aws/service/powertools/python/x86_64/python3.12/latest"
    assert aws("ssm").get_parameter(Name=latest)["Parameter"]["Value"] == value


def test_a_function_of_any_account_may_use_the_public_layer(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    # GIVEN the public layer's ARN, read from its parameter
    installed(lambda_public_layers)
    arn = aws("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"]

    # WHEN a function of this account is created with it
    aws("lambda").create_function(
        FunctionName="inventory",
        Runtime="python3.12",
        Handler="handler.handler",
        Role=_role(aws),
        Code={"ZipFile": _code()},
        Layers=[arn],
    )

    # THEN it has the layer, and a Powertools version that was never published has no parameter
    layers = aws("lambda").get_function_configuration(FunctionName="inventory")["Layers"]
    assert [layer["Arn"] for layer in layers] == [arn]
    with pytest.raises(ClientError, match="ParameterNotFound"):
        aws("ssm").get_parameter(Name="/aws/service/powertools/python/x86_64/python3.12/0.0.1")
