"""CloudFormation refuses parameter values that break the template's constraints.

CloudFormation template Parameters syntax
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html):
``AllowedValues``, ``AllowedPattern`` ("must match the entire parameter value"), ``MinLength`` /
``MaxLength`` for ``String`` types, ``MinValue`` / ``MaxValue`` for ``Number`` types, which are
validated as numbers; a ``Default`` must adhere to the constraints; "each parameter must be
assigned a value at runtime"; ``ConstraintDescription`` "explains a constraint when the
constraint is violated". CreateStack, UpdateStack and CreateChangeSet refuse a value that breaks
one with a ValidationError (HTTP 400) naming the parameter, before anything is created.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from orderflow.emulator import cfn_parameter_constraints, cfn_resources, cfn_sam_deploy

PARAMETERS: dict[str, Any] = {
    "Stage": {"Type": "String", "Default": "dev", "AllowedPattern": "^[a-z][a-z0-9]{0,15}$"},
    "MaxReceiveCount": {"Type": "Number", "Default": 5, "MinValue": 5, "MaxValue": 20},
    "Gateway": {"Type": "String", "Default": "simulated", "AllowedValues": ["simulated", "stripe"]},
    "SenderName": {"Type": "String", "Default": "orders", "MinLength": 3, "MaxLength": 8},
    "Recipients": {
        "Type": "CommaDelimitedList",
        "Default": "a@shop.example",
        "AllowedPattern": "^[^@]+@[^@]+$",
    },
    "Ports": {"Type": "List<Number>", "Default": "80,443"},
}


def template(parameters: dict[str, Any] | None = None) -> str:
    return json.dumps(
        {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Parameters": PARAMETERS if parameters is None else parameters,
            "Resources": {
                "Queue": {
                    "Type": "AWS::SQS::Queue",
                    "Properties": {"QueueName": {"Fn::Sub": "orders-${Stage}"}},
                }
            },
        }
    )


def given(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


@pytest.fixture
def cloudformation(aws: Callable[[str], Any], installed: Callable[..., None]) -> Any:
    installed(cfn_parameter_constraints)
    return aws("cloudformation")


def refusal(call: Callable[[], object]) -> str:
    """The ValidationError ``call`` is refused with (HTTP 400), as an AWS client sees it."""
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    assert error["Error"]["Code"] == "ValidationError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(error["Error"]["Message"])


def stack_names(cloudformation: Any) -> list[str]:
    return [s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"MaxReceiveCount": "2"}, "Parameter 'MaxReceiveCount' must be a number not less than 5"),
        (
            {"MaxReceiveCount": "21"},
            "Parameter 'MaxReceiveCount' must be a number not greater than 20",
        ),
        ({"MaxReceiveCount": "five"}, "Parameter 'MaxReceiveCount' must be a number."),
        ({"Ports": "80,http"}, "Parameter 'Ports' must be a number."),
        ({"Gateway": "paypal"}, "Parameter 'Gateway' must be one of AllowedValues"),
        ({"Stage": "e2e-run"}, "Parameter 'Stage' must match pattern ^[a-z][a-z0-9]{0,15}$"),
        ({"Recipients": "a@shop.example, nobody"}, "Parameter 'Recipients' must match pattern"),
        ({"SenderName": "ab"}, "Parameter 'SenderName' must contain at least 3 characters"),
        ({"SenderName": "orderflow"}, "Parameter 'SenderName' must contain at most 8 characters"),
    ],
    ids=[
        "MinValue",
        "MaxValue",
        "Number",
        "List<Number>",
        "AllowedValues",
        "AllowedPattern",
        "CommaDelimitedList",
        "MinLength",
        "MaxLength",
    ],
)
def test_create_stack_refuses_a_value_that_breaks_a_constraint(
    cloudformation: Any, values: dict[str, str], message: str
) -> None:
    """The value must keep the parameter's Type and constraints.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    # WHEN a stack is created with a value its template's constraint rules out
    refused = refusal(
        lambda: cloudformation.create_stack(
            StackName="orders", TemplateBody=template(), Parameters=given(**values)
        )
    )
    # THEN CloudFormation names the parameter and what it must be, and creates no stack
    assert refused.startswith(message), refused
    assert stack_names(cloudformation) == []


