"""template.yaml holds the conventions every service follows, and agrees with the code."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from orderflow.analytics.adapters.dynamodb import AnalyticsTables
from orderflow.analytics.bootstrap import TABLE_ENVIRONMENT
from orderflow.contracts import filter_policy
from orderflow.templates import load_template, resolve, resources_of_type
from orderflow.testing import create_tables, template_parameters

TEMPLATE = Path(__file__).parents[2] / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def one(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    (props,) = resources_of_type(template, resource_type).values()
    return props


def queues(template):
    return {
        next(t["Value"] for t in props["Tags"] if t["Key"] == "orderflow:role"): props
        for props in resources_of_type(template, "AWS::SQS::Queue").values()
    }


def test_subscription_takes_every_event_as_the_routing_table_says(template):
    subscription = one(template, "AWS::SNS::Subscription")
    assert filter_policy("analytics") is None
    assert "FilterPolicy" not in subscription
    assert subscription["Protocol"] == "sqs"
    assert subscription["RawMessageDelivery"] is False


def test_queue_outlasts_a_running_batch_and_parks_failures_in_an_encrypted_dlq(template):
    function = one(template, "AWS::Serverless::Function")
    by_role = queues(template)
    queue, dlq = by_role["queue"], by_role["dlq"]
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    assert template["Parameters"]["MaxReceiveCount"]["Default"] == 5
    assert template["Parameters"]["MaxReceiveCount"]["MinValue"] == 5
    assert dlq["MessageRetentionPeriod"] == 1209600
    assert dlq["SqsManagedSseEnabled"] is True


def test_queue_tags_carry_a_generous_age_limit(template):
    tags = {t["Key"]: t["Value"] for t in queues(template)["queue"]["Tags"]}
    limit = resolve(tags["orderflow:max-age-seconds"], {"MaxAgeSeconds": "14400"})
    assert int(limit) >= 3600
    assert int(template["Parameters"]["MaxAgeSeconds"]["Default"]) >= 3600
    assert tags["orderflow:service"] == "analytics"


def test_function_reports_partial_failures_and_is_traced(template):
    function = one(template, "AWS::Serverless::Function")
    event = function["Events"]["OrderEvents"]["Properties"]
    assert function["Runtime"] == "python3.12"
    assert function["Tracing"] == "Active"
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "MaximumConcurrency" in event["ScalingConfig"]
    module, _, name = function["Handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))


def test_function_environment_names_the_templates_own_tables(template):
    variables = one(template, "AWS::Serverless::Function")["Environment"]["Variables"]
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    for env_name in TABLE_ENVIRONMENT.values():
        assert variables[env_name]["Ref"] in tables


def test_table_names_are_the_ones_rebuild_and_report_look_for(template):
    class Recorder:
        def __init__(self) -> None:
            self.created: list[dict[str, Any]] = []

        def create_table(self, **spec: Any) -> None:
            self.created.append(spec)

    names = create_tables(TEMPLATE, Recorder(), stage="prod")
    expected = AnalyticsTables.for_stage("prod")
    assert sorted(names.values()) == sorted(
        [expected.events, expected.order_status, expected.hourly_metrics]
    )
    assert template_parameters("prod")["Stage"] == "prod"


def statements(template):
    role = one(template, "AWS::IAM::Role")
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def as_list(value):
    return value if isinstance(value, list) else [value]


def test_iam_is_least_privilege_and_the_event_store_append_only(template):
    granted: dict[str, set[str]] = {}
    for statement in statements(template):
        for action in as_list(statement["Action"]):
            assert "*" not in action
            for resource in as_list(statement["Resource"]):
                # X-Ray's two write actions have no resource-level permissions.
                assert resource != "*" or action.startswith("xray:Put")
                target = (
                    resource.get("Fn::GetAtt", [None])[0] if isinstance(resource, dict) else None
                )
                granted.setdefault(target or str(resource), set()).add(action)
    assert granted["EventStoreTable"] == {"dynamodb:PutItem"}
    assert granted["OrderStatusTable"] == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert granted["HourlyMetricsTable"] == {"dynamodb:UpdateItem"}
    assert granted["Queue"] == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    }
    assert granted["FunctionLogGroup"] == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert granted["*"] == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_the_function_uses_its_own_role_not_a_generated_one(template):
    function = one(template, "AWS::Serverless::Function")

    assert function["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}
    assert "Policies" not in function


def test_projection_writes_are_allowed_only_inside_a_transaction(template):
    for statement in statements(template):
        if statement["Sid"] in {"AppendEvents", "UpdateProjectionsWithTheirEvent"}:
            condition = statement["Condition"]["ForAnyValue:StringEquals"]
            assert condition["dynamodb:EnclosingOperation"] == ["TransactWriteItems"]


def test_a_message_moved_to_the_dlq_outlives_its_time_in_the_queue(template):
    # A message keeps its original enqueue time when SQS moves it to the DLQ, so the DLQ's
    # retention counts from the first send: it must be longer than the queue's, or a message
    # that waited in the queue expires in the DLQ before anyone can redrive it.
    by_role = queues(template)
    queue_retention = int(by_role["queue"]["MessageRetentionPeriod"])
    dlq_retention = int(by_role["dlq"]["MessageRetentionPeriod"])
    assert dlq_retention == 14 * 24 * 3600
    assert queue_retention < dlq_retention
    # What is left for the redrive after the longest possible wait in the queue: a week at least.
    assert dlq_retention - queue_retention >= 7 * 24 * 3600
    # Analytics may fall hours behind: its queue still keeps a backlog for days.
    assert queue_retention >= 4 * 24 * 3600
