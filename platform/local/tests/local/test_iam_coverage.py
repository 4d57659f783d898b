"""Which statements of the deployed roles a run's requests were allowed by.

A role's permissions are its inline policies and its attached managed policies ("Managed
policies and inline policies",
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html); each
statement is one Effect with its Action and Resource. A statement no request needed is one the
role could do without on that run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from orderflow.local.iam_coverage import (
    RoleStatement,
    allowing_statements,
    deployed_statements,
    overlapping,
    unexercised,
    unused_actions,
)
from orderflow.local.stacks import DeployedStack

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
INLINE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "PollOwnQueue",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage"],
            "Resource": "*",
        },
        {"Sid": "PublishOutcomes", "Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
        {"Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "*"},
    ],
}
MANAGED = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}],
}


def decision(role: str, policy: str, index: int, *, allowed: bool = True) -> dict[str, Any]:
    return {
        "principal": f"arn:aws:sts::123456789012:assumed-role/{role}/fn",
        "role_name": role,
        "action": "sqs:ReceiveMessage",
        "resource": "arn:aws:sqs:us-east-1:123456789012:q",
        "allowed": allowed,
        "reason": "",
        "statement": {"role_name": role, "policy_name": policy, "index": index, "sid": None},
    }


def test_every_statement_of_inline_and_managed_policies_and_the_ones_no_request_needed(
    aws: Callable[[str], Any],
) -> None:
    # GIVEN a stack's role with an inline policy of three statements and a managed policy
    iam = aws("iam")
    iam.create_role(RoleName="payment-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(
        RoleName="payment-role", PolicyName="payment", PolicyDocument=json.dumps(INLINE)
    )
    managed = iam.create_policy(PolicyName="logs", PolicyDocument=json.dumps(MANAGED))
    iam.attach_role_policy(RoleName="payment-role", PolicyArn=managed["Policy"]["Arn"])
    stacks = {
        "payment": DeployedStack(
            "payment",
            "orderflow-local-payment",
            {},
            {"FunctionRole": ("AWS::IAM::Role", "payment-role")},
        )
    }

    # WHEN its statements are read back and held against a run's decisions
    statements = deployed_statements(iam, stacks)
    decisions = [
        decision("payment-role", "payment", 0),
        decision("payment-role", "payment", 0),
        decision("payment-role", "payment", 1, allowed=False),  # a denial allows nothing
    ]

    # THEN every statement is there, and the unused Allow statements are the ones listed
    assert [s.label for s in statements] == [
        "payment/FunctionRole/payment#0 (PollOwnQueue)",
        "payment/FunctionRole/payment#1 (PublishOutcomes)",
        "payment/FunctionRole/payment#2",
        "payment/FunctionRole/logs#0",
    ]
    assert allowing_statements(decisions) == {("payment-role", "payment", 0): 2}
    assert [s.label for s in unexercised(statements, decisions)] == [
        "payment/FunctionRole/payment#1 (PublishOutcomes)",
        "payment/FunctionRole/logs#0",
    ]


def statement(sid: str, actions: tuple[str, ...], resources: tuple[str, ...]) -> RoleStatement:
    return RoleStatement(
        "payment", "FunctionRole", "role", "payment", 0, sid, "Allow", actions, resources
    )


def test_statements_overlap_when_one_request_could_be_allowed_by_both() -> None:
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/payments"
    other = "arn:aws:dynamodb:us-east-1:123456789012:table/idempotency"
    queues = "arn:aws:sqs:us-east-1:123456789012:orderflow-local-*"
    dlqs = "arn:aws:sqs:us-east-1:123456789012:orderflow-local-*-dlq"
    read = statement("Read", ("dynamodb:GetItem",), (table,))
    read_other = statement("ReadOther", ("dynamodb:GetItem",), (other,))
    write = statement("Write", ("dynamodb:PutItem",), (table,))
    everything = statement("Everything", ("dynamodb:*",), ("*",))
    send = statement("Send", ("sqs:SendMessage",), (queues,))
    receive = statement("Receive", ("sqs:ReceiveMessage",), (dlqs,))
    send_dlq = statement("SendDlq", ("sqs:sendmessage",), (dlqs,))

    assert overlapping([read, read_other, write, send, receive]) == []
    assert [(a.sid, b.sid) for a, b in overlapping([read, everything, send, send_dlq])] == [
        ("Read", "Everything"),
        ("Send", "SendDlq"),
    ]


def test_the_actions_a_statement_lists_but_never_allowed() -> None:
    queue = "arn:aws:sqs:us-east-1:123456789012:orderflow-local-payment"
    poll = RoleStatement(
        "payment",
        "FunctionRole",
        "role",
        "payment",
        0,
        "PollOwnQueue",
        "Allow",
        ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"),
        (queue,),
    )
    decisions = [
        {**decision("role", "payment", 0), "action": "sqs:ReceiveMessage"},
        {**decision("role", "payment", 0), "action": "sqs:DeleteMessage"},
    ]

    assert unused_actions([poll], decisions) == {
        "payment/FunctionRole/payment#0 (PollOwnQueue)": ("sqs:ChangeMessageVisibility",)
    }