def test_values_within_the_constraints_create_the_stack(cloudformation: Any) -> None:
    """Values that keep every constraint (members of a list each checked, space-trimmed) are
    taken as given.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    cloudformation.create_stack(
        StackName="orders",
        TemplateBody=template(),
        Parameters=given(
            Stage="prod",
            MaxReceiveCount="20",
            Gateway="stripe",
            SenderName="shop",
            Recipients="a@shop.example, b@shop.example",
            Ports="8080, 8443",
        ),
    )
    stack = cloudformation.describe_stacks(StackName="orders")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert values["MaxReceiveCount"] == "20"
    assert values["Stage"] == "prod"


def test_a_default_that_breaks_its_constraint_is_refused(cloudformation: Any) -> None:
    """Default: "If you define constraints for the parameter, you must specify a value that
    adheres to those constraints"; the default is checked as a supplied value is.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    parameters = {**PARAMETERS, "MaxReceiveCount": {"Type": "Number", "Default": 3, "MinValue": 5}}
    refused = refusal(
        lambda: cloudformation.create_stack(StackName="orders", TemplateBody=template(parameters))
    )
    assert refused == "Parameter 'MaxReceiveCount' must be a number not less than 5"


def test_a_constraint_description_is_the_message(cloudformation: Any) -> None:
    """ConstraintDescription: "A string that explains a constraint when the constraint is
    violated", shown instead of the constraint's own message.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    parameters = {
        **PARAMETERS,
        "Stage": {
            "Type": "String",
            "Default": "dev",
            "AllowedPattern": "^[a-z]+$",
            "ConstraintDescription": "lowercase letters only",
        },
    }
    refused = refusal(
        lambda: cloudformation.create_stack(
            StackName="orders", TemplateBody=template(parameters), Parameters=given(Stage="Dev1")
        )
    )
    assert refused == "Parameter Stage failed to satisfy constraint: lowercase letters only"


def test_every_parameter_without_a_value_is_named(cloudformation: Any) -> None:
    """Every parameter "must be assigned a value at runtime": each one with neither a supplied
    value nor a default is listed.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    parameters = {
        **PARAMETERS,
        "SenderAddress": {"Type": "String"},
        "TopicArn": {"Type": "String"},
    }
    refused = refusal(
        lambda: cloudformation.create_stack(StackName="orders", TemplateBody=template(parameters))
    )
    assert refused == "Parameters: [SenderAddress, TopicArn] must have values"


def test_create_change_set_refuses_what_create_stack_refuses(cloudformation: Any) -> None:
    """CreateChangeSet checks as CreateStack does: the change set is refused when it is created,
    not when it executes, and no stack is left waiting for review.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
    """
    refused = refusal(
        lambda: cloudformation.create_change_set(
            StackName="orders",
            ChangeSetName="first",
            ChangeSetType="CREATE",
            TemplateBody=template(),
            Parameters=given(MaxReceiveCount="2"),
        )
    )
    assert refused == "Parameter 'MaxReceiveCount' must be a number not less than 5"
    assert stack_names(cloudformation) == []
    missing = {**PARAMETERS, "SenderAddress": {"Type": "String"}}
    refused = refusal(
        lambda: cloudformation.create_change_set(
            StackName="orders",
            ChangeSetName="first",
            ChangeSetType="CREATE",
            TemplateBody=template(missing),
        )
    )
    assert refused == "Parameters: [SenderAddress] must have values"


def test_a_previous_value_is_checked_against_the_new_template(cloudformation: Any) -> None:
    """UsePreviousValue gives the parameter its previous value, so a template that now rules it
    out refuses UpdateStack and CreateChangeSet; the stack keeps its value.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html
    """
    loose = {"Stage": PARAMETERS["Stage"], "MaxReceiveCount": {"Type": "Number", "MinValue": 1}}
    strict = {"Stage": PARAMETERS["Stage"], "MaxReceiveCount": {"Type": "Number", "MinValue": 5}}
    cloudformation.create_stack(
        StackName="orders", TemplateBody=template(loose), Parameters=given(MaxReceiveCount="2")
    )
    previous = [{"ParameterKey": "MaxReceiveCount", "UsePreviousValue": True}]

    by_update = refusal(
        lambda: cloudformation.update_stack(
            StackName="orders", TemplateBody=template(strict), Parameters=previous
        )
    )
    by_change_set = refusal(
        lambda: cloudformation.create_change_set(
            StackName="orders",
            ChangeSetName="stricter",
            ChangeSetType="UPDATE",
            TemplateBody=template(strict),
            Parameters=previous,
        )
    )

    expected = "Parameter 'MaxReceiveCount' must be a number not less than 5"
    assert (by_update, by_change_set) == (expected, expected)
    stack = cloudformation.describe_stacks(StackName="orders")["Stacks"][0]
    assert {"ParameterKey": "MaxReceiveCount", "ParameterValue": "2"} in stack["Parameters"]
    assert cloudformation.list_change_sets(StackName="orders")["Summaries"] == []


