from __future__ import annotations

from pathlib import Path

import pytest

from orderflow.templates import dynamodb_tables, load_template, resolve
from orderflow.templates.cfn import TemplateError

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Stage: {Type: String}
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub orderflow-${Stage}-orders
      BillingMode: PAY_PER_REQUEST
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      Tags: [{Key: arn, Value: !GetAtt Queue.Arn}]
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Join ["-", [!Ref Stage, q]]
"""


def test_short_tags_become_intrinsic_functions(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)

    template = load_template(path)

    orders = template["Resources"]["Orders"]["Properties"]
    assert orders["TableName"] == {"Fn::Sub": "orderflow-${Stage}-orders"}
    assert orders["Tags"][0]["Value"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert template["Resources"]["Queue"]["Properties"]["QueueName"] == {
        "Fn::Join": ["-", [{"Ref": "Stage"}, "q"]]
    }


def test_tables_resolve_to_create_table_arguments(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)

    tables = dynamodb_tables(path, {"Stage": "test"})

    assert tables["Orders"]["TableName"] == "orderflow-test-orders"
    assert "Tags" not in tables["Orders"]


def test_unresolvable_names_are_errors() -> None:
    with pytest.raises(TemplateError, match="Region"):
        resolve({"Fn::Sub": "x-${Region}"}, {"Stage": "dev"})


def test_a_file_without_resources_is_not_a_template(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("just: yaml\n")

    with pytest.raises(TemplateError, match="no Resources"):
        load_template(path)
