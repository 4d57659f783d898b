"""Create a template's DynamoDB tables in moto, from the template itself."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from orderflow.templates.cfn import dynamodb_tables

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TEST_ACCOUNT = "123456789012"
TEST_REGION = "us-east-1"


def template_parameters(stage: str, stack_name: str = "orderflow-test") -> dict[str, str]:
    """The parameters and pseudo parameters our templates use in resource names."""
    return {
        "Stage": stage,
        "AWS::StackName": stack_name,
        "AWS::Region": TEST_REGION,
        "AWS::AccountId": TEST_ACCOUNT,
        "AWS::Partition": "aws",
    }


def create_tables(
    template: str | Path, client: DynamoDBClient, stage: str = "test"
) -> dict[str, str]:
    """Create every table of ``template``; return logical id -> table name."""
    names = {}
    for logical_id, spec in dynamodb_tables(template, template_parameters(stage)).items():
        client.create_table(**spec)
        names[logical_id] = spec["TableName"]
    return names
