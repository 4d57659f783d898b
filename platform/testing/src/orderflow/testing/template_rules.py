"""The project's own rules over every template (run by ``nox -s templates``).

    python -m orderflow.testing.template_rules platform/template.yaml services/*/template.yaml

One line per violation (``path: LogicalId: what is wrong``); exit status 1 if any. The rules:

- every SQS queue that is not a DLQ has a RedrivePolicy naming a DLQ;
- every DLQ keeps messages 14 days (1209600 s);
- a DLQ keeps messages longer than each queue that redrives to it (a message keeps its
  original enqueue time when it moves, so an equal retention expires it early in the DLQ);
- a RedrivePolicy or RedriveAllowPolicy uses exactly SQS's keys: no unknown key, none missing
  (``sourceQueueArns`` with ``byQueue`` and only then);
- a queue's visibility timeout is at least 6x the timeout of the function it feeds;
- a queue a Lambda function consumes redrives after at least 5 receives (``maxReceiveCount``,
  and when it is a parameter, both its Default and its MinValue), as the Lambda developer guide
  advises: a throttled batch, and a record the consumer shell had no time left to start, use up
  receives without the message having failed;
- a consumer function's timeout is at least twice the consumer shell's record budget (the time
  left below which it starts no record), so most of each invocation goes to records;
- tracing is Active on every function and every topic;
- a service's subscription FilterPolicy equals ``orderflow.contracts.filter_policy(service)``,
  and is absent when that is None (the service takes every event);
- every SQS event source reports batch item failures (ReportBatchItemFailures);
- no Allow statement grants action ``*`` (or ``service:*``), nor resource ``*`` unless every
  action in it is one AWS cannot scope to a resource.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orderflow.consumer.budget import RECORD_BUDGET
from orderflow.contracts import SERVICES, filter_policy
from orderflow.templates import load_template, resources_of_type
from orderflow.templates.cfn import TemplateError

DLQ_RETENTION_SECONDS = 1_209_600
SQS_DEFAULT_RETENTION_SECONDS = 345_600
REDRIVE_POLICY_KEYS = ("deadLetterTargetArn", "maxReceiveCount")
REDRIVE_ALLOW_POLICY_KEYS = ("redrivePermission", "sourceQueueArns")
REDRIVE_PERMISSIONS = ("allowAll", "denyAll", "byQueue")
VISIBILITY_FACTOR = 6
LAMBDA_MIN_RECEIVES = 5
"""The Lambda developer guide, "Using AWS Lambda with Amazon SQS", Configuring a queue
(https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#events-sqs-queueconfig; the section
is now https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html): "Set the
maxReceiveCount on the queue's redrive policy to at least 5 to avoid sending messages to the dead
letter queue due to throttling"."""
RECORD_BUDGET_FACTOR = 2
DEFAULT_LAMBDA_TIMEOUT = 3
DEFAULT_VISIBILITY_TIMEOUT = 30

RESOURCE_STAR_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
        "cloudwatch:PutMetricData",
        "cloudwatch:GetMetricData",
        "cloudwatch:GetMetricStatistics",
        "cloudwatch:ListMetrics",
        "sqs:ListQueues",
        "sns:ListTopics",
        "sts:GetCallerIdentity",
        "ssm:DescribeParameters",
    }
)
"""Actions without resource-level permissions: for these ``Resource: "*"`` is the only choice."""

_POLICY_DOCUMENT_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
_RESOURCE_POLICY_TYPES = ("AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy")
# KMS key policies are left out on purpose: there "Resource": "*" means "this key".


@dataclass(frozen=True)
class Violation:
    """One broken rule in one template."""

    path: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.resource}: {self.message}"


