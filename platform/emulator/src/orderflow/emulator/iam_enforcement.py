"""IAM authorization of every request moto serves, as AWS does it for the calls orderflow makes.

moto can check IAM (``INITIAL_NO_AUTH_ACTION_COUNT``) only by action: ``call_action`` passes
``"*"`` as the resource for most services and ``moto/iam/access_control.py`` leaves the
``Resource`` and ``Condition`` parts of a policy to a TODO, so a least-privilege role, whose
statements name resources, is denied everything. This extension authorizes instead, in front of
every action moto dispatches (``BaseResponse.call_action``, in server mode and under
``mock_aws`` alike), and at the two points where moto delivers between services internally.

**Who is who.** A request signed with the access key of an STS ``AssumeRole`` session (moto's
STS backend keeps them) is that session's principal,
``arn:aws:sts::<account>:assumed-role/<role>/<session>``, authorized by the role's policies. Any
other key (test credentials, tools, moto's own Step Functions interpreter) is an administrator:
allowed, and not recorded.

**Evaluation**, per the IAM User Guide, "Policy evaluation logic"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an
explicit ``Deny`` in any applicable policy wins; otherwise an ``Allow`` in an identity-based
policy (the role's inline policies and attached managed policies) or, within one account, in the
resource's policy (SQS queue policy, SNS topic policy) for this principal allows; a session
policy passed to AssumeRole limits the result ("Session policies"); anything else is an implicit
deny. ``Action``/``NotAction`` match case-insensitively with ``*``/``?`` wildcards,
``Resource``/``NotResource`` case-sensitively ("IAM JSON policy elements: Action, NotAction,
Resource, NotResource"). Conditions follow "IAM JSON policy elements: Condition operators" and
"Single-valued vs. multivalued context keys" (``ForAnyValue:``/``ForAllValues:``, ``...IfExists``,
``Null``; a missing key makes a positive operator false and a negated one true).

**The resource and context of each request** come from the request, as the Service Authorization
Reference page of each service names them (e.g. "Actions, resources, and condition keys for
Amazon SQS", "... for Amazon DynamoDB", "... for Amazon SES and Amazon Pinpoint Email"). DynamoDB
transactions are authorized per item (``dynamodb:PutItem`` etc. with
``dynamodb:EnclosingOperation``), as "Using IAM with DynamoDB transactions" describes; a DLQ
redrive needs ``sqs:ReceiveMessage``, ``sqs:DeleteMessage`` and ``sqs:GetQueueAttributes`` on the
DLQ and ``sqs:SendMessage`` on each source queue ("Configure queue permissions for dead-letter
queue redrive", SQS Developer Guide). What the evaluator cannot decide (an action it does not
resolve, a condition key or operator it does not know) is denied, with a reason saying so.

**Resource policies at service deliveries.** SNS delivers to an SQS queue only if the queue
policy allows ``sqs:SendMessage`` to ``sns.amazonaws.com`` with ``aws:SourceArn`` the topic
("Subscribing an Amazon SQS queue to an Amazon SNS topic", SNS Developer Guide); a delivery it
does not allow is dropped. A CloudWatch alarm action publishes to its SNS topic only if the
topic policy allows ``sns:Publish`` to ``cloudwatch.amazonaws.com`` ("Using Amazon CloudWatch
alarms", the SNS topic policy for alarm actions).

**Denials** reach the caller as the service's own error, serialized for the request's protocol:
``AccessDenied`` (SQS, CloudWatch, STS, IAM), ``AuthorizationError`` (SNS, its documented error,
HTTP 403), ``AccessDeniedException`` (DynamoDB, Step Functions, SSM, Secrets Manager, X-Ray, SES,
CloudWatch Logs, KMS, EventBridge), with AWS's message: ``User: <principal> is not authorized to
perform: <action> on resource: <resource> because no identity-based policy allows the <action>
action`` (or ``with an explicit deny in an identity-based policy``).

Deliberate deviations (documented in the README): signatures and session expiry are not
checked; ``aws:SecureTransport`` is ``true`` (the emulator's local HTTP endpoint stands in for
AWS's TLS endpoints); a role session's use of a topic's customer managed key is decided by
its identity policies only (key policies are evaluated for alarm actions), KMS for encrypted
queues is not evaluated; role trust policies are not evaluated at AssumeRole.
"""

from __future__ import annotations

import collections
import functools
import importlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse

from orderflow.emulator.extension import Extension, Patch

# --- the decision record ----------------------------------------------------------------------


@dataclass(frozen=True)
class StatementRef:
    """The statement that decided: its role (or service principal), policy, index and Sid.

    For a resource-policy decision ``role_name`` is the service principal
    (``sns.amazonaws.com``) or the role, and ``policy_name`` the queue or topic ARN.
    """

    role_name: str
    policy_name: str
    index: int
    sid: str | None


@dataclass(frozen=True)
class Decision:
    """One authorization of one (action, resource) of a non-administrator request."""

    principal: str
    role_name: str
    action: str
    resource: str
    allowed: bool
    reason: str
    statement: StatementRef | None


_MAX_DECISIONS = 100_000
_DECISIONS: collections.deque[Decision] = collections.deque(maxlen=_MAX_DECISIONS)
"""The latest ``_MAX_DECISIONS`` decisions: each new one past that drops the oldest, at a flat
cost (a list cut from its front moved every decision it kept, on every request)."""
_DECISIONS_LOCK = threading.Lock()
_STATE = {"enforce": True}


def decisions() -> list[Decision]:
    """Every decision recorded since install or the last ``clear_decisions()``, oldest first."""
    with _DECISIONS_LOCK:
        return list(_DECISIONS)


def clear_decisions() -> None:
    """Forget the recorded decisions."""
    with _DECISIONS_LOCK:
        _DECISIONS.clear()


def decisions_json(*, denied_only: bool = False) -> list[dict[str, Any]]:
    """The decisions as JSON-ready dicts (what ``GET /_orderflow/iam-decisions`` serves)."""
    return [asdict(d) for d in decisions() if not (denied_only and d.allowed)]


def _record(decision: Decision) -> None:
    with _DECISIONS_LOCK:
        _DECISIONS.append(decision)


def enforcing() -> bool:
    """Whether denials are enforced (``False``: recording only, every request proceeds)."""
    return _STATE["enforce"]


# --- policies and evaluation ------------------------------------------------------------------


class UndecidableError(Exception):
    """Something the evaluator cannot decide; the request is denied with this reason."""


@dataclass(frozen=True)
class NamedPolicy:
    """A policy document and who it belongs to (role or principal, policy name or ARN)."""

    owner: str
    name: str
    document: Mapping[str, Any]
    resource_based: bool = False


