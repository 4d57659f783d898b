"""The repository's own stacks deploy under SQS's strict redrive attributes (the emulator's).

SQS refuses a RedriveAllowPolicy with an unknown key and stores ``sourceQueueArns`` as given
(Amazon SQS API Reference, SetQueueAttributes, RedriveAllowPolicy:
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orderflow.emulator import sqs_attributes
from orderflow.emulator.extension import installed
from orderflow.local.stacks import deploy_stack, stack_templates

ROOT = Path(__file__).resolve().parents[4]
ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture
def strict(embedded: Callable[[str], Any]) -> Iterator[Callable[[str], Any]]:
    with installed(sqs_attributes):
        yield embedded


def test_every_real_stack_deploys_and_the_notifications_dlq_admits_only_its_queue(
    strict: Callable[[str], Any],
) -> None:
    overrides = {"SenderAddress": "orders@orderflow.local", "ManageSenderIdentity": "true"}

    # WHEN the platform stack and every service stack deploy from their templates
    for template in stack_templates(ROOT):
        deploy_stack(
            strict("cloudformation"), strict("s3"), template, stage="local", overrides=overrides
        )

    # THEN the notifications DLQ admits exactly the notifications queue, as SQS stores it
    sqs = strict("sqs")
    dlq = sqs.get_queue_url(QueueName="orderflow-local-notifications-dlq")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
    assert json.loads(attributes["RedriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [f"arn:aws:sqs:{REGION}:{ACCOUNT}:orderflow-local-notifications"],
    }
