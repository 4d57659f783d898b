"""``!GetAtt LogGroup.Arn`` ends in ``:*``, as the AWS::Logs::LogGroup reference gives it
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-logs-loggroup.html),
so a role statement on it covers the group's log streams under IAM enforcement."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from orderflow.emulator import cfn_log_group_arn

from .conftest import ACCOUNT, REGION

TEMPLATE = {
    "Resources": {
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/lambda/fn"}}
    },
    "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Logs", "Arn"]}}},
}


def _deployed_arn(aws: Callable[[str], Any]) -> str:
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(StackName="logs", TemplateBody=json.dumps(TEMPLATE))
    [output] = cloudformation.describe_stacks(StackName="logs")["Stacks"][0]["Outputs"]
    return str(output["OutputValue"])


def test_the_log_group_arn_attribute_ends_in_a_wildcard(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    installed(cfn_log_group_arn)

    assert _deployed_arn(aws) == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn:*"


def test_without_the_extension_moto_leaves_the_wildcard_out(aws: Callable[[str], Any]) -> None:
    assert _deployed_arn(aws) == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn"