@dataclass
class Request:
    """What one authorization evaluates: principal, action, resource and context keys."""

    principal: str
    account: str
    action: str
    resource: str
    context: dict[str, list[str]] = field(default_factory=dict)
    known_keys: frozenset[str] = frozenset()
    role_arn: str | None = None
    service_principal: str | None = None

    def value(self, key: str) -> list[str] | None:
        """The context values of ``key`` (lower-cased), ``None`` when absent."""
        key = key.lower()
        if key in self.context:
            return self.context[key]
        if key in self.known_keys or key in _KNOWN_ABSENT_GLOBAL_KEYS:
            return None
        raise UndecidableError(f"the condition key {key} is not known to the emulator")


@dataclass(frozen=True)
class Outcome:
    """The verdict on one request: allowed, why, and the statement that decided."""

    allowed: bool
    reason: str
    statement: StatementRef | None
    message: str = ""


_KNOWN_ABSENT_GLOBAL_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:principalorgid",
        "aws:principaltag",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:viaawsservice",
        "aws:calledvia",
        "aws:resourceaccount",
    }
)
"""Global condition keys that are absent from every request the emulator authorizes unless it
sets them (``aws:SourceArn``/``aws:SourceAccount`` only at a service's own delivery)."""


@functools.lru_cache(maxsize=4096)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` any one character."""
    return _wildcard(pattern, ignore_case).match(value) is not None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "Action" in statement:
        return any(matches(str(p), action, ignore_case=True) for p in _as_list(statement["Action"]))
    if "NotAction" in statement:
        patterns = _as_list(statement["NotAction"])
        return not any(matches(str(p), action, ignore_case=True) for p in patterns)
    return False


def _resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "Resource" in statement:
        return any(matches(str(p), resource) for p in _as_list(statement["Resource"]))
    if "NotResource" in statement:
        return not any(matches(str(p), resource) for p in _as_list(statement["NotResource"]))
    return False


_ACCOUNT_ROOT = re.compile(r"^(arn:[^:]+:iam::)?(?P<account>\d{12})(:root)?$")


def _principal_grant(statement: Mapping[str, Any], request: Request) -> tuple[bool, bool]:
    """Whether a resource policy's statement names the request's principal: (applies, grants).

    Naming the account (``arn:aws:iam::<account>:root``) applies the statement to every
    principal of that account, but for an Allow it only delegates to their identity-based
    policies ("Policy evaluation logic": same-account access), so it grants nothing by itself.
    """
    if "NotPrincipal" in statement:
        raise UndecidableError("NotPrincipal in a resource-based policy is not evaluated")
    principal = statement.get("Principal")
    if principal == "*":
        return True, True
    if not isinstance(principal, Mapping):
        return False, False
    if request.service_principal is not None:
        services = [str(s) for s in _as_list(principal.get("Service"))]
        return request.service_principal in services, request.service_principal in services
    applies = grants = False
    for name in (str(p) for p in _as_list(principal.get("AWS"))):
        if name == "*":
            applies = grants = True
            continue
        root = _ACCOUNT_ROOT.match(name)
        if root is not None:
            applies = applies or root.group("account") == request.account
        elif name in (request.principal, request.role_arn):
            applies = grants = True
    return applies, grants


_OPERATOR = re.compile(
    r"^(?P<set>ForAnyValue:|ForAllValues:)?(?P<op>[A-Za-z]+?)(?P<ifexists>IfExists)?$"
)


def _compare(op: str, context_value: str, policy_value: str) -> bool:
    if op in ("StringEquals", "StringNotEquals"):
        return context_value == policy_value
    if op in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return context_value.lower() == policy_value.lower()
    if op in ("StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        return matches(policy_value, context_value)
    if op == "Bool":
        return context_value.lower() == policy_value.lower()
    raise UndecidableError(f"the condition operator {op} is not known to the emulator")


_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals",
            "ArnNotLike"}  # fmt: skip


def _condition_holds(  # noqa: PLR0911  (one return per documented case)
    operator: str, key: str, policy_values: list[str], request: Request
) -> bool:
    parsed = _OPERATOR.match(operator)
    if parsed is None:
        raise UndecidableError(f"the condition operator {operator} is not known to the emulator")
    set_op, op, if_exists = parsed.group("set"), parsed.group("op"), parsed.group("ifexists")
    values = request.value(key)
    if op == "Null":
        if set_op or if_exists:
            raise UndecidableError(
                f"the condition operator {operator} is not known to the emulator"
            )
        absent = not values
        return any(absent == (str(v).lower() == "true") for v in policy_values)
    negated = op in _NEGATED
    if set_op == "ForAllValues:":
        if not values:
            return True
        return all(
            (not any(_compare(op, v, p) for p in policy_values))
            if negated
            else any(_compare(op, v, p) for p in policy_values)
            for v in values
        )
    if not values:
        if if_exists:
            return True
        return negated and set_op is None
    if set_op == "ForAnyValue:":
        return any(
            (not any(_compare(op, v, p) for p in policy_values))
            if negated
            else any(_compare(op, v, p) for p in policy_values)
            for v in values
        )
    if negated:
        return not any(_compare(op, v, p) for v in values for p in policy_values)
    return any(_compare(op, v, p) for v in values for p in policy_values)


def _conditions_hold(statement: Mapping[str, Any], request: Request) -> bool:
    conditions = statement.get("Condition") or {}
    for operator, keys in conditions.items():
        for key, policy_values in keys.items():
            if not _condition_holds(
                operator, key, [str(v) for v in _as_list(policy_values)], request
            ):
                return False
    return True


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


@dataclass
class _Matches:
    denies: list[StatementRef] = field(default_factory=list)
    allows: list[StatementRef] = field(default_factory=list)
    resource_denies: list[StatementRef] = field(default_factory=list)
    undecided_denies: list[tuple[StatementRef, str]] = field(default_factory=list)
    undecided_allows: list[tuple[StatementRef, str]] = field(default_factory=list)


def _collect(policies: Iterable[NamedPolicy], request: Request) -> _Matches:
    found = _Matches()
    for policy in policies:
        for index, statement in enumerate(_statements(policy.document)):
            ref = StatementRef(policy.owner, policy.name, index, statement.get("Sid"))
            deny = str(statement.get("Effect", "")) == "Deny"
            try:
                if not _action_matches(statement, request.action):
                    continue
                if not _resource_matches(statement, request.resource):
                    continue
                grants = True
                if policy.resource_based:
                    applies, grants = _principal_grant(statement, request)
                    if not applies:
                        continue
                if not _conditions_hold(statement, request):
                    continue
            except UndecidableError as undecided:
                (found.undecided_denies if deny else found.undecided_allows).append(
                    (ref, str(undecided))
                )
                continue
            if deny:
                (found.resource_denies if policy.resource_based else found.denies).append(ref)
            elif grants:
                found.allows.append(ref)
    return found


def _message(request: Request, because: str) -> str:
    return (
        f"User: {request.principal} is not authorized to perform: {request.action} "
        f"on resource: {request.resource} {because}"
    )


def evaluate(  # noqa: PLR0911  (one return per step of the evaluation logic)
    request: Request,
    policies: Sequence[NamedPolicy],
    session_policy: NamedPolicy | None = None,
) -> Outcome:
    """Decide one request against identity-based and resource-based policies (AWS's order)."""
    found = _collect(policies, request)
    if found.denies or found.resource_denies:
        kind = "an identity-based" if found.denies else "a resource-based"
        ref = (found.denies or found.resource_denies)[0]
        reason = f"explicit deny in {kind} policy"
        because = f"with an explicit deny in {kind} policy"
        return Outcome(False, reason, ref, _message(request, because))
    if found.undecided_denies:
        ref, why = found.undecided_denies[0]
        reason = f"the emulator could not decide a Deny statement: {why}"
        return Outcome(False, reason, ref, _message(request, f"because {reason}"))
    if found.allows:
        ref = found.allows[0]
        if session_policy is not None:
            limited = _collect([session_policy], request)
            if not limited.allows or limited.denies:
                reason = "no session policy allows the action"
                because = f"because no session policy allows the {request.action} action"
                return Outcome(False, reason, ref, _message(request, because))
        return Outcome(True, "allowed", ref)
    if found.undecided_allows:
        ref, why = found.undecided_allows[0]
        reason = f"the emulator could not decide an Allow statement: {why}"
        return Outcome(False, reason, ref, _message(request, f"because {reason}"))
    if request.service_principal is not None:
        reason = "no resource-based policy allows the action"
        because = f"because no resource-based policy allows the {request.action} action"
        return Outcome(False, reason, None, _message(request, because))
    reason = "no identity-based policy allows the action"
    because = f"because no identity-based policy allows the {request.action} action"
    return Outcome(False, reason, None, _message(request, because))


# --- who is calling ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """An STS AssumeRole session: the principal and the role whose policies apply."""

    principal: str
    account: str
    partition: str
    role_arn: str
    role_name: str
    session_policy: str | None


def session_for_access_key(access_key: str, account: str, partition: str) -> Session | None:
    """The AssumeRole session an access key belongs to, or ``None`` (an administrator)."""
    from moto.sts.models import sts_backends  # noqa: PLC0415

    if not access_key:
        return None
    for assumed in list(sts_backends[account][partition].assumed_roles):
        if assumed.access_key_id == access_key:
            role_name = str(assumed.role_arn).split("/")[-1]
            return Session(
                principal=str(assumed.arn),
                account=account,
                partition=partition,
                role_arn=str(assumed.role_arn),
                role_name=role_name,
                session_policy=assumed.policy or None,
            )
    return None


def role_policies(session: Session) -> list[NamedPolicy]:
    """The role's inline policies and attached managed policies (default versions)."""
    from moto.iam.models import iam_backends  # noqa: PLC0415

    backend = iam_backends[session.account][session.partition]
    try:
        role = backend.get_role_by_arn(session.role_arn)
    except Exception:  # noqa: BLE001  (moto raises its own NotFound)
        try:
            role = backend.get_role(session.role_name)
        except Exception as missing:
            raise UndecidableError(f"the role {session.role_arn} does not exist") from missing
    policies = [
        NamedPolicy(session.role_name, name, _document(text))
        for name, text in list(role.policies.items())
    ]
    for arn, managed in list(role.managed_policies.items()):
        version = next((v for v in managed.versions if v.is_default), None)
        if version is not None:
            policies.append(NamedPolicy(session.role_name, str(arn), _document(version.document)))
    return policies


def _document(text: Any) -> Mapping[str, Any]:
    if isinstance(text, Mapping):
        return text
    if isinstance(text, str):
        return _parsed_document(text)
    return _parse_document(text)


@functools.lru_cache(maxsize=1024)
def _parsed_document(text: str) -> Mapping[str, Any]:
    """A policy text parsed once: every request reads its role's and its resource's policies
    again, and a policy changes only by getting a new text (the evaluation never mutates it)."""
    return _parse_document(text)


def _parse_document(text: Any) -> Mapping[str, Any]:
    try:
        parsed = json.loads(text) if text else {}
    except ValueError as bad:
        raise UndecidableError("a policy document is not JSON") from bad
    return parsed if isinstance(parsed, Mapping) else {}


# --- what the request is ----------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One (action, resource) a request needs, with the context keys it carries."""

    action: str
    resource: str
    context: Mapping[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Call:
    service: str
    operation: str
    account: str
    region: str
    partition: str
    params: Mapping[str, Any]

    def arn(self, service: str, resource: str, *, region: str | None = None) -> str:
        area = self.region if region is None else region
        return f"arn:{self.partition}:{service}:{area}:{self.account}:{resource}"

    def param(self, name: str) -> Any:
        return self.params.get(name)

    def required(self, name: str) -> Any:
        value = self.params.get(name)
        if value in (None, ""):
            raise UndecidableError(f"{self.service} {self.operation} without {name}")
        return value


def request_params(response: Any) -> Mapping[str, Any]:
    """The request's parameters: a JSON body, or the query/form parameters (first values)."""
    body = getattr(response, "body", None)
    if isinstance(body, Mapping):
        return body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body.lstrip().startswith("{"):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, Mapping):
            return parsed
    params = getattr(response, "params", None)
    if isinstance(params, Mapping) and params:
        return params
    query = getattr(response, "querystring", None) or {}
    return {k: (v[0] if isinstance(v, list) and v else v) for k, v in query.items()}


def _queue_arn_from_url(call: _Call, url: str) -> str:
    parts = [p for p in urlparse(str(url)).path.split("/") if p]
    if len(parts) < 2:
        raise UndecidableError(f"cannot resolve a queue ARN from QueueUrl {url!r}")
    return f"arn:{call.partition}:sqs:{call.region}:{parts[-2]}:{parts[-1]}"


def _sqs(call: _Call) -> list[Check]:
    op = call.operation
    single = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
              "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}  # fmt: skip
    if op == "ListQueues":
        return [Check("sqs:ListQueues", "*")]
    if op in ("GetQueueUrl", "CreateQueue"):
        owner = call.param("QueueOwnerAWSAccountId") or call.account
        name = call.required("QueueName")
        return [Check(f"sqs:{op}", f"arn:{call.partition}:sqs:{call.region}:{owner}:{name}")]
    if op == "ListMessageMoveTasks":
        return [Check("sqs:ListMessageMoveTasks", str(call.required("SourceArn")))]
    if op == "StartMessageMoveTask":
        source = str(call.required("SourceArn"))
        checks = [Check("sqs:StartMessageMoveTask", source)]
        checks += [Check(f"sqs:{a}", source) for a in ("ReceiveMessage", "DeleteMessage",
                                                       "GetQueueAttributes")]  # fmt: skip
        destination = call.param("DestinationArn")
        targets = [str(destination)] if destination else _dead_letter_sources(source)
        checks += [Check("sqs:SendMessage", target) for target in targets]
        return checks
    if op == "CancelMessageMoveTask":
        raise UndecidableError("sqs CancelMessageMoveTask: the task handle's queue is not resolved")
    url = call.required("QueueUrl")
    return [Check(f"sqs:{single.get(op, op)}", _queue_arn_from_url(call, str(url)))]


def _dead_letter_sources(dlq_arn: str) -> list[str]:
    """The queues whose redrive policy sends to ``dlq_arn`` (a redrive's default destinations)."""
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    parts = dlq_arn.split(":")
    if len(parts) < 6:
        raise UndecidableError(f"cannot resolve the queue {dlq_arn!r}")
    backend = sqs_backends[parts[4]][parts[3]]
    sources = []
    for queue in list(backend.queues.values()):
        policy = getattr(queue, "redrive_policy", None)
        if isinstance(policy, Mapping) and policy.get("deadLetterTargetArn") == dlq_arn:
            sources.append(str(queue.queue_arn))
    if not sources:
        raise UndecidableError(
            f"no queue dead-letters to {dlq_arn}: the redrive destination is unknown"
        )
    return sources


def _sns(call: _Call) -> list[Check]:
    op = call.operation
    if op in ("Publish", "PublishBatch"):
        target = call.param("TopicArn") or call.param("TargetArn")
        if not target:
            raise UndecidableError("sns Publish to a phone number is not resolved")
        # "PublishBatch ... requires the same sns:Publish permission" (SNS API reference).
        return [Check("sns:Publish", str(target)), *_topic_key_checks(call, str(target))]
    if op in ("ListTopics", "CreateTopic", "ListSubscriptions"):
        if op == "CreateTopic":
            return [Check("sns:CreateTopic", call.arn("sns", str(call.required("Name"))))]
        return [Check(f"sns:{op}", "*")]
    target = call.param("TopicArn") or call.param("ResourceArn")
    if target:
        return [Check(f"sns:{op}", str(target))]
    subscription = call.param("SubscriptionArn")
    if subscription:
        return [Check(f"sns:{op}", str(subscription).rsplit(":", 1)[0])]
    raise UndecidableError(f"sns {op}: the topic is not resolved")


def _topic_key_checks(call: _Call, topic_arn: str) -> list[Check]:
    """A publisher to a topic encrypted with a customer managed key also needs
    ``kms:GenerateDataKey`` and ``kms:Decrypt`` on that key ("Managing Amazon SNS encryption
    keys": permissions for publishers); the AWS managed ``alias/aws/sns`` key needs none."""
    from moto.sns.models import sns_backends  # noqa: PLC0415

    parts = topic_arn.split(":")
    if len(parts) < 6:
        return []
    topic = sns_backends[parts[4]][parts[3]].topics.get(topic_arn)
    key = str(getattr(topic, "kms_master_key_id", "") or "")
    if not key or key.startswith("alias/aws/") or ":alias/aws/" in key:
        return []
    key_arn = _kms_key_arn(call, key, region=parts[3], account=parts[4])
    if key_arn is None:
        return []
    return [Check("kms:GenerateDataKey", key_arn), Check("kms:Decrypt", key_arn)]


def _kms_key_arn(
    call: _Call, key: str, *, region: str | None = None, account: str | None = None
) -> str | None:
    """The ARN of a customer managed key from any of its ids; ``None`` for an AWS managed key."""
    from moto.kms.models import kms_backends  # noqa: PLC0415

    backend = kms_backends[account or call.account][region or call.region]
    try:
        found = backend.describe_key(key)
    except Exception as unknown:
        raise UndecidableError(f"the KMS key {key!r} is not known") from unknown
    if str(getattr(found, "key_manager", "CUSTOMER")) == "AWS":
        return None
    return str(found.arn)


def _table_arn(call: _Call, name: str) -> str:
    return name if name.startswith("arn:") else call.arn("dynamodb", f"table/{name}")


_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}  # fmt: skip


def _dynamodb(call: _Call) -> list[Check]:
    op = call.operation
    if op in ("TransactWriteItems", "TransactGetItems"):
        checks = []
        for item in _as_list(call.required("TransactItems")):
            for kind, body in dict(item).items():
                action = _TRANSACT_ACTIONS.get(kind)
                if action is None:
                    raise UndecidableError(f"dynamodb {op} item {kind!r} is not known")
                checks.append(
                    Check(
                        f"dynamodb:{action}",
                        _table_arn(call, str(body["TableName"])),
                        {"dynamodb:enclosingoperation": [op]},
                    )
                )
        unique = {(c.action, c.resource): c for c in checks}
        return list(unique.values())
    if op in ("BatchGetItem", "BatchWriteItem"):
        tables = dict(call.required("RequestItems"))
        return [Check(f"dynamodb:{op}", _table_arn(call, str(t))) for t in tables]
    if op in ("ListTables", "DescribeLimits", "DescribeEndpoints"):
        return [Check(f"dynamodb:{op}", "*")]
    name = call.param("TableName") or call.param("TableArn") or call.param("ResourceArn")
    if not name:
        raise UndecidableError(f"dynamodb {op}: the table is not resolved")
    arn = _table_arn(call, str(name))
    index = call.param("IndexName")
    if index and op in ("Query", "Scan"):
        arn = f"{arn}/index/{index}"
    return [Check(f"dynamodb:{op}", arn)]


_ADDRESS = re.compile(r"<([^>]+)>\s*$")


def _address(value: str) -> str:
    found = _ADDRESS.search(value)
    return (found.group(1) if found else value).strip()


def _ses_identity(call: _Call, address: str) -> str:
    """The identity SES sends as: the address if it is a verified identity, else its domain."""
    from moto.ses.models import ses_backends  # noqa: PLC0415

    backend = ses_backends[call.account][call.region]
    identities = {str(i).lower() for i in getattr(backend, "email_identities", {})}
    identities |= {str(a).lower() for a in getattr(backend, "addresses", [])}
    identities |= {str(d).lower() for d in getattr(backend, "domains", [])}
    domain = address.rsplit("@", 1)[-1]
    verified = address.lower() in identities or domain.lower() not in identities
    chosen = address if verified else domain
    return call.arn("ses", f"identity/{chosen}")


def _ses(call: _Call) -> list[Check]:  # noqa: PLR0912  (v1 and v2 request shapes)
    op = call.operation
    if op not in ("SendEmail", "SendTemplatedEmail", "SendRawEmail", "SendBulkEmail"):
        raise UndecidableError(f"ses {op} is not resolved by the emulator")
    v2 = call.service == "sesv2"
    source = call.param("FromEmailAddress") if v2 else call.param("Source")
    if not source:
        raise UndecidableError(f"ses {op} without a From address")
    address = _address(str(source))
    destination = call.param("Destination") or {}
    recipients: list[str] = []
    if isinstance(destination, Mapping):
        for key in ("ToAddresses", "CcAddresses", "BccAddresses"):
            recipients += [_address(str(a)).lower() for a in _as_list(destination.get(key))]
    else:  # the query protocol flattens Destination.ToAddresses.member.N
        for key, value in call.params.items():
            if key.startswith("Destination.") and ".member." in key:
                recipients.append(_address(str(value)).lower())
    context = {
        "ses:fromaddress": [address],
        "ses:recipients": recipients,
        "ses:apiversion": ["2" if v2 else "1"],
    }
    display = _ADDRESS.search(str(source))
    if display:
        context["ses:fromdisplayname"] = [str(source)[: display.start()].strip().strip('"')]
    resources = [_ses_identity(call, address)]
    template = None
    if v2:
        content = call.param("Content") or {}
        spec = content.get("Template") if isinstance(content, Mapping) else None
        if isinstance(spec, Mapping):
            template = spec.get("TemplateArn") or spec.get("TemplateName")
    elif op == "SendTemplatedEmail":
        template = call.param("TemplateArn") or call.param("Template")
    if template:
        text = str(template)
        resources.append(text if text.startswith("arn:") else call.arn("ses", f"template/{text}"))
    configuration_set = call.param("ConfigurationSetName")
    if configuration_set:
        resources.append(call.arn("ses", f"configuration-set/{configuration_set}"))
    return [Check(f"ses:{'SendEmail' if v2 else op}", r, context) for r in resources]


def _ssm(call: _Call) -> list[Check]:
    def arn(name: str) -> str:
        return name if name.startswith("arn:") else call.arn("ssm", f"parameter/{name.lstrip('/')}")

    if call.operation == "GetParameters":
        return [Check("ssm:GetParameters", arn(str(n))) for n in _as_list(call.required("Names"))]
    if call.operation == "GetParametersByPath":
        return [Check("ssm:GetParametersByPath", arn(str(call.required("Path"))))]
    if call.operation == "DescribeParameters":
        return [Check("ssm:DescribeParameters", "*")]
    return [Check(f"ssm:{call.operation}", arn(str(call.required("Name"))))]


def _secretsmanager(call: _Call) -> list[Check]:
    from moto.secretsmanager.models import secretsmanager_backends  # noqa: PLC0415

    if call.operation in ("ListSecrets", "GetRandomPassword", "BatchGetSecretValue"):
        return [Check(f"secretsmanager:{call.operation}", "*")]
    secret_id = str(call.required("SecretId"))
    arn = secret_id
    if not secret_id.startswith("arn:"):
        secret = secretsmanager_backends[call.account][call.region].secrets.get(secret_id)
        unknown = call.arn("secretsmanager", f"secret:{secret_id}")
        arn = str(secret.arn) if secret is not None else unknown
    return [Check(f"secretsmanager:{call.operation}", arn)]


def _logs(call: _Call) -> list[Check]:
    group = call.param("logGroupName")
    if not group:
        if call.operation in ("DescribeLogGroups",):
            return [Check("logs:DescribeLogGroups", "*")]
        raise UndecidableError(f"logs {call.operation}: the log group is not resolved")
    arn = call.arn("logs", f"log-group:{group}")
    stream = call.param("logStreamName")
    if stream and call.operation in ("CreateLogStream", "PutLogEvents", "GetLogEvents"):
        # Authorized against the stream ("log-group:<g>:log-stream:<s>"), which a statement
        # on the log group's ARN as CloudFormation returns it ("log-group:<g>:*") covers.
        arn = f"{arn}:log-stream:{stream}"
    return [Check(f"logs:{call.operation}", arn)]


def _states(call: _Call) -> list[Check]:
    op = call.operation
    if op in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "ListStateMachines",
              "ListActivities", "CreateStateMachine"):  # fmt: skip
        return [Check(f"states:{op}", "*")]
    arn = call.param("executionArn") or call.param("stateMachineArn") or call.param("resourceArn")
    if not arn:
        raise UndecidableError(f"states {op}: the state machine or execution is not resolved")
    return [Check(f"states:{op}", str(arn))]


def _cloudwatch(call: _Call) -> list[Check]:
    op = call.operation
    names = _as_list(call.param("AlarmNames"))
    if names and op in (
        "DescribeAlarms",
        "DeleteAlarms",
        "EnableAlarmActions",
        "DisableAlarmActions",
    ):
        return [Check(f"cloudwatch:{op}", call.arn("cloudwatch", f"alarm:{n}")) for n in names]
    name = call.param("AlarmName")
    if name and op in ("PutMetricAlarm", "SetAlarmState", "DescribeAlarmHistory"):
        return [Check(f"cloudwatch:{op}", call.arn("cloudwatch", f"alarm:{name}"))]
    # PutMetricData, GetMetricData, ListMetrics, ... have no resource types ("*").
    return [Check(f"cloudwatch:{op}", "*")]


def _kms(call: _Call) -> list[Check]:
    key = call.param("KeyId")
    if not key:
        return [Check(f"kms:{call.operation}", "*")]
    arn = _kms_key_arn(call, str(key))
    if arn is None:  # an AWS managed key: its key policy decides, which is not evaluated
        raise UndecidableError(f"kms {call.operation} on the AWS managed key {key}")
    return [Check(f"kms:{call.operation}", arn)]


def _events(call: _Call) -> list[Check]:
    if call.operation == "PutEvents":
        buses = {str(e.get("EventBusName") or "default") for e in _as_list(call.param("Entries"))}
        return [
            Check(
                "events:PutEvents",
                bus if bus.startswith("arn:") else call.arn("events", f"event-bus/{bus}"),
            )
            for bus in sorted(buses) or ["default"]
        ]
    rule = call.param("Rule") or call.param("Name")
    if rule:
        return [Check(f"events:{call.operation}", call.arn("events", f"rule/{rule}"))]
    raise UndecidableError(f"events {call.operation}: the resource is not resolved")


def _sts(call: _Call) -> list[Check]:
    if call.operation == "AssumeRole":
        return [Check("sts:AssumeRole", str(call.required("RoleArn")))]
    raise UndecidableError(f"sts {call.operation} is not resolved by the emulator")


def _xray(call: _Call) -> list[Check]:
    # X-Ray actions have no resource-level permissions but groups and sampling rules.
    return [Check(f"xray:{call.operation}", "*")]


_RESOLVERS: dict[str, Callable[[_Call], list[Check]]] = {
    "sqs": _sqs,
    "sns": _sns,
    "dynamodb": _dynamodb,
    "ses": _ses,
    "sesv2": _ses,
    "ssm": _ssm,
    "secretsmanager": _secretsmanager,
    "logs": _logs,
    "stepfunctions": _states,
    "cloudwatch": _cloudwatch,
    "kms": _kms,
    "events": _events,
    "sts": _sts,
    "xray": _xray,
}
"""The services whose resources the emulator resolves, by moto package."""

_PREFIX = {"sesv2": "ses", "stepfunctions": "states"}

_NO_AUTHORIZATION = {("sts", "GetCallerIdentity")}
"""Calls AWS answers without any permission ("GetCallerIdentity", STS API reference)."""

_KNOWN_SERVICE_KEYS = {
    "dynamodb": frozenset({"dynamodb:enclosingoperation"}),
    "ses": frozenset(
        {"ses:fromaddress", "ses:recipients", "ses:apiversion", "ses:fromdisplayname"}
    ),
}

_GLOBAL_KEYS = frozenset(
    {
        "aws:principalarn",
        "aws:principalaccount",
        "aws:securetransport",
        "aws:requestedregion",
        "aws:principaltype",
    }
)


def service_of(response: Any) -> str:
    """The moto package that serves the response (``sqs``, ``dynamodb``, ``sesv2``, ...)."""
    module = type(response).__module__.split(".")
    return module[1] if len(module) > 2 and module[0] == "moto" else module[-1]


def operation_of(response: Any) -> str:
    """The API operation of the request, as the service's model names it.

    moto names some REST operations by their path (X-Ray's ``/TraceSegments`` for
    PutTraceSegments); those are matched against the service model's routes instead.
    """
    from moto.core.utils import get_service_model  # noqa: PLC0415

    operation = str(response._get_action() or "")
    try:
        model = get_service_model(response.boto3_service_name)
        if operation in model.operation_names:
            return operation
        routed = response._get_action_from_method_and_request_uri(response.normalized_request)
    except Exception:  # noqa: BLE001  (no model or route: moto's own name stands)
        return operation
    return str(routed) if routed else operation


def checks_for(response: Any) -> tuple[str, list[Check]]:
    """The IAM action prefix of the request and every (action, resource) it needs."""
    service = service_of(response)
    operation = operation_of(response)
    prefix = _PREFIX.get(service, service)
    resolver = _RESOLVERS.get(service)
    call = _Call(
        service=service,
        operation=operation,
        account=str(response.current_account),
        region=str(response.region),
        partition=str(getattr(response, "partition", "aws")),
        params=request_params(response),
    )
    if resolver is None:
        raise UndecidableError(f"the emulator does not resolve the resources of {service} requests")
    if not operation:
        raise UndecidableError(f"the {service} operation is not known")
    try:
        return prefix, resolver(call)
    except UndecidableError:
        raise
    except Exception as failure:  # a request shape the resolver does not know: never allowed
        raise UndecidableError(f"{service} {operation}: {failure!r}") from failure


def _request(session: Session, check: Check, region: str) -> Request:
    context = {
        "aws:principalarn": [session.role_arn],
        "aws:principalaccount": [session.account],
        "aws:principaltype": ["AssumedRole"],
        "aws:securetransport": ["true"],
        "aws:requestedregion": [region],
        **{k.lower(): list(v) for k, v in check.context.items()},
    }
    service = check.action.split(":", 1)[0]
    known = _GLOBAL_KEYS | _KNOWN_SERVICE_KEYS.get(service, frozenset())
    return Request(
        principal=session.principal,
        account=session.account,
        action=check.action,
        resource=check.resource,
        context=context,
        known_keys=known,
        role_arn=session.role_arn,
    )


def resource_policies(check: Check) -> list[NamedPolicy]:
    """The queue or topic policy of the resource, where SQS or SNS applies one."""
    parts = check.resource.split(":")
    if len(parts) < 6 or "*" in check.resource:
        return []
    service, region, account, name = parts[2], parts[3], parts[4], parts[5]
    text: Any = None
    if service == "sqs" and check.action.lower().startswith("sqs:"):
        from moto.sqs.models import sqs_backends  # noqa: PLC0415

        queue = sqs_backends[account][region].queues.get(name)
        text = queue.policy if queue is not None else None
    elif service == "sns" and check.action.lower().startswith("sns:"):
        from moto.sns.models import sns_backends  # noqa: PLC0415

        topic = sns_backends[account][region].topics.get(check.resource)
        text = topic.policy if topic is not None else None
    if not text:
        return []
    return [NamedPolicy("", check.resource, _document(text), resource_based=True)]


def authorize_session(session: Session, checks: Sequence[Check], region: str) -> Outcome | None:
    """Authorize every check for a session; record each; the first denial, if any."""
    denial = None
    for check in checks:
        request = _request(session, check, region)
        try:
            policies = role_policies(session) + [
                NamedPolicy(session.role_name, p.name, p.document, resource_based=True)
                for p in resource_policies(check)
            ]
            session_policy = (
                NamedPolicy(session.role_name, "session-policy", _document(session.session_policy))
                if session.session_policy
                else None
            )
            outcome = evaluate(request, policies, session_policy)
        except UndecidableError as undecided:
            reason = f"the emulator could not decide: {undecided}"
            outcome = Outcome(False, reason, None, _message(request, f"because {reason}"))
        _record(
            Decision(
                session.principal,
                session.role_name,
                check.action,
                check.resource,
                outcome.allowed,
                outcome.reason,
                outcome.statement,
            )
        )
        if not outcome.allowed and denial is None:
            denial = outcome
    return denial


def authorize_service(
    service_principal: str,
    action: str,
    resource: str,
    source_arn: str,
    policy: NamedPolicy | None,
) -> Outcome:
    """Authorize a service principal's delivery against the resource's policy; record it."""
    account = source_arn.split(":")[4] if source_arn.count(":") >= 5 else ""
    request = Request(
        principal=service_principal,
        account=resource.split(":")[4] if resource.count(":") >= 5 else "",
        action=action,
        resource=resource,
        context={
            "aws:sourcearn": [source_arn],
            "aws:sourceaccount": [account],
            "aws:securetransport": ["true"],
        },
        known_keys=_GLOBAL_KEYS,
        service_principal=service_principal,
    )
    try:
        outcome = evaluate(request, [policy] if policy is not None else [])
    except UndecidableError as undecided:
        reason = f"the emulator could not decide: {undecided}"
        outcome = Outcome(False, reason, None, _message(request, f"because {reason}"))
    _record(
        Decision(
            service_principal,
            service_principal,
            action,
            resource,
            outcome.allowed,
            outcome.reason,
            outcome.statement,
        )
    )
    return outcome


# --- denials as AWS answers them --------------------------------------------------------------

_ERROR_CODES = {
    "sqs": "AccessDenied",
    "sns": "AuthorizationError",
    "cloudwatch": "AccessDenied",
    "sts": "AccessDenied",
    "iam": "AccessDenied",
}
"""Each service's access-denied error code; every other service answers AccessDeniedException."""


def _error(response: Any, service: str, message: str) -> Any:
    from moto.core.exceptions import ServiceException  # noqa: PLC0415
    from moto.core.responses import ActionResult  # noqa: PLC0415

    code = _ERROR_CODES.get(service, "AccessDeniedException")
    try:
        return response.serialized(ActionResult(ServiceException(code, message)))
    except Exception:  # noqa: BLE001  (a response class without a service model)
        status = 403 if service == "sns" else 400
        content_type = str(response.headers.get("Content-Type", ""))
        if "json" in content_type or service not in _ERROR_CODES:
            body = json.dumps({"__type": code, "message": message})
            return status, {"Content-Type": "application/x-amz-json-1.1"}, body
        body = (
            '<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{_xml_escape(message)}</Message></Error>"
            "<RequestId>0</RequestId></ErrorResponse>"
        )
        return status, {"Content-Type": "text/xml"}, body


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- where moto is hooked ---------------------------------------------------------------------


def _authorizing(call_action: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(call_action)
    def authorized_call_action(response: Any) -> Any:
        access_key = str(getattr(response, "access_key", "") or "")
        partition = str(getattr(response, "partition", "aws"))
        session = session_for_access_key(access_key, str(response.current_account), partition)
        if session is None:
            return call_action(response)
        service = service_of(response)
        if (service, operation_of(response)) in _NO_AUTHORIZATION:
            return call_action(response)
        try:
            prefix, checks = checks_for(response)
        except UndecidableError as undecided:
            prefix = _PREFIX.get(service, service)
            action = f"{prefix}:{operation_of(response)}"
            request = Request(session.principal, session.account, action, "*")
            reason = f"the emulator could not decide: {undecided}"
            denial: Outcome | None = Outcome(
                False, reason, None, _message(request, f"because {reason}")
            )
            denied = Decision(
                session.principal, session.role_name, action, "*", False, reason, None
            )
            _record(denied)
        else:
            denial = authorize_session(session, checks, str(response.region))
        if denial is not None and enforcing():
            return _error(response, service, denial.message)
        return call_action(response)

    return authorized_call_action


def _resource_policy(principal: str, arn: str, text: Any) -> NamedPolicy | None:
    return NamedPolicy(principal, arn, _document(text), resource_based=True) if text else None


def _delivering_to_queues(publish: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(publish)
    def subscription_publish(subscription: Any, *args: Any, **kwargs: Any) -> Any:
        if subscription.protocol != "sqs":
            return publish(subscription, *args, **kwargs)
        from moto.sqs.models import sqs_backends  # noqa: PLC0415

        queue_arn = str(subscription.endpoint)
        parts = queue_arn.split(":")
        queue = sqs_backends[parts[4]][parts[3]].queues.get(parts[5]) if len(parts) > 5 else None
        text = queue.policy if queue is not None else None
        policy = _resource_policy("sns.amazonaws.com", queue_arn, text)
        outcome = authorize_service(
            "sns.amazonaws.com", "sqs:SendMessage", queue_arn, str(subscription.topic.arn), policy
        )
        if not outcome.allowed and enforcing():
            return None  # SNS drops a delivery the queue policy does not allow
        return publish(subscription, *args, **kwargs)

    return subscription_publish


def _topic_key_policies(topic: Any) -> list[tuple[str, str, NamedPolicy | None]]:
    """For a topic with a customer managed key: the KMS actions a service principal that
    publishes needs, on the key, and the key policy that must allow them ("Enable compatibility
    between event sources from AWS services and encrypted topics", SNS Developer Guide)."""
    from moto.kms.models import kms_backends  # noqa: PLC0415

    key = str(getattr(topic, "kms_master_key_id", "") or "")
    if topic is None or not key or key.startswith("alias/aws/") or ":alias/aws/" in key:
        return []
    parts = str(topic.arn).split(":")
    try:
        found = kms_backends[parts[4]][parts[3]].describe_key(key)
    except Exception:  # noqa: BLE001  (an unknown key: SNS cannot encrypt, nothing is sent)
        missing = f"arn:aws:kms:{parts[3]}:{parts[4]}:key/{key}"
        return [("kms:GenerateDataKey", missing, None)]
    if str(getattr(found, "key_manager", "CUSTOMER")) == "AWS":
        return []
    arn = str(found.arn)
    policy = _resource_policy("cloudwatch.amazonaws.com", arn, getattr(found, "policy", None))
    return [("kms:GenerateDataKey", arn, policy), ("kms:Decrypt", arn, policy)]


def _authorizing_alarm_actions(publish_action: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(publish_action)
    def alarm_publish(alarm: Any, action: str, *args: Any, **kwargs: Any) -> Any:
        from moto.sns.models import sns_backends  # noqa: PLC0415

        parts = str(action).split(":")
        topic = sns_backends[parts[4]][parts[3]].topics.get(action) if len(parts) > 5 else None
        text = topic.policy if topic is not None else None
        policy = _resource_policy("cloudwatch.amazonaws.com", str(action), text)
        source = str(alarm.alarm_arn)
        outcomes = [
            authorize_service(
                "cloudwatch.amazonaws.com", "sns:Publish", str(action), source, policy
            )
        ]
        outcomes += [
            authorize_service("cloudwatch.amazonaws.com", kms_action, key_arn, source, key_policy)
            for kms_action, key_arn, key_policy in _topic_key_policies(topic)
        ]
        if not all(o.allowed for o in outcomes) and enforcing():
            return None  # the action fails; CloudWatch records it in the alarm history only
        return publish_action(alarm, action, *args, **kwargs)

    return alarm_publish


_SFN_CLIENT_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sqs",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_dynamodb",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_events",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_unsupported",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
)
"""The interpreter modules that build an SDK client per task (``boto_client_for``)."""

_ROLE_SESSIONS: dict[str, Any] = {}
_ROLE_SESSIONS_LOCK = threading.Lock()
EXECUTION_SESSION_NAME = "states-execution"
EVENTBRIDGE_SESSION_NAME = "eventbridge-target"


def role_session(role_arn: str, region: str, session_name: str) -> Any:
    """An STS session of ``role_arn`` in moto's STS backend, as a service assumes it (reused
    while moto keeps it; trust policies are not evaluated)."""
    from moto.sts.models import sts_backends  # noqa: PLC0415
    from moto.utilities.utils import get_partition  # noqa: PLC0415

    parts = role_arn.split(":")
    account = parts[4] if len(parts) > 4 else ""
    backend = sts_backends[account][get_partition(region)]
    key = f"{role_arn}|{session_name}"
    with _ROLE_SESSIONS_LOCK:
        known = _ROLE_SESSIONS.get(key)
        if known is not None and any(a is known for a in list(backend.assumed_roles)):
            return known
        assumed = backend.assume_role(
            region_name=region,
            role_session_name=session_name,
            role_arn=role_arn,
            policy="",
            duration=3600,
            external_id="",
        )
        _ROLE_SESSIONS[key] = assumed
        return assumed


def role_client(
    role_arn: str, region: str, service: str, session_name: str = EXECUTION_SESSION_NAME
) -> Any:
    """A client of this emulator signing with a session of ``role_arn``: how a service calls
    AWS as a role (in server mode over HTTP to this server, under ``mock_aws`` in-process)."""
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415
    from moto.core.models import botocore_stubber  # noqa: PLC0415
    from moto.settings import moto_server_port  # noqa: PLC0415

    assumed = role_session(role_arn, region, session_name)
    endpoint = None if botocore_stubber.enabled else f"http://localhost:{moto_server_port()}"
    return boto3.client(  # type: ignore[call-overload]
        service_name=service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=assumed.access_key_id,
        aws_secret_access_key=assumed.secret_access_key,
        aws_session_token=assumed.session_token,
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0, "total_max_attempts": 1},
            connect_timeout=60,
            read_timeout=60,
        ),
    )


def _as_execution_role(boto_client_for: Callable[..., Any]) -> Callable[..., Any]:
    """moto's interpreter client factory, signing with a session of the execution's role.

    Step Functions calls the task's service with the credentials of the state machine's role
    (or the state's ``Credentials.RoleArn``): "Step Functions ... uses the IAM role of the state
    machine" ("How Step Functions works with IAM", Step Functions Developer Guide). moto signs
    every such call with fixed keys, which are an administrator here.
    """

    @functools.wraps(boto_client_for)
    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role_arn = getattr(state_credentials, "role_arn", None)
        if not role_arn:
            return boto_client_for(region, service, state_credentials)
        return role_client(str(role_arn), region, service)

    return client_for


def _authorizing_targets(deliver: Callable[..., Any]) -> Callable[..., Any]:
    """EventBridge starts a state machine target with the target's role, if that role allows
    ``states:StartExecution`` on it ("Amazon EventBridge targets": Step Functions targets need a
    ``RoleArn``)."""

    @functools.wraps(deliver)
    def deliver_to_state_machine(target: dict[str, Any], execution_input: str) -> Any:
        from moto.utilities.utils import get_partition  # noqa: PLC0415

        machine = str(target["Arn"])
        parts = machine.split(":")
        region, account = (parts[3], parts[4]) if len(parts) > 4 else ("", "")
        role_arn = str(target.get("RoleArn") or "")
        if not role_arn:
            reason = "a Step Functions target without a RoleArn cannot start an execution"
            _record(
                Decision(
                    "events.amazonaws.com",
                    "events.amazonaws.com",
                    "states:StartExecution",
                    machine,
                    False,
                    reason,
                    None,
                )
            )
            return "" if enforcing() else deliver(target, execution_input)
        role_name = role_arn.rsplit("/", 1)[-1]
        partition = get_partition(region)
        session = Session(
            principal=f"arn:{partition}:sts::{account}:assumed-role/{role_name}/"
            f"{EVENTBRIDGE_SESSION_NAME}",
            account=role_arn.split(":")[4],
            partition=partition,
            role_arn=role_arn,
            role_name=role_name,
            session_policy=None,
        )
        denial = authorize_session(session, [Check("states:StartExecution", machine)], region)
        if denial is not None and enforcing():
            return ""  # EventBridge retries, then drops the event (no DLQ on this target)
        return deliver(target, execution_input)

    return deliver_to_state_machine


def _patches() -> list[Patch]:
    from moto.core.responses import BaseResponse  # noqa: PLC0415
    from moto.sns.models import Subscription  # noqa: PLC0415

    from orderflow.emulator import alarm_evaluation, eventbridge_targets  # noqa: PLC0415

    interpreter = [importlib.import_module(name) for name in _SFN_CLIENT_MODULES]
    return [
        *(
            Patch(module, "boto_client_for", _as_execution_role(module.boto_client_for))
            for module in interpreter
        ),
        Patch(
            eventbridge_targets,
            "deliver_to_state_machine",
            _authorizing_targets(eventbridge_targets.deliver_to_state_machine),
        ),
        Patch(BaseResponse, "call_action", _authorizing(BaseResponse.call_action)),
        Patch(Subscription, "publish", _delivering_to_queues(Subscription.publish)),
        Patch(
            alarm_evaluation,
            "publish_alarm_action",
            _authorizing_alarm_actions(alarm_evaluation.publish_alarm_action),
        ),
    ]


_EXTENSION = Extension("iam-enforcement", _patches)


def install(*, enforce: bool = True) -> None:
    """Authorize every request as IAM does; ``enforce=False`` records denials but allows."""
    _STATE["enforce"] = enforce
    _EXTENSION.install()


def uninstall() -> None:
    """Back to moto's authorization (none, by default); the record is kept until cleared."""
    _EXTENSION.uninstall()
    _STATE["enforce"] = True


def installed() -> bool:
    """Whether the extension is installed."""
    return _EXTENSION.installed


__all__ = [
    "Decision",
    "StatementRef",
    "clear_decisions",
    "decisions",
    "decisions_json",
    "enforcing",
    "evaluate",
    "install",
    "installed",
    "role_client",
    "uninstall",
]
