"""SES v2 templated sends, SQS event source mappings left to pollers, the patch mechanism."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from orderflow.emulator import lambda_sqs_mappings, sesv2_templates
from orderflow.emulator.extension import Extension, Patch
from orderflow.emulator.server import sent_emails

from .conftest import ACCOUNT, REGION


@pytest.fixture
def mail(aws: Callable[[str], Any], installed: Callable[..., None]) -> Any:
    installed(sesv2_templates)
    ses = aws("ses")
    ses.verify_email_identity(EmailAddress="orders@shop.example")
    ses.create_template(
        Template={
            "TemplateName": "order-confirmation",
            "SubjectPart": "Order {{order_id}} confirmed",
            "TextPart": "Thanks",
        }
    )
    return aws("sesv2")


def templated(sender: str, template: str) -> dict[str, Any]:
    return {
        "FromEmailAddress": sender,
        "Destination": {"ToAddresses": ["jane@example.com"]},
        "Content": {
            "Template": {
                "TemplateName": template,
                "TemplateData": json.dumps({"order_id": "ord-1"}),
            }
        },
    }


def test_a_templated_send_is_accepted_and_recorded_with_its_data(mail: Any) -> None:
    message_id = mail.send_email(**templated("orders@shop.example", "order-confirmation"))[
        "MessageId"
    ]
    [email] = sent_emails()
    assert email["id"] == message_id
    assert email["template"] == "order-confirmation"
    assert json.loads(email["template_data"]) == {"order_id": "ord-1"}
    assert email["destinations"]["ToAddresses"] == ["jane@example.com"]


def test_an_unverified_sender_is_rejected_and_nothing_is_sent(mail: Any) -> None:
    with pytest.raises(ClientError, match="MessageRejected"):
        mail.send_email(**templated("someone@else.example", "order-confirmation"))
    assert sent_emails() == []


def test_an_unknown_template_is_an_error(mail: Any) -> None:
    with pytest.raises(ClientError, match="does not exist"):
        mail.send_email(**templated("orders@shop.example", "no-such-template"))


def test_simple_content_still_goes_through_moto(mail: Any) -> None:
    mail.send_email(
        FromEmailAddress="orders@shop.example",
        Destination={"ToAddresses": ["jane@example.com"]},
        Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}}},
    )
    assert [e["subject"] for e in sent_emails()] == ["Hi"]


def test_an_sqs_mapping_is_recorded_but_no_message_is_consumed_inline(
    aws: Callable[[str], Any], installed: Callable[..., None]
) -> None:
    # GIVEN a function with an SQS event source mapping
    installed(lambda_sqs_mappings)
    iam, lam, sqs = aws("iam"), aws("lambda"), aws("sqs")
    role = iam.create_role(
        RoleName="fn",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    lam.create_function(
        FunctionName="fn",
        Runtime="python3.12",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    lam.create_event_source_mapping(
        EventSourceArn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders",
        FunctionName="fn",
        BatchSize=5,
        ScalingConfig={"MaximumConcurrency": 3},
    )
    # WHEN a message is sent
    sqs.send_message(QueueUrl=url, MessageBody="m")
    # THEN the mapping is there with its settings, and the message waits for a poller
    [mapping] = lam.list_event_source_mappings(FunctionName="fn")["EventSourceMappings"]
    assert (mapping["BatchSize"], mapping["ScalingConfig"]) == (5, {"MaximumConcurrency": 3})
    [message] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"


class Counter:
    value = "original"


def test_an_extension_installs_once_and_uninstalls_what_it_replaced() -> None:
    extension = Extension("test", lambda: [Patch(Counter, "value", "patched")])
    extension.install()
    extension.install()
    assert Counter.value == "patched"
    extension.uninstall()
    assert Counter.value == "original"
    extension.uninstall()
    assert Counter.value == "original"