class _Template:
    """A loaded template with the lookups the rules share."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.document = load_template(path)
        self.resources: dict[str, Any] = self.document.get("Resources", {})
        self.parameters: dict[str, Any] = self.document.get("Parameters", {}) or {}
        globals_ = self.document.get("Globals", {}) or {}
        self.function_globals: dict[str, Any] = globals_.get("Function", {}) or {}

    def of_type(self, resource_type: str) -> dict[str, Any]:
        return resources_of_type(self.document, resource_type)

    def value(self, raw: Any) -> Any:
        """A property value with a ``Ref`` to a parameter replaced by its default."""
        if isinstance(raw, Mapping) and set(raw) == {"Ref"}:
            parameter = self.parameters.get(raw["Ref"])
            if isinstance(parameter, Mapping) and "Default" in parameter:
                return parameter["Default"]
        return raw

    def number(self, raw: Any, default: int) -> int | None:
        value = self.value(raw) if raw is not None else default
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    def service(self) -> str | None:
        """The service a template under services/<name>/ belongs to."""
        name = self.path.resolve().parent.name
        return name if name in SERVICES else None


def _logical_target(reference: Any) -> str | None:
    """The logical id in ``!GetAtt X.Arn`` / ``!Ref X``, or None for anything else."""
    if not isinstance(reference, Mapping) or len(reference) != 1:
        return None
    ((key, argument),) = reference.items()
    if key == "Ref" and isinstance(argument, str):
        return argument
    if key == "Fn::GetAtt":
        parts = argument.split(".", 1) if isinstance(argument, str) else list(argument)
        return str(parts[0]) if parts else None
    return None


def _tags(properties: Mapping[str, Any]) -> dict[str, Any]:
    tags = properties.get("Tags") or []
    if isinstance(tags, Mapping):
        return dict(tags)
    return {str(t.get("Key")): t.get("Value") for t in tags if isinstance(t, Mapping)}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


# --- queues --------------------------------------------------------------------------------------


def _dead_letter_queues(template: _Template) -> set[str]:
    queues = template.of_type("AWS::SQS::Queue")
    dlqs = {
        logical_id
        for logical_id, props in queues.items()
        if _tags(props).get("orderflow:role") == "dlq"
    }
    for props in queues.values():
        policy = props.get("RedrivePolicy")
        if isinstance(policy, Mapping):
            target = _logical_target(policy.get("deadLetterTargetArn"))
            if target in queues:
                dlqs.add(target)
    return dlqs


def check_queues(template: _Template) -> Iterator[Violation]:
    """Every non-DLQ queue redrives to a DLQ; every DLQ keeps messages 14 days."""
    path = str(template.path)
    queues = template.of_type("AWS::SQS::Queue")
    dlqs = _dead_letter_queues(template)
    for logical_id, props in queues.items():
        if logical_id in dlqs:
            retention = template.number(props.get("MessageRetentionPeriod"), 345_600)
            if retention != DLQ_RETENTION_SECONDS:
                yield Violation(
                    path,
                    logical_id,
                    f"DLQ MessageRetentionPeriod is {retention}, "
                    f"not {DLQ_RETENTION_SECONDS} (14 days)",
                )
            continue
        policy = props.get("RedrivePolicy")
        if not isinstance(policy, Mapping) or not policy.get("deadLetterTargetArn"):
            yield Violation(
                path, logical_id, "queue has no RedrivePolicy with a deadLetterTargetArn"
            )


def check_dlq_retention(template: _Template) -> Iterator[Violation]:
    """Each DLQ keeps messages longer than every queue of this template that redrives to it."""
    path = str(template.path)
    queues = template.of_type("AWS::SQS::Queue")
    for logical_id, props in queues.items():
        policy = props.get("RedrivePolicy")
        if not isinstance(policy, Mapping):
            continue
        target = _logical_target(policy.get("deadLetterTargetArn"))
        if target not in queues or target == logical_id:
            continue
        source = template.number(props.get("MessageRetentionPeriod"), SQS_DEFAULT_RETENTION_SECONDS)
        dlq = template.number(
            queues[target].get("MessageRetentionPeriod"), SQS_DEFAULT_RETENTION_SECONDS
        )
        if source is not None and dlq is not None and source >= dlq:
            yield Violation(
                path,
                logical_id,
                f"MessageRetentionPeriod {source} s is not shorter than its DLQ {target}'s "
                f"({dlq} s): a message keeps its enqueue time when it moves, so it would "
                "expire in the DLQ sooner than it would have here",
            )


def _policy_object(raw: Any) -> Mapping[str, Any] | None:
    """A JSON queue attribute as an object: a template map, or SQS's JSON string of one."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return None
    return raw if isinstance(raw, Mapping) else None


