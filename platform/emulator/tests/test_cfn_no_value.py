"""A list element that resolves to AWS::NoValue is removed, as CloudFormation removes it.

Pseudo parameters reference, AWS::NoValue
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html):
"Removes the corresponding resource property when specified as a return value in the Fn::If
intrinsic function."
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from orderflow.emulator import cfn_no_value

TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"Gateway": {"Type": "String", "Default": "simulated"}},
    "Conditions": {"UseStripe": {"Fn::Equals": [{"Ref": "Gateway"}, "stripe"]}},
    "Resources": {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": "payment-role",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {
                        "Fn::If": [
                            "UseStripe",
                            {
                                "PolicyName": "stripe-api-key",
                                "PolicyDocument": {
                                    "Version": "2012-10-17",
                                    "Statement": [
                                        {
                                            "Effect": "Allow",
                                            "Action": "secretsmanager:GetSecretValue",
                                            "Resource": "*",
                                        }
                                    ],
                                },
                            },
                            {"Ref": "AWS::NoValue"},
                        ]
                    }
                ],
            },
        }
    },
}


def deploy(aws: Callable[[str], Any], gateway: str) -> list[str]:
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(
        StackName=f"payment-{gateway}",
        TemplateBody=json.dumps(TEMPLATE).replace("payment-role", f"payment-role-{gateway}"),
        Parameters=[{"ParameterKey": "Gateway", "ParameterValue": gateway}],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    status = cloudformation.describe_stacks(StackName=f"payment-{gateway}")["Stacks"][0]
    assert status["StackStatus"] == "CREATE_COMPLETE", status.get("StackStatusReason")
    policies = aws("iam").list_role_policies(RoleName=f"payment-role-{gateway}")
    return list(policies["PolicyNames"])


def test_an_optional_list_element_is_left_out_when_its_condition_is_false(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    installed(cfn_no_value)
    assert deploy(aws, "simulated") == []
    assert deploy(aws, "stripe") == ["stripe-api-key"]
