"""template.yaml follows the service conventions and the routing table."""

from __future__ import annotations

from typing import Any

import pytest

from orderflow.contracts import filter_policy
from orderflow.notifications.email_templates import TEMPLATE_PATH, email_templates
from orderflow.templates import load_template, resolve, resources_of_type
from orderflow.testing import template_parameters


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    return load_template(TEMPLATE_PATH)


def only(stack: dict[str, Any], resource_type: str) -> dict[str, Any]:
    (properties,) = resources_of_type(stack, resource_type).values()
    return dict(properties)


def test_the_subscription_filters_exactly_what_the_routing_table_sends_here(
    stack: dict[str, Any],
) -> None:
    subscription = only(stack, "AWS::SNS::Subscription")

    assert subscription["FilterPolicy"] == filter_policy("notifications")
    assert subscription["FilterPolicyScope"] == "MessageAttributes"
    assert subscription["RawMessageDelivery"] is False
    assert subscription["Protocol"] == "sqs"


def test_failures_retry_then_park_in_an_encrypted_two_week_dlq(stack: dict[str, Any]) -> None:
    queues = resources_of_type(stack, "AWS::SQS::Queue")
    function = only(stack, "AWS::Serverless::Function")
    queue, dlq = queues["Queue"], queues["DeadLetterQueue"]

    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == {"Ref": "MaxReceiveCount"}
    assert dlq["MessageRetentionPeriod"] == 1209600
    assert queue["SqsManagedSseEnabled"] is True
    assert dlq["SqsManagedSseEnabled"] is True
    tags = {t["Key"]: t["Value"] for t in queue["Tags"]}
    assert tags["orderflow:role"] == "queue"
    assert int(tags["orderflow:max-age-seconds"]) > 0


def test_the_function_reports_partial_batches_with_capped_concurrency(
    stack: dict[str, Any],
) -> None:
    function = only(stack, "AWS::Serverless::Function")
    (source,) = function["Events"].values()

    assert function["Handler"] == "orderflow.notifications.handler.handler"
    assert function["Runtime"] == "python3.12"
    assert function["Tracing"] == "Active"
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["Properties"]["BatchSize"] > 0
    assert source["Properties"]["ScalingConfig"]["MaximumConcurrency"] >= 2
    assert set(function["Environment"]["Variables"]) >= {
        "STAGE",
        "TOPIC_ARN",
        "FAILURE_LEDGER_TABLE",
        "IDEMPOTENCY_TABLE",
        "SENT_EMAILS_TABLE",
        "SENDER_ADDRESS",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
    }


def test_the_idempotency_table_has_the_powertools_layout(stack: dict[str, Any]) -> None:
    table = stack["Resources"]["IdempotencyTable"]["Properties"]

    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_the_sent_email_ledger_never_expires_and_outlives_the_stack(stack: dict[str, Any]) -> None:
    # It decides whether an event's email went out after the once-only record has expired.
    resource = stack["Resources"]["SentEmailsTable"]
    table = resource["Properties"]

    assert table["KeySchema"] == [{"AttributeName": "email_key", "KeyType": "HASH"}]
    assert "TimeToLiveSpecification" not in table
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"


def statements(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    role = only(stack, "AWS::IAM::Role")
    return {
        s["Sid"]: s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]
    }


def test_the_function_may_send_only_from_its_sender_with_its_own_templates(
    stack: dict[str, Any],
) -> None:
    ses = statements(stack)["SendFromSenderWithOwnTemplates"]
    template_arns = [
        resolve(r, template_parameters("test")) for r in ses["Resource"] if "template/" in str(r)
    ]

    assert ses["Action"] == "ses:SendEmail"
    assert sorted(template_arns) == sorted(
        f"arn:aws:ses:us-east-1:123456789012:template/{t.name}" for t in email_templates("test")
    )
    identities = [r for r in ses["Resource"] if "identity/" in str(r)]
    assert len(identities) == 2  # the address, or its domain


def test_no_statement_grants_everything_where_a_resource_is_known(stack: dict[str, Any]) -> None:
    for sid, statement in statements(stack).items():
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert all("*" not in a for a in actions), sid
        if sid != "Tracing":  # X-Ray has no resource-level permissions
            assert statement["Resource"] != "*", sid
    assert statements(stack)["FailureLedger"]["Action"] == "dynamodb:UpdateItem"