def _key_problems(name: str, policy: Mapping[str, Any], keys: Sequence[str]) -> Iterator[str]:
    for key in sorted(set(policy) - set(keys)):
        yield f"{name} has unknown key {key} (SQS's keys: {', '.join(keys)})"


def _redrive_policy_problems(raw: Any) -> Iterator[str]:
    policy = _policy_object(raw)
    if policy is None:
        yield "RedrivePolicy is not a JSON object"
        return
    yield from _key_problems("RedrivePolicy", policy, REDRIVE_POLICY_KEYS)
    for key in REDRIVE_POLICY_KEYS:
        if key not in policy:
            yield f"RedrivePolicy lacks {key}"


def _redrive_allow_policy_problems(template: _Template, raw: Any) -> Iterator[str]:
    policy = _policy_object(raw)
    if policy is None:
        yield "RedriveAllowPolicy is not a JSON object"
        return
    yield from _key_problems("RedriveAllowPolicy", policy, REDRIVE_ALLOW_POLICY_KEYS)
    if "redrivePermission" not in policy:
        yield "RedriveAllowPolicy lacks redrivePermission"
        return
    permission = template.value(policy["redrivePermission"])
    if isinstance(permission, str) and permission not in REDRIVE_PERMISSIONS:
        yield (
            f"RedriveAllowPolicy redrivePermission is {permission}, not one of "
            f"{', '.join(REDRIVE_PERMISSIONS)}"
        )
    elif permission == "byQueue" and "sourceQueueArns" not in policy:
        yield "RedriveAllowPolicy with redrivePermission byQueue lacks sourceQueueArns"
    elif (
        permission in REDRIVE_PERMISSIONS
        and permission != "byQueue"
        and "sourceQueueArns" in policy
    ):
        yield (
            "RedriveAllowPolicy sets sourceQueueArns, which SQS accepts only with "
            "redrivePermission byQueue"
        )


def check_redrive_policies(template: _Template) -> Iterator[Violation]:
    """RedrivePolicy and RedriveAllowPolicy have SQS's keys, no other and none missing."""
    path = str(template.path)
    for logical_id, props in template.of_type("AWS::SQS::Queue").items():
        if props.get("RedrivePolicy") is not None:
            for problem in _redrive_policy_problems(props["RedrivePolicy"]):
                yield Violation(path, logical_id, problem)
        if props.get("RedriveAllowPolicy") is not None:
            for problem in _redrive_allow_policy_problems(template, props["RedriveAllowPolicy"]):
                yield Violation(path, logical_id, problem)


# --- functions and their event sources ----------------------------------------------------------


@dataclass(frozen=True)
class _SqsSource:
    function: str
    queue: str | None
    where: str
    response_types: list[Any]


def _function_timeouts(template: _Template) -> dict[str, int | None]:
    timeouts: dict[str, int | None] = {}
    for logical_id, props in template.of_type("AWS::Serverless::Function").items():
        raw = props.get("Timeout", template.function_globals.get("Timeout"))
        timeouts[logical_id] = template.number(raw, DEFAULT_LAMBDA_TIMEOUT)
    for logical_id, props in template.of_type("AWS::Lambda::Function").items():
        timeouts[logical_id] = template.number(props.get("Timeout"), DEFAULT_LAMBDA_TIMEOUT)
    return timeouts


def _sqs_sources(template: _Template) -> Iterator[_SqsSource]:
    queues = template.of_type("AWS::SQS::Queue")
    for logical_id, props in template.of_type("AWS::Serverless::Function").items():
        for event_name, event in (props.get("Events") or {}).items():
            if isinstance(event, Mapping) and event.get("Type") == "SQS":
                event_props = event.get("Properties") or {}
                yield _SqsSource(
                    function=logical_id,
                    queue=_logical_target(event_props.get("Queue")),
                    where=f"{logical_id}.Events.{event_name}",
                    response_types=_as_list(event_props.get("FunctionResponseTypes")),
                )
    for logical_id, props in template.of_type("AWS::Lambda::EventSourceMapping").items():
        queue = _logical_target(props.get("EventSourceArn"))
        if queue in queues:
            yield _SqsSource(
                function=_logical_target(props.get("FunctionName")) or "",
                queue=queue,
                where=logical_id,
                response_types=_as_list(props.get("FunctionResponseTypes")),
            )


