"""A stage on moto, built from the repository's own template.yaml files.

``deploy_template`` creates the resource types the platform tools look at (topics, queues with
their tags and redrive policies, subscriptions with their filter policies, SSM parameters and
tables) from a template, resolving Ref, Fn::Sub and Fn::GetAtt. Functions, roles and the rest
are not needed by these tests and are left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from orderflow.consumer import SqsConsumer
from orderflow.contracts import SERVICES
from orderflow.emulator import lambda_public_layers, sqs_move_tasks
from orderflow.emulator.extension import installed
from orderflow.failures import FailureLedger
from orderflow.messaging.lambda_events import lambda_sqs_event, lambda_sqs_record
from orderflow.observability import build_logger
from orderflow.platform.aws import AwsClients
from orderflow.templates import dynamodb_tables, load_template
from orderflow.testing import FakeLambdaContext, template_parameters

ROOT = Path(__file__).resolve().parents[4]
PLATFORM_TEMPLATE = ROOT / "platform" / "template.yaml"
STAGE = "test"


def service_template(service: str) -> Path:
    return ROOT / "services" / service / "template.yaml"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and a region, so nothing can reach a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("ORDERFLOW_STAGE", raising=False)


@pytest.fixture
def aws() -> Iterator[AwsClients]:
    """Clients on an empty in-process moto with message move tasks and the public layers.

    The templates take Powertools' layer from its public SSM parameter, which AWS serves in
    every account and plain moto does not.
    """
    with installed(sqs_move_tasks, lambda_public_layers), mock_aws():
        yield AwsClients(region="us-east-1")


@dataclass
class Deployed:
    """Physical names and ARNs of what a template created, by logical id."""

    names: dict[str, str] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)


@dataclass
class StageOnMoto:
    """The platform stack and the service stacks of one stage, deployed on moto."""

    stage: str
    platform: Deployed
    services: dict[str, Deployed]

    @property
    def topic_arn(self) -> str:
        return self.platform.names["OrderEventsTopic"]

    @property
    def paging_topic_arn(self) -> str:
        return self.platform.names["PagingTopic"]

    @property
    def ledger_table(self) -> str:
        return self.platform.names["FailureLedgerTable"]

    def queue_url(self, service: str, role: str = "queue") -> str:
        """URL of the service's queue (role "queue") or DLQ (role "dlq"), by its name."""
        name = f"orderflow-{self.stage}-{service}" + ("-dlq" if role == "dlq" else "")
        return next(u for u in self.services[service].names.values() if u.endswith(f"/{name}"))


def _parameter_defaults(template: Mapping[str, Any], stage: str, aws: AwsClients) -> dict[str, str]:
    values = dict(template_parameters(stage))
    for name, spec in (template.get("Parameters") or {}).items():
        if name == "Stage" or "Default" not in spec:
            continue
        default = str(spec["Default"])
        if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value"):
            # samconfig points a stage at its own parameters; do the same here.
            path = default.replace("/orderflow/dev/", f"/orderflow/{stage}/")
            default = aws.ssm().get_parameter(Name=path)["Parameter"]["Value"]
        values[name] = default
    return values


class _UnresolvedError(Exception):
    pass


def _resolve(value: Any, names: Mapping[str, str], arns: Mapping[str, str]) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref":
            if argument not in names:
                raise _UnresolvedError(argument)
            return names[argument]
        if key == "Fn::GetAtt":
            logical_id = argument[0] if isinstance(argument, list) else argument.split(".")[0]
            if logical_id not in arns:
                raise _UnresolvedError(logical_id)
            return arns[logical_id]
        if key == "Fn::Sub":
            text = argument if isinstance(argument, str) else argument[0]

            def lookup(match: re.Match[str]) -> str:
                if match.group(1) not in names:
                    raise _UnresolvedError(match.group(1))
                return names[match.group(1)]

            return re.sub(r"\$\{([^}!]+)\}", lookup, text)
    if isinstance(value, dict):
        return {k: _resolve(v, names, arns) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, names, arns) for v in value]
    return value


