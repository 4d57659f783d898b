"""``orderflow up`` prints each request the embedded AWS denied, once, as it happens.

A denial is what AWS answers a request no policy allows ("Policy evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html);
the embedded AWS records each one at ``/_orderflow/iam-decisions?denied=1``.
"""

from __future__ import annotations

import io
import urllib.error
from email.message import Message
from typing import Any

from orderflow.local.status import DENIALS, DenialWatch, denial_line

DENIED = {
    "principal": "arn:aws:sts::123456789012:assumed-role/payment-role/orderflow-local-payment",
    "role_name": "payment-role",
    "action": "sqs:SendMessage",
    "resource": "arn:aws:sqs:us-east-1:123456789012:orderflow-local-inventory",
    "allowed": False,
    "reason": "no identity-based policy allows the sqs:SendMessage action",
    "statement": None,
}


class Recorded:
    def __init__(self) -> None:
        self.denials: list[dict[str, Any]] = []
        self.asked: list[str] = []

    def __call__(self, name: str) -> list[dict[str, Any]]:
        self.asked.append(name)
        return list(self.denials)


def test_each_denial_is_reported_once_in_the_order_it_happened() -> None:
    recorded = Recorded()
    watch = DenialWatch(recorded)
    assert watch.new() == []
    recorded.denials += [DENIED, {**DENIED, "action": "sns:Publish"}]
    first = watch.new()
    recorded.denials.append({**DENIED, "action": "dynamodb:PutItem"})
    second = watch.new()
    assert [d["action"] for d in first] == ["sqs:SendMessage", "sns:Publish"]
    assert [d["action"] for d in second] == ["dynamodb:PutItem"]
    assert watch.new() == []
    assert set(recorded.asked) == {DENIALS}


def test_a_cleared_record_starts_over() -> None:
    recorded = Recorded()
    watch = DenialWatch(recorded)
    recorded.denials += [DENIED, DENIED]
    watch.new()
    recorded.denials[:] = [{**DENIED, "action": "sns:Publish"}]
    assert [d["action"] for d in watch.new()] == ["sns:Publish"]


def test_an_embedded_aws_without_iam_decisions_is_asked_no_more() -> None:
    calls: list[str] = []

    def missing(name: str) -> Any:
        calls.append(name)
        raise urllib.error.HTTPError("http://x", 404, "Not Found", Message(), io.BytesIO(b""))

    watch = DenialWatch(missing)
    assert watch.new() == watch.new() == []
    assert not watch.available
    assert len(calls) == 1


def test_a_denial_line_names_who_what_and_why() -> None:
    assert denial_line(DENIED) == (
        "denied: arn:aws:sts::123456789012:assumed-role/payment-role/orderflow-local-payment "
        "may not sqs:SendMessage on arn:aws:sqs:us-east-1:123456789012:orderflow-local-inventory "
        "(no identity-based policy allows the sqs:SendMessage action)"
    )