def check_event_sources(template: _Template) -> Iterator[Violation]:
    """SQS event sources report batch item failures; queues outlast 6x the function timeout."""
    path = str(template.path)
    queues = template.of_type("AWS::SQS::Queue")
    timeouts = _function_timeouts(template)
    for source in _sqs_sources(template):
        if "ReportBatchItemFailures" not in source.response_types:
            yield Violation(
                path,
                source.where,
                "SQS event source lacks FunctionResponseTypes: [ReportBatchItemFailures]",
            )
        if source.queue not in queues or source.function not in timeouts:
            continue
        timeout = timeouts[source.function]
        visibility = template.number(
            queues[source.queue].get("VisibilityTimeout"), DEFAULT_VISIBILITY_TIMEOUT
        )
        if timeout is None or visibility is None:
            continue
        if visibility < VISIBILITY_FACTOR * timeout:
            yield Violation(
                path,
                source.queue,
                f"VisibilityTimeout {visibility} s is under {VISIBILITY_FACTOR}x the timeout of "
                f"{source.function} ({timeout} s): at least {VISIBILITY_FACTOR * timeout} s",
            )


def _receive_count_problems(template: _Template, raw: Any) -> Iterator[str]:
    """What lets the redrive policy ``raw`` park a message before its 5th receive."""
    policy = _policy_object(raw)
    if policy is None or "maxReceiveCount" not in policy:
        return  # check_redrive_policies names a policy that is not SQS's shape
    count = policy["maxReceiveCount"]
    if isinstance(count, Mapping) and set(count) == {"Ref"}:
        name = count["Ref"]
        parameter = template.parameters.get(name)
        if not isinstance(parameter, Mapping):
            return
        for setting in ("Default", "MinValue"):
            value = parameter.get(setting)
            if value is None:
                yield (
                    f"maxReceiveCount parameter {name} has no {setting}: "
                    f"it must be at least {LAMBDA_MIN_RECEIVES}"
                )
            elif _below(value, LAMBDA_MIN_RECEIVES):
                yield (
                    f"maxReceiveCount parameter {name} has {setting} {value}: "
                    f"at least {LAMBDA_MIN_RECEIVES} for a queue Lambda consumes"
                )
    elif _below(count, LAMBDA_MIN_RECEIVES):
        yield f"maxReceiveCount {count} is under {LAMBDA_MIN_RECEIVES} for a queue Lambda consumes"


def _below(value: Any, floor: int) -> bool:
    try:
        return int(value) < floor
    except (TypeError, ValueError):
        return False  # an expression this rule cannot evaluate


def check_lambda_receives(template: _Template) -> Iterator[Violation]:
    """Queues Lambda consumes park a message only after 5 receives; functions outlast the
    record budget twice."""
    path = str(template.path)
    queues = template.of_type("AWS::SQS::Queue")
    timeouts = _function_timeouts(template)
    queues_seen: set[str] = set()
    functions_seen: set[str] = set()
    budget_seconds = RECORD_BUDGET.milliseconds / 1000
    for source in _sqs_sources(template):
        if source.queue in queues and source.queue not in queues_seen:
            queues_seen.add(source.queue)
            redrive = queues[source.queue].get("RedrivePolicy")
            if redrive is not None:
                for problem in _receive_count_problems(template, redrive):
                    yield Violation(path, source.queue, problem)
        if source.function in functions_seen:
            continue
        functions_seen.add(source.function)
        timeout = timeouts.get(source.function)
        if timeout is not None and timeout < RECORD_BUDGET_FACTOR * budget_seconds:
            yield Violation(
                path,
                source.function,
                f"Timeout {timeout} s is under {RECORD_BUDGET_FACTOR}x the record budget "
                f"({budget_seconds:g} s, the time left below which no record starts): "
                f"at least {RECORD_BUDGET_FACTOR * budget_seconds:g} s",
            )


