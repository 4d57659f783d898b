"""SES v2 SendEmail with templated content (moto raises NotImplementedError for it).

Per the SES v2 API reference, ``Content.Template`` names a template (``TemplateName`` or
``TemplateArn``) and carries ``TemplateData`` (JSON). SES v1 and v2 share one template store,
which is where AWS::SES::Template puts templates, and one set of verified identities: a sender
that is not verified is rejected (MessageRejected), an unknown template is an error
(NotFoundException in v2). The accepted email is recorded in moto's SES ``sent_messages``, the
emulator's record of every email sent, with its template and data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from orderflow.platform.emulator.extension import Extension, Patch


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
        destinations={
            key: list(destination.get(key, []))
            for key in ("ToAddresses", "CcAddresses", "BccAddresses")
        },
    )
    return str(message.id)


def _patches() -> list[Patch]:
    from moto.sesv2.responses import SESV2Response  # noqa: PLC0415

    moto_send: Callable[[SESV2Response], str] = SESV2Response.send_email

    def send_email(self: SESV2Response) -> str:
        params = json.loads(self.body)
        if "Template" not in params.get("Content", {}):
            return moto_send(self)
        return json.dumps({"MessageId": send_templated(self.current_account, self.region, params)})

    return [Patch(SESV2Response, "send_email", send_email)]


_EXTENSION = Extension("sesv2-templates", _patches)


def install() -> None:
    """Accept SES v2 templated sends."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's SES v2 (templated sends raise)."""
    _EXTENSION.uninstall()
