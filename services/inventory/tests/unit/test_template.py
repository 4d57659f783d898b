"""template.yaml follows the project's conventions and agrees with the code it deploys."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from orderflow.contracts import consumed_by, filter_policy
from orderflow.inventory import HANDLED_TYPES, bootstrap
from orderflow.inventory.admin import table_names
from orderflow.templates import dynamodb_tables, load_template, resources_of_type
from orderflow.testing import template_parameters

TEMPLATE_PATH = Path(__file__).parents[2] / "template.yaml"


@pytest.fixture(scope="module")
def template():
    return load_template(TEMPLATE_PATH)


def only(template, resource_type: str) -> dict:
    (props,) = resources_of_type(template, resource_type).values()
    return props


def test_the_subscription_filters_exactly_what_the_routing_table_routes_here(template):
    subscription = only(template, "AWS::SNS::Subscription")
    assert subscription["FilterPolicy"] == filter_policy("inventory")
    assert subscription["FilterPolicyScope"] == "MessageAttributes"
    assert subscription["RawMessageDelivery"] is False
    assert consumed_by("inventory") == HANDLED_TYPES


def test_the_queue_outlives_six_function_timeouts_and_parks_failures(template):
    queues = resources_of_type(template, "AWS::SQS::Queue")
    queue, dlq = queues["InventoryQueue"], queues["InventoryDeadLetterQueue"]
    function = only(template, "AWS::Serverless::Function")
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    assert template["Parameters"]["MaxReceiveCount"]["Default"] == 5
    assert template["Parameters"]["MaxReceiveCount"]["MinValue"] == 5
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dlq["SqsManagedSseEnabled"]
    assert queue["SqsManagedSseEnabled"]


def test_queues_carry_the_tags_the_platform_finds_them_by(template):
    queues = resources_of_type(template, "AWS::SQS::Queue")
    tags = {name: {t["Key"]: t["Value"] for t in props["Tags"]} for name, props in queues.items()}
    assert tags["InventoryQueue"]["orderflow:role"] == "queue"
    assert tags["InventoryDeadLetterQueue"]["orderflow:role"] == "dlq"
    assert int(tags["InventoryQueue"]["orderflow:max-age-seconds"]) > 0
    assert all(t["orderflow:service"] == "inventory" for t in tags.values())


def test_only_the_topic_may_send_to_the_queue(template):
    (statement,) = only(template, "AWS::SQS::QueuePolicy")["PolicyDocument"]["Statement"]
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "TopicArn"}}}


def test_the_function_is_the_handler_this_package_ships(template):
    function = only(template, "AWS::Serverless::Function")
    module, name = function["Handler"].rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), name))
    assert function["Runtime"] == "python3.12"
    assert function["Tracing"] == "Active"
    event = function["Events"]["OrderEvents"]["Properties"]
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["BatchSize"] >= 1
    assert event["ScalingConfig"]["MaximumConcurrency"] >= 2


def test_the_function_environment_is_what_bootstrap_reads(template):
    variables = only(template, "AWS::Serverless::Function")["Environment"]["Variables"]
    assert variables[bootstrap.STOCK_TABLE_ENV] == {"Ref": "StockTable"}
    assert variables[bootstrap.MOVEMENTS_TABLE_ENV] == {"Ref": "MovementsTable"}
    assert variables[bootstrap.TOPIC_ARN_ENV] == {"Ref": "TopicArn"}
    assert variables["FAILURE_LEDGER_TABLE"] == {"Ref": "FailureLedgerTableName"}
    assert variables["POWERTOOLS_SERVICE_NAME"] == "inventory"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "orderflow"


def test_the_admin_tools_name_the_tables_the_template_creates():
    tables = dynamodb_tables(TEMPLATE_PATH, template_parameters("prod"))
    assert tables["StockTable"]["TableName"] == table_names("prod")["stock"]
    assert tables["MovementsTable"]["TableName"] == table_names("prod")["movements"]


def test_the_role_grants_no_wildcard_where_a_name_is_known(template):
    role = resources_of_type(template, "AWS::IAM::Role")["InventoryFunctionRole"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    by_sid = {s["Sid"]: s for s in statements}
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert all("*" not in action for action in actions)
        if statement["Resource"] == "*":
            # X-Ray has no resource-level permissions; nothing else may use "*".
            assert all(action.startswith("xray:") for action in actions), statement["Sid"]
    assert by_sid["StockLedger"]["Resource"] == [
        {"Fn::GetAtt": ["StockTable", "Arn"]},
        {"Fn::GetAtt": ["MovementsTable", "Arn"]},
    ]
    assert "dynamodb:Scan" not in by_sid["StockLedger"]["Action"]
    assert by_sid["PublishDerivedEvents"] == {
        "Sid": "PublishDerivedEvents",
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Resource": {"Ref": "TopicArn"},
    }
    assert by_sid["RecordFailures"]["Action"] == "dynamodb:UpdateItem"
    function = only(template, "AWS::Serverless::Function")
    assert function["Role"] == {"Fn::GetAtt": ["InventoryFunctionRole", "Arn"]}
    assert "Policies" not in function  # SAM would add managed policies with "*" resources
