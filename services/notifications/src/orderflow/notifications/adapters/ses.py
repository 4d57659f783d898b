"""Amazon SES v2: templated sends, and creating the service's templates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from orderflow import naming
from orderflow.notifications.domain import Email, EmailDeliveryError
from orderflow.observability import mask_emails

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client

    from orderflow.notifications.email_templates import EmailTemplate

_MASK_HOOK_ID = "orderflow-notifications-mask-recipient"


class SesEmailSender:
    """``EmailSender`` over SES v2 ``SendEmail`` with a stored template."""

    def __init__(self, client: SESV2Client, *, sender: str, stage: str) -> None:
        self._client = client
        self._sender = sender
        self._stage = stage
        # SES names a rejected recipient in its error message (e.g. sandbox "not verified").
        # Masking the parsed error before botocore raises it keeps the address out of the
        # exception everywhere it travels: X-Ray subsegments, logs, the failure ledger.
        client.meta.events.register(
            "after-call.sesv2.SendEmail", _mask_error_message, unique_id=_MASK_HOOK_ID
        )

    def send(self, email: Email) -> str:
        """Send ``email`` from the configured sender; return the SES message id."""
        # The stack names its templates the same way (orderflow-<stage>-<template>).
        template = naming.email_template(self._stage, email.template)
        try:
            response = self._client.send_email(
                FromEmailAddress=self._sender,
                Destination={"ToAddresses": [email.recipient]},
                Content={
                    "Template": {"TemplateName": template, "TemplateData": email.template_data}
                },
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "Unknown"), error.get("Message", "")
            raise EmailDeliveryError(
                f"SES did not send {template}: {code}: {mask_emails(message)}"
            ) from exc
        except BotoCoreError as exc:
            raise EmailDeliveryError(
                f"SES unreachable sending {template}: {mask_emails(str(exc))}"
            ) from exc
        return response["MessageId"]


def _mask_error_message(parsed: dict[str, Any], **_: Any) -> None:
    error = parsed.get("Error")
    if isinstance(error, dict) and isinstance(error.get("Message"), str):
        error["Message"] = mask_emails(error["Message"])


def create_email_templates(client: SESV2Client, templates: Iterable[EmailTemplate]) -> list[str]:
    """Create each template with SES v2 ``CreateEmailTemplate``; return the names created."""
    created = []
    for template in templates:
        client.create_email_template(
            TemplateName=template.name,
            TemplateContent={
                "Subject": template.subject,
                "Text": template.text,
                "Html": template.html,
            },
        )
        created.append(template.name)
    return created