def check_tracing(template: _Template) -> Iterator[Violation]:
    """Tracing is Active on every function and every SNS topic."""
    path = str(template.path)
    for logical_id, props in template.of_type("AWS::Serverless::Function").items():
        tracing = template.value(props.get("Tracing", template.function_globals.get("Tracing")))
        if tracing != "Active":
            yield Violation(path, logical_id, "function Tracing is not Active")
    for logical_id, props in template.of_type("AWS::Lambda::Function").items():
        mode = template.value((props.get("TracingConfig") or {}).get("Mode"))
        if mode != "Active":
            yield Violation(path, logical_id, "function TracingConfig.Mode is not Active")
    for logical_id, props in template.of_type("AWS::SNS::Topic").items():
        if template.value(props.get("TracingConfig")) != "Active":
            yield Violation(path, logical_id, "topic TracingConfig is not Active")


# --- subscriptions -------------------------------------------------------------------------------


def _normalised_policy(policy: Any) -> Any:
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError:
            return policy
    if isinstance(policy, Mapping):
        return {k: _normalised_policy(v) for k, v in policy.items()}
    if isinstance(policy, list):
        return sorted((_normalised_policy(v) for v in policy), key=json.dumps)
    return policy


def check_subscriptions(template: _Template) -> Iterator[Violation]:
    """Each service's SQS subscription filters exactly what the routing table routes to it."""
    path = str(template.path)
    queues = template.of_type("AWS::SQS::Queue")
    for logical_id, props in template.of_type("AWS::SNS::Subscription").items():
        if template.value(props.get("Protocol")) != "sqs":
            continue
        queue = _logical_target(props.get("Endpoint"))
        service = _tags(queues.get(queue or "", {})).get("orderflow:service") or template.service()
        if service not in SERVICES:
            yield Violation(path, logical_id, "cannot tell which service this subscription feeds")
            continue
        expected = filter_policy(service)
        actual = props.get("FilterPolicy")
        if expected is None:
            if actual is not None:
                yield Violation(
                    path, logical_id, f"{service} takes every event type; remove the FilterPolicy"
                )
            continue
        if _normalised_policy(actual) != _normalised_policy(expected):
            yield Violation(
                path,
                logical_id,
                f"FilterPolicy {json.dumps(_normalised_policy(actual))} differs from the routing "
                f"table's {json.dumps(expected)}",
            )
        scope = template.value(props.get("FilterPolicyScope", "MessageAttributes"))
        if scope != "MessageAttributes":
            yield Violation(
                path, logical_id, f"FilterPolicyScope is {scope}, not MessageAttributes"
            )


# --- IAM -----------------------------------------------------------------------------------------


def _statements(template: _Template) -> Iterator[tuple[str, Any]]:
    for logical_id, props in template.of_type("AWS::IAM::Role").items():
        for policy in _as_list(props.get("Policies")):
            if isinstance(policy, Mapping):
                for statement in _as_list((policy.get("PolicyDocument") or {}).get("Statement")):
                    yield logical_id, statement
    for resource_type in (*_POLICY_DOCUMENT_TYPES, *_RESOURCE_POLICY_TYPES):
        for logical_id, props in template.of_type(resource_type).items():
            for statement in _as_list((props.get("PolicyDocument") or {}).get("Statement")):
                yield logical_id, statement
    for logical_id, props in template.of_type("AWS::Serverless::Function").items():
        for policy in _as_list(props.get("Policies")):
            # Inline documents only; SAM policy templates are scoped by their parameters.
            if isinstance(policy, Mapping) and "Statement" in policy:
                for statement in _as_list(policy["Statement"]):
                    yield logical_id, statement