def test_update_stack_takes_a_value_within_the_new_constraints(cloudformation: Any) -> None:
    """An update whose values keep the template's constraints goes through.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    cloudformation.create_stack(StackName="orders", TemplateBody=template())
    cloudformation.update_stack(
        StackName="orders", TemplateBody=template(), Parameters=given(MaxReceiveCount="10")
    )
    stack = cloudformation.describe_stacks(StackName="orders")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {"ParameterKey": "MaxReceiveCount", "ParameterValue": "10"} in stack["Parameters"]


def test_an_ssm_parameter_is_checked_by_its_name(
    cloudformation: Any, aws: Callable[[str], Any]
) -> None:
    """SSM parameter types: CloudFormation "can perform validation on Systems Manager parameter
    keys, but not on their corresponding values"; the name keeps the constraints, whatever the
    value holds.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    """
    aws("ssm").put_parameter(Name="/orderflow/dev/topic", Value="arn:aws:sns:x", Type="String")
    aws("ssm").put_parameter(Name="/other/topic", Value="arn:aws:sns:y", Type="String")
    parameters = {
        **PARAMETERS,
        "TopicArn": {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "AllowedPattern": "^/orderflow/.*$",
        },
    }
    refused = refusal(
        lambda: cloudformation.create_stack(
            StackName="orders",
            TemplateBody=template(parameters),
            Parameters=given(TopicArn="/other/topic"),
        )
    )
    assert refused == "Parameter 'TopicArn' must match pattern ^/orderflow/.*$"
    cloudformation.create_stack(
        StackName="orders",
        TemplateBody=template(parameters),
        Parameters=given(TopicArn="/orderflow/dev/topic"),
    )
    assert stack_names(cloudformation) == ["orders"]


SAM_TEMPLATE: dict[str, Any] = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Transform": "AWS::Serverless-2016-10-31",
    "Parameters": {"MaxReceiveCount": {"Type": "Number", "Default": 5, "MinValue": 5}},
    "Resources": {
        "Table": {
            "Type": "AWS::Serverless::SimpleTable",
            "Properties": {"TableName": "orders", "PrimaryKey": {"Name": "pk", "Type": "String"}},
        }
    },
}


def test_sam_deploy_change_sets_are_checked_on_the_transformed_template(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    """What ``sam deploy`` submits (a SAM template, by change set) is refused for a value its
    parameters rule out, and deploys with one they allow. Installed in the embedded AWS's
    order (this check before ``cfn_sam_deploy``), the check reads the transform's output.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/transform-aws-serverless.html
    """
    installed(cfn_resources, cfn_parameter_constraints, cfn_sam_deploy)
    cloudformation = aws("cloudformation")

    def change_set(value: str) -> dict[str, Any]:
        created: dict[str, Any] = cloudformation.create_change_set(
            StackName="orders",
            ChangeSetName=f"samcli-deploy-{value}",
            ChangeSetType="CREATE",
            TemplateBody=json.dumps(SAM_TEMPLATE),
            Parameters=given(MaxReceiveCount=value),
            Capabilities=["CAPABILITY_IAM"],
        )
        return created

    refused = refusal(lambda: change_set("2"))
    assert refused == "Parameter 'MaxReceiveCount' must be a number not less than 5"
    cloudformation.execute_change_set(ChangeSetName=change_set("6")["Id"], StackName="orders")
    stack = cloudformation.describe_stacks(StackName="orders")["Stacks"][0]
    assert stack["Parameters"] == [{"ParameterKey": "MaxReceiveCount", "ParameterValue": "6"}]
    assert aws("dynamodb").describe_table(TableName="orders")["Table"]["TableName"] == "orders"


def test_uninstall_takes_moto_back(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    """moto as shipped takes a value its template rules out (the constraints of
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
    go unchecked); the check leaves with uninstall."""
    cfn_parameter_constraints.install()
    cfn_parameter_constraints.uninstall()
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(
        StackName="orders", TemplateBody=template(), Parameters=given(MaxReceiveCount="2")
    )
    assert stack_names(cloudformation) == ["orders"]
