"""The role sends in the SES sandbox only to the stage's sandbox recipients, only as the sender.

What SES authorizes a send against (Amazon SES Developer Guide, "Identity and access management
in Amazon SES", https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html, and the
Service Authorization Reference for SES v2, "Actions, resources, and condition keys for Amazon
Simple Email Service v2",
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsimpleemailservicev2.html):
``ses:SendEmail`` on the ARN of each identity the email uses and on the template it names; the
condition keys ``ses:FromAddress`` (the From address) and ``ses:Recipients`` (every To, CC and
BCC address) restrict it. In the sandbox ("Request production access",
https://docs.aws.amazon.com/ses/latest/dg/request-production-access.html) a recipient must be a
verified identity, and SES authorizes the send against that recipient's identity too: the
refusal names it ("not authorized to perform `ses:SendTemplatedEmail' on resource
`arn:aws:ses:...:identity/<recipient>'", https://github.com/aws/aws-sdk-js/issues/3641).

The emulator does not enforce IAM yet, so these tests evaluate the statements the template
deploys for a stage with a small policy evaluator of their own: Allow/Deny, action and resource
wildcards, and the condition operators the template uses; anything else fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from orderflow.notifications.email_templates import TEMPLATE_PATH
from orderflow.templates import load_template
from orderflow.testing import template_parameters

ACCOUNT = "123456789012"
REGION = "us-east-1"
SENDER = "orders@dev.orderflow.example"
TEMPLATE = "orderflow-dev-order-confirmation"


# --- the template as CloudFormation deploys it ---------------------------------------------------


class _NoValue:
    """``AWS::NoValue``: the property or list item disappears."""


NO_VALUE = _NoValue()


class Stack:
    """The resolved resources of the template for one set of parameter values."""

    def __init__(self, template: Mapping[str, Any], values: Mapping[str, str]) -> None:
        self._template = template
        self._parameters: dict[str, Any] = dict(template_parameters("dev"))
        self._parameters.update({"AWS::NoValue": NO_VALUE})
        for name, spec in (template.get("Parameters") or {}).items():
            raw = values.get(name, spec.get("Default"))
            if raw is None:
                raise ValueError(f"parameter {name} has no value")
            kind = str(spec.get("Type", "String"))
            self._parameters[name] = str(raw).split(",") if kind == "CommaDelimitedList" else raw
        self._conditions = template.get("Conditions") or {}

    def condition(self, name: str) -> bool:
        return self._truth(self._conditions[name])

    def _truth(self, expression: Any) -> bool:
        ((function, arguments),) = expression.items()
        if function == "Condition":
            return self.condition(arguments)
        if function == "Fn::Equals":
            left, right = (self.resolve(a) for a in arguments)
            return bool(left == right)
        if function == "Fn::Not":
            return not self._truth(arguments[0])
        if function == "Fn::And":
            return all(self._truth(a) for a in arguments)
        if function == "Fn::Or":
            return any(self._truth(a) for a in arguments)
        raise NotImplementedError(function)

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function the template uses applied."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._parameters.get(argument, f"<{argument}>")
            if key == "Fn::GetAtt":
                return f"<{argument if isinstance(argument, str) else '.'.join(argument)}>"
            if key == "Fn::Sub":
                text, names = (argument, {}) if isinstance(argument, str) else argument
                names = {k: self.resolve(v) for k, v in names.items()}
                return re.sub(
                    r"\$\{([^}!]+)\}",
                    lambda m: str(names.get(m[1], self._parameters.get(m[1], m[0]))),
                    text,
                )
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(i) for i in self.resolve(items))
            if key == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(index)]
            if key == "Fn::If":
                name, yes, no = argument
                return self.resolve(yes if self.condition(name) else no)
            if key.startswith("Fn::"):
                raise NotImplementedError(key)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def role_statements(self, role: str) -> list[dict[str, Any]]:
        """Every statement the deployed role carries: inline, and policies attached to it."""
        statements: list[dict[str, Any]] = []
        for logical_id, resource in self._template["Resources"].items():
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            properties = resource.get("Properties", {})
            if logical_id == role and resource["Type"] == "AWS::IAM::Role":
                documents = [p["PolicyDocument"] for p in self.resolve(properties["Policies"])]
            elif resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in properties["Roles"]:
                documents = [self.resolve(properties["PolicyDocument"])]
            else:
                continue
            for document in documents:
                statements.extend(document["Statement"])
        return statements


# --- a policy evaluator for these statements ------------------------------------------------------


def _wildcard(pattern: str, text: str, *, case_sensitive: bool = True) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in str(pattern))
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.fullmatch(regex, text, flags) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    patterns = [str(v) for v in _as_list(expected)]
    actual = context.get(key)
    if operator.startswith(("ForAllValues:", "ForAnyValue:")):
        quantifier, test = operator.split(":", 1)
        values = _as_list(actual) if actual is not None else []
        if test == "StringEquals":
            matches = [any(v == p for p in patterns) for v in values]
        elif test == "StringLike":
            matches = [any(_wildcard(p, v) for p in patterns) for v in values]
        else:
            raise NotImplementedError(operator)
        return all(matches) if quantifier == "ForAllValues" else any(matches)
    if isinstance(actual, list):
        raise NotImplementedError(f"{operator} on the multivalued key {key}")
    if actual is None:
        return False
    if operator == "StringEquals":
        return actual in patterns
    if operator == "StringLike":
        return any(_wildcard(p, actual) for p in patterns)
    raise NotImplementedError(operator)


def _matches(statement: Mapping[str, Any], action: str, resource: str, context: Any) -> bool:
    if "NotAction" in statement or "NotResource" in statement:
        raise NotImplementedError("NotAction/NotResource")
    if not any(_wildcard(a, action, case_sensitive=False) for a in _as_list(statement["Action"])):
        return False
    if not any(_wildcard(r, resource) for r in _as_list(statement["Resource"])):
        return False
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, block in (statement.get("Condition") or {}).items()
        for key, expected in block.items()
    )


def allowed(
    statements: Sequence[Mapping[str, Any]], action: str, resource: str, context: Any
) -> bool:
    """IAM's answer for one action on one resource: an explicit Deny wins, else any Allow."""
    hits = [s["Effect"] for s in statements if _matches(s, action, resource, context)]
    return "Deny" not in hits and "Allow" in hits