def check_iam(template: _Template) -> Iterator[Violation]:
    """No Allow statement grants ``*`` actions, nor ``*`` resources where a name is known."""
    path = str(template.path)
    for logical_id, statement in _statements(template):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        actions = [a for a in _as_list(statement.get("Action")) if isinstance(a, str)]
        if "NotAction" in statement:
            yield Violation(path, logical_id, "Allow with NotAction grants everything else")
        broad = [a for a in actions if a == "*" or a.endswith(":*")]
        if broad:
            yield Violation(path, logical_id, f"Allow grants every action: {', '.join(broad)}")
        resources = _as_list(statement.get("Resource"))
        if "*" in resources and not (actions and set(actions) <= RESOURCE_STAR_ACTIONS):
            scoped = sorted(set(actions) - RESOURCE_STAR_ACTIONS)
            yield Violation(
                path,
                logical_id,
                f"Resource '*' for {', '.join(scoped) or 'all actions'}; name the resource",
            )


RULES = (
    check_queues,
    check_dlq_retention,
    check_redrive_policies,
    check_event_sources,
    check_lambda_receives,
    check_tracing,
    check_subscriptions,
    check_iam,
)


def check_template(path: str | Path) -> list[Violation]:
    """Every rule over one template."""
    template = _Template(Path(path))
    return [violation for rule in RULES for violation in rule(template)]


# --- samconfig: one region per stage ------------------------------------------------------------

SAMCONFIG = "samconfig.toml"


def _stage_regions(path: Path) -> dict[str, str | None]:
    """Stage -> the region its ``sam deploy`` targets (deploy, else global parameters)."""
    import tomllib  # noqa: PLC0415

    config = tomllib.loads(path.read_text())
    regions: dict[str, str | None] = {}
    for stage, commands in config.items():
        if not isinstance(commands, Mapping) or "deploy" not in commands:
            continue
        deploy = (commands.get("deploy") or {}).get("parameters") or {}
        shared = (commands.get("global") or {}).get("parameters") or {}
        region = deploy.get("region", shared.get("region"))
        regions[stage] = str(region) if region else None
    return regions


def check_samconfig_regions(paths: Sequence[str | Path]) -> list[Violation]:
    """Every stage pins one region, the same in every package's samconfig.

    A stage's service stacks read the platform's SSM parameters, which exist in one region; a
    samconfig without a region deploys wherever the caller's default points. The platform's
    region is the stage's reference (it writes those parameters), else the most common one.
    """
    violations: list[Violation] = []
    by_stage: dict[str, dict[str, str]] = {}
    for raw in paths:
        path = Path(raw)
        try:
            regions = _stage_regions(path)
        except (OSError, ValueError) as error:
            violations.append(Violation(str(path), "-", f"cannot read: {error}"))
            continue
        for stage, pinned in regions.items():
            if pinned is None:
                violations.append(
                    Violation(
                        str(path),
                        f"{stage}.deploy.parameters",
                        "no region: pin the stage's region (its SSM parameters live in one)",
                    )
                )
            else:
                by_stage.setdefault(stage, {})[str(path)] = pinned
    for stage, stage_regions in sorted(by_stage.items()):
        if len(set(stage_regions.values())) == 1:
            continue
        named = list(stage_regions.values())
        platform = [
            r for p, r in stage_regions.items() if Path(p).resolve().parent.name == "platform"
        ]
        reference = (
            platform[0] if platform else sorted(set(named), key=lambda r: (-named.count(r), r))[0]
        )
        where = ", ".join(f"{r} in {p}" for p, r in sorted(stage_regions.items()) if r == reference)
        for where_from, region in sorted(stage_regions.items()):
            if region != reference:
                violations.append(
                    Violation(
                        where_from,
                        f"{stage}.deploy.parameters",
                        f"region {region} differs from the stage's {where}",
                    )
                )
    return violations


def main(argv: Sequence[str] | None = None) -> int:
    """Check the templates (and samconfig.toml files) named; 0 when none breaks a rule."""
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m orderflow.testing.template_rules TEMPLATE...", file=sys.stderr)
        return 2
    violations = check_samconfig_regions([p for p in paths if Path(p).name == SAMCONFIG])
    for path in (p for p in paths if Path(p).name != SAMCONFIG):
        try:
            violations.extend(check_template(path))
        except TemplateError as error:
            violations.append(Violation(path, "-", f"cannot read: {error}"))
    for violation in violations:
        print(violation)
    print(f"{len(paths)} template(s) checked, {len(violations)} violation(s)", file=sys.stderr)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
