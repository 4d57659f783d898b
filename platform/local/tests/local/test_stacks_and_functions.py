"""Every stack deploys from its own template.yaml; the functions run as those templates say."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orderflow.contracts import SERVICES, filter_policy
from orderflow.local.functions import discover_functions, lambda_environment
from orderflow.local.stacks import (
    DeployedStack,
    StackDeployError,
    deploy_stack,
    stack_parameters,
    stack_templates,
)
from orderflow.platform.deploy import DeployTarget
from orderflow.platform.workspace import WorkspaceNotFoundError, workspace_root
from orderflow.templates import load_template

ROOT = Path(__file__).resolve().parents[4]
STAGE = "local"
OVERRIDES = {"SenderAddress": "orders@orderflow.local", "ManageSenderIdentity": "true"}


@pytest.fixture
def deployed(embedded: Callable[[str], Any]) -> dict[str, DeployedStack]:
    """The platform stack and every service stack, deployed in order."""
    return {
        t.name: deploy_stack(
            embedded("cloudformation"), embedded("s3"), t, stage=STAGE, overrides=OVERRIDES
        )
        for t in stack_templates(ROOT)
    }


def normalised(policy: dict[str, Any] | None) -> dict[str, list[Any]] | None:
    return None if policy is None else {k: sorted(v) for k, v in policy.items()}


def test_the_platform_stack_comes_first_then_every_service() -> None:
    names = [t.name for t in stack_templates(ROOT)]
    assert names[0] == "platform"
    assert sorted(names[1:]) == sorted(SERVICES)


def test_the_checkout_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    assert workspace_root(ROOT / "services" / "payment") == ROOT


def test_a_directory_outside_a_checkout_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ORDERFLOW_ROOT", str(tmp_path))
    with pytest.raises(WorkspaceNotFoundError, match=r"holds no platform/template\.yaml"):
        workspace_root()


def test_parameters_point_a_template_at_the_local_stage_and_only_where_declared() -> None:
    template = load_template(ROOT / "services" / "payment" / "template.yaml")
    values = stack_parameters(template, STAGE, {"GatewayLatencyMs": "50", "NotDeclared": "x"})
    assert values["Stage"] == STAGE
    assert values["TopicArn"] == "/orderflow/local/order-events-topic-arn"
    assert values["FailureLedgerTableName"] == "/orderflow/local/failure-ledger-table"
    assert values["GatewayLatencyMs"] == "50"
    assert "NotDeclared" not in values


def test_each_service_subscribes_with_the_routing_tables_filter_policy(
    embedded: Callable[[str], Any], deployed: dict[str, DeployedStack]
) -> None:
    # GIVEN every stack deployed from its template
    sns = embedded("sns")
    topic = deployed["platform"].outputs["OrderEventsTopicArn"]
    # THEN each service queue is subscribed to the topic with its own filter (none: everything)
    policies = {}
    for subscription in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]:
        attributes = sns.get_subscription_attributes(
            SubscriptionArn=subscription["SubscriptionArn"]
        )["Attributes"]
        service = subscription["Endpoint"].rsplit(":", 1)[-1].removeprefix(f"orderflow-{STAGE}-")
        raw = attributes.get("FilterPolicy")
        policies[service] = json.loads(raw) if raw else None
    expected = {}
    for service in SERVICES:
        policy = filter_policy(service)
        expected[service] = (
            {k: sorted(v) for k, v in policy.items()} if policy is not None else None
        )
    assert {
        k: ({f: sorted(v) for f, v in p.items()} if p else None) for k, p in policies.items()
    } == expected


def test_the_functions_run_with_their_templates_settings(
    embedded: Callable[[str], Any], deployed: dict[str, DeployedStack]
) -> None:
    functions = {
        name: list(stack.physical_ids("AWS::Lambda::Function").values())
        for name, stack in deployed.items()
        if name != "platform"
    }
    specs = {
        s.service: s for s in discover_functions(embedded("lambda"), embedded("sqs"), functions)
    }
    assert sorted(specs) == sorted(SERVICES)
    payment = specs["payment"]
    assert payment.handler == "orderflow.payment.handler.handler"
    assert payment.timeout_seconds == 30
    assert (payment.batch_size, payment.batching_window_seconds) == (10, 0)
    assert payment.maximum_concurrency == 10
    assert payment.report_batch_item_failures
    assert payment.queue_arn.endswith(":orderflow-local-payment")
    mapping = embedded("lambda").get_event_source_mapping(UUID=payment.mapping_uuid)
    assert mapping["EventSourceArn"] == payment.queue_arn
    # Refs resolved by CloudFormation: the platform's topic, the service's own tables.
    assert payment.environment["TOPIC_ARN"] == deployed["platform"].outputs["OrderEventsTopicArn"]
    assert payment.environment["PAYMENTS_TABLE"] == "orderflow-local-payment-payments"
    # Tracing: Active in the template; Lambda then hands the function the daemon's address.
    assert payment.tracing_active
    environment = lambda_environment(payment, "http://127.0.0.1:1234", "127.0.0.1:2000")
    assert environment["AWS_XRAY_DAEMON_ADDRESS"] == "127.0.0.1:2000"
    assert environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1234"
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == "orderflow-local-payment"
    assert payment.concurrency(2) == 2
    assert specs["analytics"].concurrency(None) == specs["analytics"].maximum_concurrency


def test_a_state_machine_definition_file_is_packaged_like_sam_package(
    embedded: Callable[[str], Any], deployed: dict[str, DeployedStack]
) -> None:
    machines = embedded("stepfunctions").list_state_machines()["stateMachines"]
    assert [m["name"] for m in machines] == ["orderflow-local-dlq-incident"]
    definition = json.loads(
        embedded("stepfunctions").describe_state_machine(
            stateMachineArn=machines[0]["stateMachineArn"]
        )["definition"]
    )
    assert "${Stage}" not in json.dumps(definition)


def test_a_template_that_cannot_be_created_names_the_stack(
    embedded: Callable[[str], Any], tmp_path: Path
) -> None:
    package = tmp_path / "broken"
    package.mkdir()
    (package / "template.yaml").write_text(
        "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n"
        "      QueueName: !GetAtt Missing.Arn\n"
    )
    with pytest.raises(StackDeployError, match="orderflow-local-broken"):
        deploy_stack(
            embedded("cloudformation"),
            embedded("s3"),
            DeployTarget("broken", package),
            stage=STAGE,
        )
