"""template.yaml against the routing table and the project's template conventions."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from orderflow.contracts import filter_policy
from orderflow.templates import load_template, resolve, resources_of_type
from orderflow.testing import template_parameters

STAGE = "test"
STRIPE_SECRET_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
    ":secret:${StripeApiKeySecretName}-??????"
}
"""The Stripe key's secret: Secrets Manager appends "-" and six random characters to its name."""


@pytest.fixture(scope="module")
def template(template_path) -> dict[str, Any]:
    return load_template(template_path)


@pytest.fixture(scope="module")
def parameters(template) -> dict[str, str]:
    defaults = {
        name: str(spec.get("Default", ""))
        for name, spec in template["Parameters"].items()
        if name != "Stage"
    }
    return {**defaults, **template_parameters(STAGE)}


def one(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    (props,) = resources_of_type(template, resource_type).values()
    return props


def queues(template, parameters) -> dict[str, dict[str, Any]]:
    """Resolved queue properties by role tag."""
    found = {}
    for props in resources_of_type(template, "AWS::SQS::Queue").values():
        resolved = resolve(props, parameters)
        tags = {t["Key"]: t["Value"] for t in resolved["Tags"]}
        found[tags["orderflow:role"]] = {**resolved, "tags": tags}
    return found


def function(template) -> dict[str, Any]:
    return one(template, "AWS::Serverless::Function")


def role_policies(template) -> list[dict[str, Any]]:
    """The role's policies, a conditional one (``Fn::If``) with the branch that has one."""
    policies = []
    for policy in one(template, "AWS::IAM::Role")["Policies"]:
        if "Fn::If" in policy:
            _, present, absent = policy["Fn::If"]
            assert absent == {"Ref": "AWS::NoValue"}
            policies.append(present)
        else:
            policies.append(policy)
    return policies


def role_statements(template) -> list[dict[str, Any]]:
    return [s for policy in role_policies(template) for s in policy["PolicyDocument"]["Statement"]]


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_subscription_filter_policy_is_the_routing_tables(template):
    subscription = one(template, "AWS::SNS::Subscription")
    assert subscription["FilterPolicy"] == filter_policy("payment")
    assert subscription["FilterPolicyScope"] == "MessageAttributes"
    assert subscription["Protocol"] == "sqs"
    assert subscription["RawMessageDelivery"] is False


def test_names_follow_the_conventions(template, parameters):
    by_role = queues(template, parameters)
    assert by_role["queue"]["QueueName"] == "orderflow-test-payment"
    assert by_role["dlq"]["QueueName"] == "orderflow-test-payment-dlq"
    assert resolve(function(template)["FunctionName"], parameters) == "orderflow-test-payment"
    tables = {
        resolve(p["TableName"], parameters)
        for p in resources_of_type(template, "AWS::DynamoDB::Table").values()
    }
    assert tables == {"orderflow-test-payment-payments", "orderflow-test-payment-idempotency"}


def test_queues_carry_the_tags_the_platform_discovers_them_by(template, parameters):
    by_role = queues(template, parameters)
    for role, queue in by_role.items():
        assert queue["tags"]["orderflow:stage"] == STAGE
        assert queue["tags"]["orderflow:service"] == "payment"
        assert queue["tags"]["orderflow:role"] == role
    # Payment's queue-age alarm limit is minutes, not hours.
    max_age = int(by_role["queue"]["tags"]["orderflow:max-age-seconds"])
    assert 60 <= max_age <= 15 * 60


def test_dlq_keeps_messages_14_days_and_both_queues_are_encrypted(template, parameters):
    by_role = queues(template, parameters)
    assert by_role["dlq"]["MessageRetentionPeriod"] == 1209600
    assert all(q["SqsManagedSseEnabled"] is True for q in by_role.values())
    redrive = by_role["queue"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == "5"
    assert template["Parameters"]["MaxReceiveCount"]["Default"] == 5
    assert template["Parameters"]["MaxReceiveCount"]["MinValue"] == 5


def test_visibility_timeout_is_at_least_six_function_timeouts(template, parameters):
    visibility = queues(template, parameters)["queue"]["VisibilityTimeout"]
    assert visibility >= 6 * function(template)["Timeout"]


def test_only_the_topic_may_send_to_the_queue(template):
    policy = one(template, "AWS::SQS::QueuePolicy")
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "TopicArn"}}}


