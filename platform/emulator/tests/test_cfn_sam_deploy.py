"""CloudFormation expands SAM templates and completes change sets, as ``sam deploy`` relies on."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from orderflow.emulator import cfn_resources, cfn_sam_deploy

SAM_TEMPLATE: dict[str, Any] = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Transform": "AWS::Serverless-2016-10-31",
    "Description": "orders",
    "Parameters": {"MaxReceiveCount": {"Type": "Number", "Default": 3}},
    "Resources": {
        "Table": {
            "Type": "AWS::Serverless::SimpleTable",
            "Properties": {"TableName": "orders", "PrimaryKey": {"Name": "pk", "Type": "String"}},
        },
        "DeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "orders-dlq"}},
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": "orders",
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
                    "maxReceiveCount": {"Ref": "MaxReceiveCount"},
                },
            },
        },
    },
    "Outputs": {"TableName": {"Value": {"Ref": "Table"}}},
}


@pytest.fixture
def cloudformation(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> Callable[[str], Any]:
    installed(cfn_resources, cfn_sam_deploy)
    return aws


def deploy_by_change_set(
    cloudformation: Any, stack: str, template: str, parameters: dict[str, str], kind: str
) -> dict[str, Any]:
    """What sam deploy does: CreateChangeSet, wait for it, ExecuteChangeSet; the change set."""
    change_set = cloudformation.create_change_set(
        StackName=stack,
        ChangeSetName=f"samcli-deploy{kind.lower()}",
        TemplateBody=template,
        ChangeSetType=kind,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    cloudformation.get_waiter("change_set_create_complete").wait(
        ChangeSetName=change_set["Id"], StackName=stack, WaiterConfig={"Delay": 1}
    )
    described: dict[str, Any] = cloudformation.describe_change_set(
        ChangeSetName=change_set["Id"], StackName=stack
    )
    cloudformation.execute_change_set(ChangeSetName=change_set["Id"], StackName=stack)
    return described


def test_create_stack_expands_a_template_that_declares_the_sam_transform(
    cloudformation: Callable[[str], Any],
) -> None:
    """AWS::Serverless transform: CloudFormation expands the SAM syntax it receives; GetTemplate
    returns the processed template by default and the submitted one for TemplateStage Original.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/transform-aws-serverless.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_GetTemplate.html
    """
    cfn = cloudformation("cloudformation")
    cfn.create_stack(StackName="orders", TemplateBody=json.dumps(SAM_TEMPLATE))

    resources = cfn.describe_stack_resources(StackName="orders")["StackResources"]
    assert {r["LogicalResourceId"]: r["ResourceType"] for r in resources}["Table"] == (
        "AWS::DynamoDB::Table"
    )
    assert cloudformation("dynamodb").describe_table(TableName="orders")["Table"]["TableName"]
    processed = cfn.get_template(StackName="orders")["TemplateBody"]
    assert "AWS::Serverless" not in json.dumps(processed)
    original = cfn.get_template(StackName="orders", TemplateStage="Original")
    # boto3 hands a JSON template body back already parsed
    assert original["TemplateBody"]["Transform"] == "AWS::Serverless-2016-10-31"
    assert original["StagesAvailable"] == ["Original", "Processed"]


def test_a_create_change_set_leaves_the_stack_with_its_outputs(
    cloudformation: Callable[[str], Any],
) -> None:
    """ExecuteChangeSet: the stack becomes what the change set describes, outputs included;
    LastUpdatedTime is returned only once the stack has been updated.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ExecuteChangeSet.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html
    """
    cfn = cloudformation("cloudformation")
    described = deploy_by_change_set(cfn, "orders", json.dumps(SAM_TEMPLATE), {}, "CREATE")

    assert {c["ResourceChange"]["LogicalResourceId"] for c in described["Changes"]} >= {
        "Table",
        "Queue",
    }
    stack = cfn.describe_stacks(StackName="orders")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"] == [{"OutputKey": "TableName", "OutputValue": "orders"}]
    assert stack["Description"] == "orders"
    assert "LastUpdatedTime" not in stack


def test_an_update_modifies_what_a_changed_parameter_references_and_keeps_the_messages(
    cloudformation: Callable[[str], Any],
) -> None:
    """A change set lists a resource as Modify when a parameter it references changes; an
    AWS::SQS::Queue RedrivePolicy change updates with no interruption (messages stay); the
    updated stack has a LastUpdatedTime and a stack nobody updated has none.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChange.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queue.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html
    """
    cfn, sqs = cloudformation("cloudformation"), cloudformation("sqs")
    body = json.dumps(SAM_TEMPLATE)
    deploy_by_change_set(cfn, "orders", body, {"MaxReceiveCount": "3"}, "CREATE")
    other = json.loads(body)
    other["Resources"] = {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "x"}}}
    other["Outputs"] = {}
    deploy_by_change_set(cfn, "others", json.dumps(other), {}, "CREATE")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="order-1")

    described = deploy_by_change_set(cfn, "orders", body, {"MaxReceiveCount": "5"}, "UPDATE")

    changes = {c["ResourceChange"]["LogicalResourceId"]: c for c in described["Changes"]}
    assert changes["Queue"]["ResourceChange"]["Action"] == "Modify"
    assert "Table" not in changes
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
    assert json.loads(policy["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == 5
    depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "1"
    stacks = {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}
    assert stacks["orders"]["StackStatus"] == "UPDATE_COMPLETE"
    assert "LastUpdatedTime" in stacks["orders"]
    assert "LastUpdatedTime" not in stacks["others"]


def test_redeploying_the_same_template_and_parameters_is_an_empty_change_set(
    cloudformation: Callable[[str], Any],
) -> None:
    """CreateChangeSet with nothing to change fails with "didn't contain changes", which
    sam deploy reports as no changes to deploy (fail_on_empty_changeset = false).

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html
    """
    cfn = cloudformation("cloudformation")
    body = json.dumps(SAM_TEMPLATE)
    deploy_by_change_set(cfn, "orders", body, {"MaxReceiveCount": "3"}, "CREATE")

    change_set = cfn.create_change_set(
        StackName="orders",
        ChangeSetName="again",
        TemplateBody=body,
        ChangeSetType="UPDATE",
        Parameters=[{"ParameterKey": "MaxReceiveCount", "ParameterValue": "3"}],
    )

    described = cfn.describe_change_set(ChangeSetName=change_set["Id"], StackName="orders")
    assert described["Status"] == "FAILED"
    assert "didn't contain changes" in described["StatusReason"]


def test_a_template_the_transform_rejects_fails_the_call_with_its_reasons(
    cloudformation: Callable[[str], Any],
) -> None:
    """AWS::Serverless transform: an invalid SAM document fails with the transform's errors.

    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/transform-aws-serverless.html
    """
    broken = json.loads(json.dumps(SAM_TEMPLATE))
    broken["Resources"]["Function"] = {"Type": "AWS::Serverless::Function", "Properties": {}}

    with pytest.raises(ClientError) as raised:
        cloudformation("cloudformation").create_change_set(
            StackName="orders",
            ChangeSetName="broken",
            TemplateBody=json.dumps(broken),
            ChangeSetType="CREATE",
        )

    message = raised.value.response["Error"]["Message"]
    assert message.startswith("Transform AWS::Serverless-2016-10-31 failed with: ")
    assert "Function" in message


def test_a_template_url_on_the_emulator_endpoint_is_read_path_style(
    cloudformation: Callable[[str], Any],
) -> None:
    """A path-style S3 URL names the bucket in the path (sam deploy writes one for its own
    endpoint when the template is uploaded), with an optional versionId.

    https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html#path-style-access
    """
    s3, cfn = cloudformation("s3"), cloudformation("cloudformation")
    s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket="artifacts", Key="t.template", Body=json.dumps(SAM_TEMPLATE))

    change_set = cfn.create_change_set(
        StackName="orders",
        ChangeSetName="from-url",
        TemplateURL=f"http://127.0.0.1:4566/artifacts/t.template?versionId={version['VersionId']}",
        ChangeSetType="CREATE",
    )

    described = cfn.describe_change_set(ChangeSetName=change_set["Id"], StackName="orders")
    assert described["Status"] == "CREATE_COMPLETE"


def test_uninstall_puts_back_moto_as_shipped(aws: Callable[[str], Any]) -> None:
    from moto.cloudformation.models import CloudFormationBackend  # noqa: PLC0415

    shipped = CloudFormationBackend.create_change_set
    cfn_sam_deploy.install()
    assert CloudFormationBackend.create_change_set is not shipped
    cfn_sam_deploy.uninstall()
    assert CloudFormationBackend.create_change_set is shipped


def test_an_update_that_keeps_an_ssm_parameter_reuses_its_name(
    cloudformation: Callable[[str], Any],
) -> None:
    """Parameter: UsePreviousValue keeps the value the stack uses for the key; for an SSM
    parameter type that value is the parameter's name, and ResolvedValue what it names.
    (sam deploy sends UsePreviousValue for every parameter its samconfig does not override.)

    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html
    """
    cfn, ssm, sqs = cloudformation("cloudformation"), cloudformation("ssm"), cloudformation("sqs")
    ssm.put_parameter(Name="/orderflow/dev/queue-name", Value="orders", Type="String")
    template = json.loads(json.dumps(SAM_TEMPLATE))
    template["Parameters"]["QueueName"] = {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/orderflow/dev/queue-name",
    }
    template["Resources"]["Queue"]["Properties"]["QueueName"] = {"Ref": "QueueName"}
    body = json.dumps(template)
    deploy_by_change_set(cfn, "orders", body, {"MaxReceiveCount": "3"}, "CREATE")

    change_set = cfn.create_change_set(
        StackName="orders",
        ChangeSetName="keep",
        TemplateBody=body,
        ChangeSetType="UPDATE",
        Parameters=[
            {"ParameterKey": "MaxReceiveCount", "ParameterValue": "4"},
            {"ParameterKey": "QueueName", "UsePreviousValue": True},
        ],
    )
    cfn.get_waiter("change_set_create_complete").wait(
        ChangeSetName=change_set["Id"], StackName="orders", WaiterConfig={"Delay": 1}
    )
    cfn.execute_change_set(ChangeSetName=change_set["Id"], StackName="orders")

    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
    assert json.loads(policy["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == 4
    assert cfn.describe_stacks(StackName="orders")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
