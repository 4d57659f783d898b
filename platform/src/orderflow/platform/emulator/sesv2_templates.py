"""SES v2 SendEmail with templated content (moto raises NotImplementedError for it).

Per the SES v2 API reference, ``Content.Template`` names a template (``TemplateName`` or
``TemplateArn``) and carries ``TemplateData`` (JSON). SES v1 and v2 share one template store,
which is where AWS::SES::Template puts templates, and one set of verified identities: a sender
that is not verified is rejected (MessageRejected), an unknown template is an error
(NotFoundException in v2). The accepted email is recorded in moto's SES ``sent_messages``, the
emulator's record of every email sent, with its template and data.
"""

from __future__ import annotations

from orderflow.platform.emulator.extension import Extension, Patch
from orderflow.testing.sesv2 import with_templated_send


def _patches() -> list[Patch]:
    from moto.sesv2.responses import SESV2Response  # noqa: PLC0415

    return [Patch(SESV2Response, "send_email", with_templated_send(SESV2Response.send_email))]


_EXTENSION = Extension("sesv2-templates", _patches)


def install() -> None:
    """Accept SES v2 templated sends."""
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's SES v2 (templated sends raise)."""
    _EXTENSION.uninstall()
