"""The SES v2 email templates added to moto behave as the SES v2 API reference describes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

VERIFIED = "orders@shop.example"
CONTENT = {
    "Subject": "Order {{order_id}}",
    "Text": "Hi {{order_id}}",
    "Html": "<p>{{order_id}}</p>",
}


@pytest.fixture
def ses(sesv2_email_templates: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("sesv2", region_name="us-east-1")
        client.create_email_identity(EmailIdentity=VERIFIED)
        client.create_email_template(TemplateName="receipt", TemplateContent=CONTENT)
        yield client


def sent_count() -> int:
    return len(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def templated(template: str, sender: str = VERIFIED) -> dict[str, Any]:
    return {
        "FromEmailAddress": sender,
        "Destination": {"ToAddresses": ["ann@customers.example"]},
        "Content": {"Template": {"TemplateName": template, "TemplateData": '{"order_id": "o-1"}'}},
    }


def test_a_created_template_reads_back(ses: Any) -> None:
    found = ses.get_email_template(TemplateName="receipt")

    assert found["TemplateName"] == "receipt"
    assert found["TemplateContent"] == CONTENT


def test_a_template_name_is_created_once(ses: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ses.create_email_template(TemplateName="receipt", TemplateContent=CONTENT)

    assert raised.value.response["Error"]["Code"] == "AlreadyExistsException"


def test_reading_an_unknown_template_is_not_found(ses: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ses.get_email_template(TemplateName="nope")

    assert raised.value.response["Error"]["Code"] == "NotFoundException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_templated_send_is_recorded_with_its_template_and_data(ses: Any) -> None:
    response = ses.send_email(**templated("receipt"))

    (message,) = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert message.id == response["MessageId"]
    assert message.template == "receipt"
    assert message.template_data == '{"order_id": "o-1"}'
    assert message.destinations == {"ToAddresses": ["ann@customers.example"]}
    assert message.source == VERIFIED


def test_a_send_with_an_unknown_template_is_not_found_and_sends_nothing(ses: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ses.send_email(**templated("missing"))

    assert raised.value.response["Error"]["Code"] == "NotFoundException"
    assert sent_count() == 0


def test_a_send_from_an_unverified_sender_is_rejected_and_sends_nothing(ses: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ses.send_email(**templated("receipt", sender="someone@elsewhere.example"))

    assert raised.value.response["Error"]["Code"] == "MessageRejected"
    assert sent_count() == 0


def test_simple_content_still_goes_through_moto(ses: Any) -> None:
    ses.send_email(
        FromEmailAddress=VERIFIED,
        Destination={"ToAddresses": ["ann@customers.example"]},
        Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}},
    )

    assert sent_count() == 1
