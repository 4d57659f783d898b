"""RedrivePolicy and RedriveAllowPolicy are validated as SQS validates them, on every path.

Amazon SQS API Reference, SetQueueAttributes and CreateQueue, ``Attributes``
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html,
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html):
RedrivePolicy holds ``deadLetterTargetArn`` and ``maxReceiveCount``; RedriveAllowPolicy holds
``redrivePermission`` (``allowAll``, ``denyAll`` or ``byQueue``) and ``sourceQueueArns``, "only
when the redrivePermission parameter is set to byQueue", "up to 10 source queue ARNs". SQS
refuses a policy it cannot use with ``InvalidParameterValue``, "Value ... for parameter
RedrivePolicy is invalid. Reason: Redrive policy does not contain mandatory attribute: ...".
The Developer Guide's dead-letter queue settings bound maxReceiveCount to 1..1,000.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.sqs.models import SQSBackend

from orderflow.emulator import (
    sqs_attributes,
)

from .conftest import ACCOUNT, REGION

SOURCE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders"
DLQ_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-dlq"


@pytest.fixture
def sqs(aws: Callable[[str], Any], installed: Callable[..., None]) -> Any:
    installed(sqs_attributes)
    return aws("sqs")


def refusal(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    details = error.value.response["Error"]
    return details["Code"], details["Message"]


def test_a_dlq_that_admits_one_source_queue_reports_its_redrive_allow_policy(sqs: Any) -> None:
    # GIVEN a DLQ created with a byQueue policy naming its source
    policy = {"redrivePermission": "byQueue", "sourceQueueArns": [SOURCE_ARN]}
    url = sqs.create_queue(
        QueueName="orders-dlq", Attributes={"RedriveAllowPolicy": json.dumps(policy)}
    )["QueueUrl"]

    # THEN GetQueueAttributes returns it, for All and by name, as SQS does
    for names in (["All"], ["RedriveAllowPolicy"]):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        assert json.loads(attributes["RedriveAllowPolicy"]) == policy

    # AND an empty string removes it again
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedriveAllowPolicy": ""})
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "RedriveAllowPolicy" not in attributes


REFUSED_ALLOW_POLICIES = [
    pytest.param(
        {"redrivePermission": "byQueue", "sourceQueueArnList": [SOURCE_ARN]},
        "Unknown attribute sourceQueueArnList",
        id="misspelt-source-list",
    ),
    pytest.param(
        {"redrivePermission": "byQueue"},
        "does not contain mandatory attribute: sourceQueueArns",
        id="byQueue-without-sources",
    ),
    pytest.param(
        {"sourceQueueArns": [SOURCE_ARN]},
        "does not contain mandatory attribute: redrivePermission",
        id="no-permission",
    ),
    pytest.param(
        {"redrivePermission": "byQueues", "sourceQueueArns": [SOURCE_ARN]},
        "Invalid value for redrivePermission: byQueues",
        id="unknown-permission",
    ),
    pytest.param(
        {"redrivePermission": "allowAll", "sourceQueueArns": [SOURCE_ARN]},
        "only when redrivePermission is byQueue",
        id="sources-with-allowAll",
    ),
    pytest.param(
        {
            "redrivePermission": "byQueue",
            "sourceQueueArns": [f"{SOURCE_ARN}{i}" for i in range(11)],
        },
        "lists 11 queues; at most 10",
        id="eleven-sources",
    ),
]

REFUSED_REDRIVE_POLICIES = [
    pytest.param(
        {"deadLetterTargetArn": DLQ_ARN},
        "does not contain mandatory attribute: maxReceiveCount",
        id="no-count",
    ),
    pytest.param(
        {"maxReceiveCount": 3},
        "does not contain mandatory attribute: deadLetterTargetArn",
        id="no-target",
    ),
    pytest.param(
        {"deadLetterQueueArn": DLQ_ARN, "maxReceiveCount": 3},
        "does not contain mandatory attribute: deadLetterTargetArn",
        id="misspelt-target",
    ),
    pytest.param(
        {"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 3, "maxRetries": 2},
        "Unknown attribute maxRetries",
        id="unknown-key",
    ),
    pytest.param(
        {"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 0},
        "Invalid value for maxReceiveCount: 0",
        id="count-zero",
    ),
    pytest.param(
        {"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 1001},
        "Invalid value for maxReceiveCount: 1001",
        id="count-over-1000",
    ),
    pytest.param({}, "does not contain mandatory attribute: maxReceiveCount", id="empty-object"),
]


@pytest.mark.parametrize(("policy", "reason"), REFUSED_ALLOW_POLICIES)
def test_create_queue_refuses_a_redrive_allow_policy_sqs_would_refuse(
    sqs: Any, policy: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ClientError) as error:
        sqs.create_queue(
            QueueName="orders-dlq", Attributes={"RedriveAllowPolicy": json.dumps(policy)}
        )
    code, message = refusal(error)
    assert code == "InvalidParameterValue"
    assert message.startswith("Value {")
    assert "for parameter RedriveAllowPolicy is invalid. Reason: " in message
    assert reason in message
    # Nothing half-made: the queue does not exist.
    assert sqs.list_queues().get("QueueUrls", []) == []


@pytest.mark.parametrize(("policy", "reason"), REFUSED_REDRIVE_POLICIES)
def test_set_queue_attributes_refuses_a_redrive_policy_and_applies_nothing(
    sqs: Any, policy: dict[str, Any], reason: str
) -> None:
    # GIVEN a DLQ and a source queue with a 30 s visibility timeout
    sqs.create_queue(QueueName="orders-dlq")
    url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]

    # WHEN a request sets a new timeout together with a policy SQS refuses
    with pytest.raises(ClientError) as error:
        sqs.set_queue_attributes(
            QueueUrl=url,
            Attributes={"VisibilityTimeout": "60", "RedrivePolicy": json.dumps(policy)},
        )

    # THEN it is SQS's error naming the reason, and no attribute of the request was applied
    code, message = refusal(error)
    assert code == "InvalidParameterValue"
    assert "for parameter RedrivePolicy is invalid. Reason: " in message
    assert reason in message
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "30"
    assert "RedrivePolicy" not in attributes


def test_a_valid_redrive_policy_still_moves_messages_as_moto_does(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    url = sqs.create_queue(
        QueueName="orders",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": "1"}),
            "VisibilityTimeout": "0",
        },
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    assert len(sqs.receive_message(QueueUrl=url).get("Messages", [])) == 1
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    [moved] = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert moved["Body"] == "poison"


def dlq_stack(allow_policy: dict[str, Any]) -> str:
    return json.dumps(
        {
            "Resources": {
                "Dlq": {
                    "Type": "AWS::SQS::Queue",
                    "Properties": {"QueueName": "orders-dlq", "RedriveAllowPolicy": allow_policy},
                }
            }
        }
    )


def test_a_stack_with_a_misspelt_redrive_allow_policy_fails_to_deploy(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    # GIVEN the strict attributes, and a template spelling sourceQueueArns as sourceQueueArnList
    installed(sqs_attributes)
    cloudformation = aws("cloudformation")
    misspelt = {"redrivePermission": "byQueue", "sourceQueueArnList": [SOURCE_ARN]}

    # WHEN it is deployed, THEN CloudFormation reports SQS's refusal and no queue exists
    with pytest.raises(ClientError, match="Unknown attribute sourceQueueArnList"):
        cloudformation.create_stack(StackName="dlq", TemplateBody=dlq_stack(misspelt))
    assert aws("sqs").list_queues().get("QueueUrls", []) == []

    # AND the same template with SQS's key deploys, its policy readable back
    correct = {"redrivePermission": "byQueue", "sourceQueueArns": [SOURCE_ARN]}
    cloudformation.create_stack(StackName="dlq-fixed", TemplateBody=dlq_stack(correct))
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName="orders-dlq")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedriveAllowPolicy"])
    assert json.loads(attributes["Attributes"]["RedriveAllowPolicy"]) == correct


def test_uninstalled_moto_is_lenient_again(aws: Callable[[str], Any]) -> None:
    # GIVEN the extension installed and then removed
    patched = ("create_queue", "set_queue_attributes", "get_queue_attributes")
    before = {name: vars(SQSBackend)[name] for name in patched}
    sqs_attributes.install()
    assert all(vars(SQSBackend)[name] is not before[name] for name in patched)
    sqs_attributes.uninstall()

    # THEN moto's own methods are back: the misspelt policy is taken, and never returned
    assert all(vars(SQSBackend)[name] is before[name] for name in patched)
    sqs = aws("sqs")
    misspelt = {"redrivePermission": "byQueue", "sourceQueueArnList": [SOURCE_ARN]}
    url = sqs.create_queue(
        QueueName="orders-dlq", Attributes={"RedriveAllowPolicy": json.dumps(misspelt)}
    )["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "RedriveAllowPolicy" not in attributes