@dataclass(frozen=True)
class TemplatedSend:
    """One SES v2 SendEmail with a stored template, and the identities SES checks it against."""

    sender: str
    recipients: tuple[str, ...]
    recipient_identities: tuple[str, ...]
    template: str = TEMPLATE
    sender_identity: str | None = None
    """The verified identity the From address belongs to: itself (default) or its domain."""

    def authorized_by(self, statements: Sequence[Mapping[str, Any]], *, sandbox: bool) -> bool:
        def arn(kind: str, name: str) -> str:
            return f"arn:aws:ses:{REGION}:{ACCOUNT}:{kind}/{name}"

        sender = self.sender_identity or self.sender
        resources = [arn("identity", sender), arn("template", self.template)]
        if sandbox:
            resources += [arn("identity", i) for i in self.recipient_identities]
        context = {"ses:FromAddress": self.sender, "ses:Recipients": list(self.recipients)}
        return all(allowed(statements, "ses:SendEmail", r, context) for r in resources)


def deployed_role(**values: str) -> list[dict[str, Any]]:
    stack = Stack(load_template(TEMPLATE_PATH), {"SenderAddress": SENDER, **values})
    return stack.role_statements("FunctionRole")


def to(recipient: str, identity: str | None = None) -> TemplatedSend:
    return TemplatedSend(SENDER, (recipient,), (identity or recipient,))


# --- the tests ------------------------------------------------------------------------------------


def test_a_dev_stage_in_the_ses_sandbox_may_email_its_sandbox_recipients() -> None:
    # GIVEN a dev stage whose sandbox recipients are one address and one domain
    role = deployed_role(SesSandboxRecipients="jane@example.com,team.example.org")

    # WHEN the function sends from the sender with its template, in the sandbox
    # THEN SES's checks of sender, template and recipient identity all pass
    assert to("jane@example.com").authorized_by(role, sandbox=True)
    assert to("ana@team.example.org", identity="team.example.org").authorized_by(role, sandbox=True)


@pytest.mark.parametrize(
    ("send", "why"),
    [
        (to("mallory@elsewhere.example"), "a recipient not listed"),
        (
            TemplatedSend(SENDER, ("jane@example.com", "mallory@x.example"), ("jane@example.com",)),
            "one listed recipient beside one that is not",
        ),
        (
            TemplatedSend("jane@example.com", ("jane@example.com",), ("jane@example.com",)),
            "a recipient's identity used as the From address",
        ),
        (
            TemplatedSend(SENDER, ("jane@example.com",), ("jane@example.com",), "someone-else"),
            "a template that is not the stage's",
        ),
    ],
)
def test_the_sandbox_grant_reaches_no_other_recipient_sender_or_template(
    send: TemplatedSend, why: str
) -> None:
    role = deployed_role(SesSandboxRecipients="jane@example.com")
    assert not send.authorized_by(role, sandbox=True), why


def test_without_sandbox_recipients_the_role_grants_no_recipient_identity() -> None:
    # GIVEN a stage outside the sandbox (the parameter left empty, as in prod)
    role = deployed_role()

    # THEN production sends work, and no recipient identity is granted
    assert to("jane@example.com").authorized_by(role, sandbox=False)
    assert not to("jane@example.com").authorized_by(role, sandbox=True)
    assert all(s.get("Sid") != "SandboxRecipientIdentities" for s in role)


def test_the_sender_and_template_grant_keeps_the_from_address_condition() -> None:
    role = deployed_role()
    # A domain identity would let any address of the domain send; the condition pins one.
    domain = "dev.orderflow.example"
    other = TemplatedSend(f"billing@{domain}", ("jane@example.com",), (), sender_identity=domain)
    assert not other.authorized_by(role, sandbox=False)
    ours = TemplatedSend(SENDER, ("jane@example.com",), (), sender_identity=domain)
    assert ours.authorized_by(role, sandbox=False)