def _create(resource_type: str, props: dict[str, Any], aws: AwsClients) -> tuple[str, str]:
    """Create one resource; return (what Ref gives, what GetAtt Arn gives)."""
    tags = {t["Key"]: str(t["Value"]) for t in props.get("Tags", [])}
    if resource_type == "AWS::SNS::Topic":
        arn = aws.sns().create_topic(Name=props["TopicName"])["TopicArn"]
        return arn, arn
    if resource_type == "AWS::SQS::Queue":
        keys = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "RedrivePolicy")
        attributes = {
            k: json.dumps(props[k]) if isinstance(props[k], dict) else str(props[k])
            for k in keys
            if k in props
        }
        url = aws.sqs().create_queue(
            QueueName=props["QueueName"], Attributes=attributes, tags=tags
        )["QueueUrl"]
        arn = aws.sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, arn["Attributes"]["QueueArn"]
    if resource_type == "AWS::SNS::Subscription":
        attributes = {"RawMessageDelivery": str(props.get("RawMessageDelivery", False)).lower()}
        if "FilterPolicy" in props:
            attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
            attributes["FilterPolicyScope"] = props.get("FilterPolicyScope", "MessageAttributes")
        arn = aws.sns().subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
        )["SubscriptionArn"]
        return arn, arn
    if resource_type == "AWS::SSM::Parameter":
        aws.ssm().put_parameter(Name=props["Name"], Value=props["Value"], Type="String")
        return props["Name"], props["Name"]
    raise AssertionError(resource_type)


DEPLOYED_TYPES = (
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::SNS::Subscription",
    "AWS::SSM::Parameter",
)


def deploy_template(path: Path, aws: AwsClients, stage: str = STAGE) -> Deployed:
    """Create the template's topics, queues, subscriptions, parameters and tables on moto."""
    template = load_template(path)
    parameters = _parameter_defaults(template, stage, aws)
    deployed = Deployed()
    # Resources not created here (keys, roles, functions) still resolve, to a placeholder.
    skipped = {
        logical_id: f"not-deployed-{logical_id}"
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") not in DEPLOYED_TYPES
    }
    for logical_id, spec in dynamodb_tables(path, template_parameters(stage)).items():
        aws.dynamodb().create_table(**spec)
        deployed.names[logical_id] = spec["TableName"]
    pending = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") in DEPLOYED_TYPES and "Condition" not in resource
    }
    while pending:
        progressed = False
        for logical_id, resource in list(pending.items()):
            try:
                props = _resolve(
                    resource.get("Properties", {}),
                    {**parameters, **skipped, **deployed.names},
                    {**skipped, **deployed.arns},
                )
            except _UnresolvedError:
                continue
            deployed.names[logical_id], deployed.arns[logical_id] = _create(
                resource["Type"], props, aws
            )
            del pending[logical_id]
            progressed = True
        assert progressed, f"{path}: cannot resolve {sorted(pending)}"
    return deployed


def deploy_stage(
    aws: AwsClients, stage: str = STAGE, services: tuple[str, ...] = SERVICES
) -> StageOnMoto:
    """The platform stack, then each service's stack."""
    platform = deploy_template(PLATFORM_TEMPLATE, aws, stage)
    return StageOnMoto(
        stage=stage,
        platform=platform,
        services={s: deploy_template(service_template(s), aws, stage) for s in services},
    )


@pytest.fixture
def stage(aws: AwsClients) -> StageOnMoto:
    """A whole stage: platform plus the four services."""
    return deploy_stage(aws)


def consume_until_dead_lettered(
    aws: AwsClients,
    stage: StageOnMoto,
    service: str,
    handle: Callable[[Any], None],
) -> None:
    """Run the service's batch shell over its queue like Lambda would, until failures park.

    Records ``handle`` fails stay on the queue (the shared consumer records why in the
    failure ledger); after the queue's maxReceiveCount receives (its redrive policy, as the
    template deployed it), SQS moves them to the DLQ on the next receive.
    """
    sqs = aws.sqs()
    url = stage.queue_url(service)
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"]
    )["Attributes"]
    arn = attributes["QueueArn"]
    rounds = int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"])
    consumer = SqsConsumer(
        service,
        logger=build_logger(service),
        failure_ledger=FailureLedger(stage.ledger_table, aws.dynamodb()),
    )
    for _ in range(rounds + 1):
        failed_handles: list[str] = []
        while messages := sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=30,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", []):
            event = lambda_sqs_event([lambda_sqs_record(m, arn) for m in messages])
            response = consumer.process(event, FakeLambdaContext(), handle)  # type: ignore[arg-type]
            failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
            for message in messages:
                if message["MessageId"] in failed:
                    failed_handles.append(message["ReceiptHandle"])
                else:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        # The visibility timeout runs out: failures are back for the next round.
        for receipt in failed_handles:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt, VisibilityTimeout=0)
