"""The SES templates in template.yaml: one per mapped type; placeholders are event fields."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from orderflow import naming
from orderflow.contracts import EventEnvelope
from orderflow.notifications.domain import TEMPLATES, email_for
from orderflow.notifications.email_templates import EmailTemplate, email_templates

EventFactory = Callable[..., EventEnvelope]
_MISSING = object()


def lookup(scope: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(scope, dict) or part not in scope:
            return _MISSING
        scope = scope[part]
    return scope


def unresolved(text: str, data: dict[str, Any]) -> list[str]:
    """Placeholders of a Handlebars text (each/if/else/variables) that ``data`` cannot fill."""
    scopes: list[Any] = [data]
    missing = []
    for tag in (t.strip() for t in re.findall(r"\{\{(.*?)\}\}", text)):
        if tag.startswith("#each "):
            items = lookup(scopes[-1], tag.removeprefix("#each ").strip())
            if not isinstance(items, list) or not items:
                missing.append(tag)
                items = [{}]
            scopes.append(items[0])
        elif tag.startswith("#if "):
            if lookup(scopes[-1], tag.removeprefix("#if ").strip()) is _MISSING:
                missing.append(tag)
            scopes.append(scopes[-1])
        elif tag in {"/each", "/if"}:
            scopes.pop()
        elif tag != "else" and lookup(scopes[-1], tag) is _MISSING:
            missing.append(tag)
    assert len(scopes) == 1, f"unbalanced blocks in {text!r}"
    return missing


def by_template(stage: str) -> dict[str, EmailTemplate]:
    return {t.name: t for t in email_templates(stage)}


def test_the_stack_holds_exactly_one_template_per_mapped_event_type() -> None:
    deployed = set(by_template("prod"))

    assert deployed == {naming.email_template("prod", name) for name in TEMPLATES.values()}


@pytest.mark.parametrize(("event_type", "template"), sorted(TEMPLATES.items()))
def test_every_placeholder_is_a_field_of_the_event(
    event_type: str, template: str, customer_event: EventFactory
) -> None:
    # GIVEN the email a real event of this type earns
    email = email_for(customer_event(event_type))
    assert email is not None
    data = json.loads(email.template_data)

    # WHEN its template's subject, text and HTML are read
    parts = by_template("test")[naming.email_template("test", template)]

    # THEN every placeholder resolves against the event's fields, and the order is named
    for text in (parts.subject, parts.text, parts.html):
        assert unresolved(text, data) == []
        assert "{{order_id}}" in text
    assert parts.html.lstrip().startswith("<html>")


def test_the_checker_catches_a_placeholder_the_event_lacks() -> None:
    text = "{{order_id}} {{#each items}}{{sku}} {{colour}}{{/each}} {{total.tax}}"

    assert unresolved(text, {"order_id": "o", "items": [{"sku": "s"}], "total": {}}) == [
        "colour",
        "total.tax",
    ]
