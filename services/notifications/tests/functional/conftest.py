"""moto as the embedded AWS: the service's tables and SES templates, made from its template.yaml.

Also here, clearly apart: the part of SES v2 that moto lacks and this service uses (email
templates), and fault injection for SES.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import TemplateMessage, ses_backends

from orderflow.emulator import sesv2_templates
from orderflow.emulator.fixtures import extension_fixture
from orderflow.notifications import bootstrap
from orderflow.notifications.adapters import create_email_templates
from orderflow.notifications.email_templates import TEMPLATE_PATH, email_templates
from orderflow.testing import create_tables

REGION = "us-east-1"
STAGE = "test"
SENDER = "orders@shop.example"


# --- SES v2 email templates: what moto lacks (orderflow.emulator.sesv2_templates) -----------


sesv2_email_templates = extension_fixture(sesv2_templates)


# --- SES fault injection --------------------------------------------------------------------


class _Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


@dataclass
class SentEmail:
    template: str
    recipients: list[str]
    sender: str
    data: dict[str, Any]


@dataclass
class EmulatedAws:
    """The emulated account, with what SES recorded as sent and SES faults to inject."""

    tables: dict[str, str]
    faults: dict[str, tuple[int, str, str]] = field(default_factory=dict)

    def fail_sends_to(self, recipient: str, status: int, code: str, message: str) -> None:
        """SES answers every send to ``recipient`` with this error until ``heal``."""
        self.faults[recipient] = (status, code, message)

    def heal(self) -> None:
        self.faults.clear()

    def expire_idempotency_records(self) -> int:
        """Delete every once-only record, as DynamoDB's TTL does once they expire (15 days)."""
        dynamodb, table = boto3.client("dynamodb"), self.tables["IdempotencyTable"]
        items = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
        for item in items:
            dynamodb.delete_item(TableName=table, Key={"id": item["id"]})
        return len(items)

    def sent(self) -> list[SentEmail]:
        """Every templated email moto's SES accepted, in order."""
        backend = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
        return [
            SentEmail(
                template=m.template,
                recipients=list(m.destinations.get("ToAddresses", [])),
                sender=m.source,
                data=json.loads(m.template_data),
            )
            for m in backend.sent_messages
            if isinstance(m, TemplateMessage)
        ]

    def inject(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        """A ``before-call`` hook: answer a faulty send as SES would, before any request is made.

        (``before-send`` would not do: botocore calls every before-send handler, so moto would
        still record the send it never answered.)
        """
        body = json.loads(params.get("body") or b"{}")
        for recipient in body.get("Destination", {}).get("ToAddresses", []):
            if recipient in self.faults:
                status, code, message = self.faults[recipient]
                http = AWSResponse(params["url"], status, {"x-amzn-ErrorType": code}, _Body(b""))
                parsed = {
                    "Error": {"Code": code, "Message": message},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                }
                return http, parsed
        return None


@pytest.fixture
def aws(sesv2_email_templates: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatedAws]:
    """moto with the service's tables, sender identity and templates; the handler wired to it."""
    with mock_aws():
        # A fresh default session: the clients bootstrap builds later inherit the fault hook.
        boto3.setup_default_session()
        tables = create_tables(TEMPLATE_PATH, boto3.client("dynamodb"), stage=STAGE)
        ses = boto3.client("sesv2")
        ses.create_email_identity(EmailIdentity=SENDER)
        create_email_templates(ses, email_templates(STAGE))
        emulated = EmulatedAws(tables)
        boto3.DEFAULT_SESSION.events.register_first("before-call.sesv2.SendEmail", emulated.inject)
        monkeypatch.setenv("STAGE", STAGE)
        monkeypatch.setenv("SENDER_ADDRESS", SENDER)
        monkeypatch.setenv("IDEMPOTENCY_TABLE", tables["IdempotencyTable"])
        monkeypatch.setenv("SENT_EMAILS_TABLE", tables["SentEmailsTable"])
        # One attempt per send: a throttled send fails the record at once (SQS retries it).
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        bootstrap.service.cache_clear()
        yield emulated
        bootstrap.service.cache_clear()
