"""The service's SES templates as data, read from its own template.yaml.

The stack deploys them as ``AWS::SES::Template`` resources; tests and the local runtime create
the very same ones in the emulator from here, so no second copy of the texts exists. Reading
YAML needs PyYAML, which tools and tests have and the Lambda artifact does not need.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orderflow.templates import load_template, resolve, resources_of_type

TEMPLATE_PATH = Path(__file__).resolve().parents[3] / "template.yaml"
"""The service's SAM template (in the source tree; the Lambda artifact does not carry it)."""


@dataclass(frozen=True)
class EmailTemplate:
    """One SES email template: its name in a stage, and its Handlebars parts."""

    name: str
    subject: str
    text: str
    html: str


def email_templates(stage: str, template: str | Path = TEMPLATE_PATH) -> list[EmailTemplate]:
    """Every ``AWS::SES::Template`` of ``template``, named as deployed in ``stage``."""
    document = load_template(template)
    found = []
    for properties in resources_of_type(document, "AWS::SES::Template").values():
        spec = resolve(properties["Template"], {"Stage": stage})
        found.append(
            EmailTemplate(
                name=spec["TemplateName"],
                subject=spec["SubjectPart"],
                text=spec["TextPart"],
                html=spec["HtmlPart"],
            )
        )
    return sorted(found, key=lambda t: t.name)