def test_topic_and_failure_ledger_come_from_the_platforms_ssm_parameters(template):
    params = template["Parameters"]
    assert params["TopicArn"]["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert params["TopicArn"]["Default"] == "/orderflow/dev/order-events-topic-arn"
    assert params["FailureLedgerTableName"]["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert params["FailureLedgerTableName"]["Default"] == "/orderflow/dev/failure-ledger-table"


def test_function_is_traced_and_reports_partial_batch_failures(template):
    props = function(template)
    assert props["Runtime"] == "python3.12"
    assert props["Tracing"] == "Active"
    assert props["CodeUri"] == "build/package"
    (source,) = props["Events"].values()
    assert source["Type"] == "SQS"
    assert source["Properties"]["Queue"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "BatchSize" in source["Properties"]
    assert "MaximumConcurrency" in source["Properties"]["ScalingConfig"]


def test_handler_path_names_the_lambda_entry_point(template):
    module_name, _, attribute = function(template)["Handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module_name), attribute))


def test_environment_names_every_setting_bootstrap_reads(template):
    variables = function(template)["Environment"]["Variables"]
    assert variables["STAGE"] == {"Ref": "Stage"}
    assert variables["TOPIC_ARN"] == {"Ref": "TopicArn"}
    assert variables["FAILURE_LEDGER_TABLE"] == {"Ref": "FailureLedgerTableName"}
    assert variables["PAYMENTS_TABLE"] == {"Ref": "PaymentsTable"}
    assert variables["IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    assert variables["POWERTOOLS_SERVICE_NAME"] == "payment"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "orderflow"
    assert variables["PAYMENT_GATEWAY"] == {"Ref": "Gateway"}
    assert variables["STRIPE_API_KEY_SECRET"] == {
        "Fn::If": ["UseStripe", {"Ref": "StripeApiKeySecretName"}, {"Ref": "AWS::NoValue"}]
    }
    assert variables["STRIPE_API_BASE"] == {
        "Fn::If": ["UseStripe", {"Ref": "StripeApiBase"}, {"Ref": "AWS::NoValue"}]
    }
    gateway = {k for k in variables if k.startswith("GATEWAY_")}
    assert gateway == {
        "GATEWAY_LATENCY_MS",
        "GATEWAY_ERROR_RATE",
        "GATEWAY_LOST_RESPONSE_RATE",
        "GATEWAY_OUTAGE",
        "GATEWAY_DECLINE_TOKENS",
        "GATEWAY_JOURNAL_PATH",
        "GATEWAY_SEED",
    }


def test_idempotency_table_has_the_powertools_layout(template):
    table = resources_of_type(template, "AWS::DynamoDB::Table")["IdempotencyTable"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_iam_names_a_resource_wherever_one_is_known(template):
    statements = role_statements(template)
    for statement in statements:
        actions = actions_of(statement)
        assert all("*" not in action for action in actions), statement
        if statement["Resource"] == "*":
            # X-Ray's two write actions support no resource-level permissions.
            assert set(actions) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_iam_reaches_only_this_services_queue_topic_and_tables(template):
    by_resource: dict[str, set[str]] = {}
    for statement in role_statements(template):
        actions = actions_of(statement)
        key = str(statement["Resource"])
        by_resource.setdefault(key, set()).update(actions)
    sqs = {a for acts in by_resource.values() for a in acts if a.startswith("sqs:")}
    assert by_resource[str({"Fn::GetAtt": ["Queue", "Arn"]})] >= sqs
    assert by_resource[str({"Ref": "TopicArn"})] == {"sns:Publish"}
    assert by_resource[str(STRIPE_SECRET_ARN)] == {"secretsmanager:GetSecretValue"}
    ledger = [k for k in by_resource if "FailureLedgerTableName" in k]
    assert [by_resource[k] for k in ledger] == [{"dynamodb:UpdateItem"}]
    dynamodb_targets = {
        k for k, acts in by_resource.items() if any(a.startswith("dynamodb:") for a in acts)
    }
    assert dynamodb_targets == {
        str({"Fn::GetAtt": ["PaymentsTable", "Arn"]}),
        str({"Fn::GetAtt": ["IdempotencyTable", "Arn"]}),
        *ledger,
    }


def test_function_uses_the_explicit_role_not_sams_generated_one(template):
    # SAM's generated role would add AWSLambdaSQSQueueExecutionRole (every queue of the account).
    props = function(template)
    assert props["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}
    assert "Policies" not in props
    assert "ManagedPolicyArns" not in one(template, "AWS::IAM::Role")


def test_outputs_name_queues_function_and_tables(template):
    assert set(template["Outputs"]) == {
        "QueueUrl",
        "QueueArn",
        "DeadLetterQueueUrl",
        "DeadLetterQueueArn",
        "FunctionName",
        "PaymentsTableName",
        "IdempotencyTableName",
    }


def test_a_message_moved_to_the_dlq_outlives_its_time_in_the_queue(template, parameters):
    # A message keeps its original enqueue time when SQS moves it to the DLQ, so the DLQ's
    # retention counts from the first send: it must be longer than the queue's, or a message
    # that waited in the queue expires in the DLQ before anyone can redrive it.
    by_role = queues(template, parameters)
    queue_retention = int(by_role["queue"]["MessageRetentionPeriod"])
    dlq_retention = int(by_role["dlq"]["MessageRetentionPeriod"])
    assert dlq_retention == 14 * 24 * 3600
    assert queue_retention < dlq_retention
    # What is left for the redrive after the longest possible wait in the queue: a week at least.
    assert dlq_retention - queue_retention >= 7 * 24 * 3600


def test_the_simulated_gateway_is_the_default_and_stripe_the_other_choice(template):
    gateway = template["Parameters"]["Gateway"]
    assert gateway["Default"] == "simulated"
    assert gateway["AllowedValues"] == ["simulated", "stripe"]
    assert template["Conditions"]["UseStripe"] == {"Fn::Equals": [{"Ref": "Gateway"}, "stripe"]}


def test_only_a_stripe_stack_may_read_the_api_key_and_only_its_one_secret(template):
    (conditional,) = [p for p in one(template, "AWS::IAM::Role")["Policies"] if "Fn::If" in p]
    condition, policy, absent = conditional["Fn::If"]
    assert condition == "UseStripe"
    assert absent == {"Ref": "AWS::NoValue"}
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "secretsmanager:GetSecretValue"
    assert statement["Resource"] == STRIPE_SECRET_ARN
    # Nothing else in the role touches Secrets Manager.
    others = [s for s in role_statements(template) if s is not statement]
    assert not any(a.startswith("secretsmanager:") for s in others for a in actions_of(s))


def test_a_stripe_stack_without_its_secret_is_refused_before_it_deploys(template):
    (assertion,) = template["Rules"]["StripeNeedsItsSecret"]["Assertions"]
    assert template["Rules"]["StripeNeedsItsSecret"]["RuleCondition"] == {
        "Fn::Equals": [{"Ref": "Gateway"}, "stripe"]
    }
    assert assertion["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "StripeApiKeySecretName"}, ""]}]
    }
