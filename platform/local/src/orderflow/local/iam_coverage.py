"""Which statements of the deployed roles a run needed: least privilege, shown by running.

Every role the stacks created (the functions' execution roles, the incident workflow's role,
the role SAM generates for the EventBridge rule that starts it) is read back from the embedded
AWS's IAM as deployed: its inline policies and the default version of each attached managed
policy, statement by statement. The embedded AWS records, for each request a role session
made, the statement that allowed it (``/_orderflow/iam-decisions``). A statement that allowed
nothing in a run was not needed by it: either the run did not take the path that needs it, or
the role grants more than the system uses.
"""

from __future__ import annotations

import ast
import fnmatch
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from orderflow.local.stacks import DeployedStack

ROLE = "AWS::IAM::Role"


@dataclass(frozen=True)
class RoleStatement:
    """One statement of one policy of one deployed role."""

    stack: str
    """the package whose stack created the role (``platform``, ``payment``, ...)"""
    logical_id: str
    role_name: str
    policy_name: str
    index: int
    sid: str | None
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.role_name, self.policy_name, self.index)

    @property
    def label(self) -> str:
        """``payment/FunctionRole/payment#3 (PollOwnQueue)``: stable across runs."""
        name = f"{self.stack}/{self.logical_id}/{self.policy_label}#{self.index}"
        return f"{name} ({self.sid})" if self.sid else name

    @property
    def policy_label(self) -> str:
        return self.policy_name.rsplit("/", 1)[-1]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _document(raw: Any) -> Mapping[str, Any]:
    """A policy document as IAM returns it: decoded by botocore, URL-encoded JSON, or (a
    role CloudFormation created in moto) the document as Python wrote it."""
    if isinstance(raw, Mapping):
        return raw
    text = unquote(str(raw)) if str(raw).startswith("%7B") else str(raw)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = ast.literal_eval(text)
    return parsed if isinstance(parsed, Mapping) else {}


def _statements(
    stack: str, logical_id: str, role: str, policy: str, document: Mapping[str, Any]
) -> list[RoleStatement]:
    found = []
    statements = [s for s in _as_list(document.get("Statement", [])) if isinstance(s, Mapping)]
    for index, statement in enumerate(statements):
        actions = _as_list(statement.get("Action", statement.get("NotAction", [])))
        resources = _as_list(statement.get("Resource", statement.get("NotResource", [])))
        found.append(
            RoleStatement(
                stack=stack,
                logical_id=logical_id,
                role_name=role,
                policy_name=policy,
                index=index,
                sid=statement.get("Sid"),
                effect=str(statement.get("Effect", "")),
                actions=tuple(str(a) for a in actions),
                resources=tuple(str(r) for r in resources),
            )
        )
    return found


def deployed_statements(iam: Any, stacks: Mapping[str, DeployedStack]) -> list[RoleStatement]:
    """Every statement of every role the stacks created, as IAM holds it (``iam``: admin)."""
    found: list[RoleStatement] = []
    for stack_name, stack in sorted(stacks.items()):
        for logical_id, role in sorted(stack.physical_ids(ROLE).items()):
            for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
                document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
                found += _statements(stack_name, logical_id, role, policy, _document(document))
            attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
            for managed in attached:
                arn = managed["PolicyArn"]
                version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
                document = iam.get_policy_version(PolicyArn=arn, VersionId=version)[
                    "PolicyVersion"
                ]["Document"]
                found += _statements(stack_name, logical_id, role, arn, _document(document))
    return found


def allowing_statements(decisions: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, int], int]:
    """How many allowed decisions each statement made, by (role, policy, index)."""
    counts: dict[tuple[str, str, int], int] = {}
    for decision in decisions:
        statement = decision.get("statement")
        if not decision.get("allowed") or not isinstance(statement, Mapping):
            continue
        key = (str(statement["role_name"]), str(statement["policy_name"]), int(statement["index"]))
        counts[key] = counts.get(key, 0) + 1
    return counts


def unexercised(
    statements: Iterable[RoleStatement], decisions: Iterable[Mapping[str, Any]]
) -> list[RoleStatement]:
    """The Allow statements that allowed no decision of the run."""
    used = allowing_statements(decisions)
    return [s for s in statements if s.effect == "Allow" and s.key not in used]


def _covers(pattern: str, value: str) -> bool:
    """Whether an IAM pattern (``*``, ``?``) matches a value, or the two patterns can meet."""
    return fnmatch.fnmatchcase(value.lower(), pattern.lower()) or fnmatch.fnmatchcase(
        pattern.lower(), value.lower()
    )


def overlapping(statements: Iterable[RoleStatement]) -> list[tuple[RoleStatement, RoleStatement]]:
    """Pairs of Allow statements of one role that could allow the same action on one resource.

    Without such a pair every request is allowed by exactly one statement, so removing a
    statement denies every request it allowed: a statement that allowed some request of a run
    is needed by that run.
    """
    allows = [s for s in statements if s.effect == "Allow"]
    pairs = []
    for first, second in itertools.combinations(allows, 2):
        if first.role_name != second.role_name:
            continue
        actions = any(_covers(a, b) for a in first.actions for b in second.actions)
        resources = any(_covers(a, b) for a in first.resources for b in second.resources)
        if actions and resources:
            pairs.append((first, second))
    return pairs


def unused_actions(
    statements: Iterable[RoleStatement], decisions: Iterable[Mapping[str, Any]]
) -> dict[str, tuple[str, ...]]:
    """For each Allow statement that allowed something, the actions it lists that it never
    allowed (label -> actions): what the statement could drop for this run."""
    allowed: dict[tuple[str, str, int], set[str]] = {}
    for decision in decisions:
        statement = decision.get("statement")
        if not decision.get("allowed") or not isinstance(statement, Mapping):
            continue
        key = (str(statement["role_name"]), str(statement["policy_name"]), int(statement["index"]))
        allowed.setdefault(key, set()).add(str(decision.get("action", "")))
    unused = {}
    for s in statements:
        if s.effect != "Allow" or s.key not in allowed:
            continue
        idle = tuple(a for a in s.actions if not any(_covers(a, d) for d in allowed[s.key]))
        if idle:
            unused[s.label] = idle
    return unused
