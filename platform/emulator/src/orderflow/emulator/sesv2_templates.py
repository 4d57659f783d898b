"""SES v2 email templates and templated sends, which moto 5 lacks.

moto 5 implements SES v2 identities and SendEmail with Simple or Raw content, but not
CreateEmailTemplate or GetEmailTemplate, and SendEmail with ``Content.Template`` raises
NotImplementedError. Per the SES v2 API reference, ``Content.Template`` names a template
(``TemplateName`` or ``TemplateArn``) and carries ``TemplateData`` (JSON). SES keeps v1 templates
and v2 email templates in one store (where AWS::SES::Template puts them), so these handlers use
moto's own SES template store, and a templated send goes through moto's own
``send_templated_email``, which checks that the sender is a verified identity (MessageRejected
otherwise) and the addresses are valid, and records the message in ``sent_messages``, the
emulator's record of every email sent. An unknown template is NotFoundException, a second
template of one name AlreadyExistsException. Like SES, nothing is rendered at send time
(rendering failures arrive later as events), so template data is recorded as sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from orderflow.emulator.extension import Extension, Patch


def send_templated(account_id: str, region: str, params: dict[str, Any]) -> str:
    """Send one SES v2 templated email through moto's SES store; return the MessageId."""
    from moto.ses.exceptions import NotFoundException  # noqa: PLC0415
    from moto.ses.models import ses_backends  # noqa: PLC0415

    template = params["Content"]["Template"]
    name = template.get("TemplateName") or str(template.get("TemplateArn", "")).split("/")[-1]
    backend = ses_backends[account_id][region]
    if name not in backend.templates:
        raise NotFoundException(f"Template {name} does not exist.")
    destination = params.get("Destination", {})
    message = backend.send_templated_email(
        source=params.get("FromEmailAddress", ""),
        template=name,
        template_data=template.get("TemplateData", "{}"),
        # Recorded as the request gave them, like the addresses SES was asked to send to.
        destinations={
            key: list(destination[key])
            for key in ("ToAddresses", "CcAddresses", "BccAddresses")
            if key in destination
        },
    )
    return str(message.id)


def with_templated_send(moto_send_email: Callable[[Any], str]) -> Callable[[Any], str]:
    """moto's SES v2 SendEmail handler, taught ``Content.Template``."""

    def send_email(response: Any) -> str:
        params = json.loads(response.body)
        if "Template" not in (params.get("Content") or {}):
            return moto_send_email(response)
        message_id = send_templated(response.current_account, response.region, params)
        return json.dumps({"MessageId": message_id})

    return send_email


def create_email_template(response: Any) -> str:
    """SES v2 CreateEmailTemplate on moto's template store."""
    from moto.core.exceptions import JsonRESTError  # noqa: PLC0415

    name = response._get_param("TemplateName")
    content = response._get_param("TemplateContent") or {}
    store = response.sesv2_backend.core_backend
    if name in store.templates:
        raise JsonRESTError("AlreadyExistsException", f"Template {name} already exists.")
    store.add_template(
        {
            "template_name": name,
            "subject_part": content.get("Subject", ""),
            "text_part": content.get("Text", ""),
            "html_part": content.get("Html", ""),
        }
    )
    return "{}"


def get_email_template(response: Any) -> str:
    """SES v2 GetEmailTemplate from moto's template store."""
    from moto.ses.exceptions import NotFoundException  # noqa: PLC0415

    name = response._get_param("TemplateName")
    template = response.sesv2_backend.core_backend.templates.get(name)
    if template is None:
        raise NotFoundException(f"Template {name} does not exist.")
    content = {
        "Subject": template["subject_part"],
        "Text": template["text_part"],
        "Html": template["html_part"],
    }
    return json.dumps({"TemplateName": name, "TemplateContent": content})


def _patches() -> list[Patch]:
    from moto.sesv2.responses import SESV2Response  # noqa: PLC0415

    return [
        Patch(SESV2Response, "send_email", with_templated_send(SESV2Response.send_email)),
        Patch(SESV2Response, "create_email_template", create_email_template),
        Patch(SESV2Response, "get_email_template", get_email_template),
    ]


_EXTENSION = Extension("sesv2-templates", _patches)


def install() -> None:
    """Accept SES v2 email templates and templated sends."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's SES v2 (templated sends raise; no email template API)."""
    _EXTENSION.uninstall()
