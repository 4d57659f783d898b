"""Alarms and the dashboard of a stage, as code: computed from the stage's queues, then upserted.

Per consumer queue three alarms page the platform team through the paging topic (OK too):

- ``dlq-depth``: the DLQ holds any message (ApproximateNumberOfMessagesVisible > 0);
- ``dlq-growth``: the DLQ grew within the last few minutes: DIFF over the messages it holds,
  visible plus in flight (ApproximateNumberOfMessagesNotVisible), each minute without a
  datapoint filled with 0. Not NumberOfMessagesSent: SQS does not count a dead-lettering move
  as a send. In flight too, because an operator receiving DLQ messages to look at them (``dlq
  inspect``, ``dlq redrive --group``) moves them from visible to in flight and back, which is
  not growth. Filled, because SQS publishes nothing for a queue inactive for six hours: after a
  quiet night the first message is the DLQ's first datapoint, and an unfilled DIFF has no
  predecessor for it. Filling with 0 is what an asleep queue held (an inactive queue is an
  empty one); a datapoint late for the latest minute gives a negative DIFF, never a page;
- ``queue-age``: the oldest message on the source queue is older than the service's own limit
  (its ``orderflow:max-age-seconds`` tag: payment minutes, analytics hours).

A sync computes the plan (create / update / unchanged / delete), prints it and applies it; a
second sync finds everything unchanged. Alarms of queues that no longer exist are deleted, and
only alarms this module names (``orderflow-<stage>-<service>-<kind>``) are ever touched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orderflow import naming
from orderflow.platform.stage import ServiceQueues, routing_order

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

DLQ_DEPTH = "dlq-depth"
DLQ_GROWTH = "dlq-growth"
QUEUE_AGE = "queue-age"
KINDS = (DLQ_DEPTH, DLQ_GROWTH, QUEUE_AGE)

PERIOD_SECONDS = 60
GROWTH_WINDOW_MINUTES = 5
"""A DLQ that grew in any of the last five one-minute periods keeps the growth alarm in ALARM."""

CREATE = "create"
UPDATE = "update"
UNCHANGED = "unchanged"
DELETE = "delete"


def runbook(stage: str, service: str) -> str:
    """What the person paged runs first."""
    return (
        f"Runbook: orderflow dlq inspect {service} --stage {stage} (failure groups); fix and "
        f"deploy; then orderflow dlq redrive {service} --stage {stage}."
    )


def _owned(stage: str) -> re.Pattern[str]:
    kinds = "|".join(KINDS)
    return re.compile(
        rf"^{re.escape(naming.prefix(stage))}(?P<service>[a-z0-9]+)-(?P<kind>{kinds})$"
    )


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm as it should be: its PutMetricAlarm request."""

    name: str
    service: str
    kind: str
    request: Mapping[str, Any]


@dataclass(frozen=True)
class AlarmChange:
    """One line of the plan."""

    action: str
    name: str
    service: str
    kind: str


@dataclass
class AlarmPlan:
    """What a sync does: per alarm create/update/unchanged/delete, plus the dashboard."""

    stage: str
    changes: list[AlarmChange] = field(default_factory=list)
    dashboard: str = UNCHANGED
    notes: list[str] = field(default_factory=list)
    specs: dict[str, AlarmSpec] = field(default_factory=dict)
    dashboard_body: str = ""

    def count(self, action: str) -> int:
        """How many alarms get ``action``."""
        return sum(1 for c in self.changes if c.action == action)

    @property
    def changes_anything(self) -> bool:
        """False when a sync would leave everything as it is."""
        return self.dashboard != UNCHANGED or any(c.action != UNCHANGED for c in self.changes)

    def as_dict(self) -> dict[str, Any]:
        """The plan for ``--json``."""
        return {
            "stage": self.stage,
            "alarms": [
                {"action": c.action, "name": c.name, "service": c.service, "kind": c.kind}
                for c in self.changes
            ],
            "dashboard": {"name": naming.dashboard(self.stage), "action": self.dashboard},
            "notes": self.notes,
        }


# --- what should exist -------------------------------------------------------------------------


def desired_alarms(
    stage: str, services: Mapping[str, ServiceQueues], paging_topic_arn: str
) -> tuple[list[AlarmSpec], list[str]]:
    """The alarms the stage's queues call for, and notes on what could not be alarmed."""
    specs: list[AlarmSpec] = []
    notes: list[str] = []
    for service, queues in services.items():
        if queues.dlq is None:
            notes.append(f"{service}: no DLQ found; DLQ alarms skipped")
        else:
            specs.append(_dlq_depth(stage, service, queues.dlq.name, paging_topic_arn))
            specs.append(_dlq_growth(stage, service, queues.dlq.name, paging_topic_arn))
        if queues.max_age_seconds is None:
            notes.append(f"{service}: no orderflow:max-age-seconds tag; queue-age alarm skipped")
        else:
            specs.append(
                _queue_age(
                    stage, service, queues.queue.name, queues.max_age_seconds, paging_topic_arn
                )
            )
    return specs, notes


def _common(stage: str, service: str, kind: str, summary: str, paging: str) -> dict[str, Any]:
    return {
        "AlarmName": naming.alarm(stage, service, kind),
        "AlarmDescription": f"{summary} {runbook(stage, service)}",
        "ActionsEnabled": True,
        "AlarmActions": [paging],
        "OKActions": [paging],
        "InsufficientDataActions": [],
        "ComparisonOperator": "GreaterThanThreshold",
        # No datapoint means SQS had nothing to report: an empty, quiet queue.
        "TreatMissingData": "notBreaching",
    }


def _queue_metric(metric: str, queue_name: str) -> dict[str, Any]:
    return {
        "Namespace": "AWS/SQS",
        "MetricName": metric,
        "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
    }


def _dlq_depth(stage: str, service: str, dlq: str, paging: str) -> AlarmSpec:
    summary = f"The {service} DLQ ({dlq}) holds messages that failed every retry."
    request = {
        **_common(stage, service, DLQ_DEPTH, summary, paging),
        **_queue_metric("ApproximateNumberOfMessagesVisible", dlq),
        "Statistic": "Maximum",
        "Period": PERIOD_SECONDS,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": 0.0,
    }
    return AlarmSpec(naming.alarm(stage, service, DLQ_DEPTH), service, DLQ_DEPTH, request)


def _metric_query(query_id: str, metric: str, queue_name: str) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": _queue_metric(metric, queue_name),
            "Period": PERIOD_SECONDS,
            "Stat": "Maximum",
        },
        "ReturnData": False,
    }


def _dlq_growth(stage: str, service: str, dlq: str, paging: str) -> AlarmSpec:
    summary = (
        f"The {service} DLQ ({dlq}) grew within the last {GROWTH_WINDOW_MINUTES} minutes: "
        "records are failing now."
    )
    request = {
        **_common(stage, service, DLQ_GROWTH, summary, paging),
        "Metrics": [
            _metric_query("visible", "ApproximateNumberOfMessagesVisible", dlq),
            _metric_query("in_flight", "ApproximateNumberOfMessagesNotVisible", dlq),
            {
                "Id": "depth",
                # No datapoint: SQS had the queue asleep, which it only does to an empty one.
                "Expression": "FILL(visible, 0) + FILL(in_flight, 0)",
                "Label": "messages in the DLQ, visible and in flight",
                "ReturnData": False,
            },
            {
                "Id": "growth",
                "Expression": "DIFF(depth)",
                "Label": "messages added to the DLQ per minute",
                "ReturnData": True,
            },
        ],
        "EvaluationPeriods": GROWTH_WINDOW_MINUTES,
        "DatapointsToAlarm": 1,
        "Threshold": 0.0,
    }
    return AlarmSpec(naming.alarm(stage, service, DLQ_GROWTH), service, DLQ_GROWTH, request)


def _queue_age(stage: str, service: str, queue: str, limit: int, paging: str) -> AlarmSpec:
    summary = (
        f"The oldest message on {queue} is older than {service}'s limit of {limit} s: "
        "the consumer is falling behind or stuck."
    )
    request = {
        **_common(stage, service, QUEUE_AGE, summary, paging),
        **_queue_metric("ApproximateAgeOfOldestMessage", queue),
        "Statistic": "Maximum",
        "Period": PERIOD_SECONDS,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": float(limit),
    }
    return AlarmSpec(naming.alarm(stage, service, QUEUE_AGE), service, QUEUE_AGE, request)


def _widget(
    position: tuple[int, int], region: str, title: str, metrics: list[list[Any]], **extra: Any
) -> dict[str, Any]:
    x, y = position
    properties = {
        "title": title,
        "region": region,
        "stat": "Maximum",
        "period": PERIOD_SECONDS,
        "view": "timeSeries",
        "metrics": metrics,
        **extra,
    }
    return {"type": "metric", "x": x, "y": y, "width": 8, "height": 6, "properties": properties}


def _sqs_line(metric: str, queue_name: str, label: str) -> list[Any]:
    return ["AWS/SQS", metric, "QueueName", queue_name, {"label": label}]


def dashboard_body(stage: str, services: Mapping[str, ServiceQueues], region: str) -> str:
    """The stage dashboard: per service a row of queue depth, DLQ depth and oldest age."""
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": 24,
            "height": 1,
            "properties": {"markdown": f"# orderflow {stage}: consumer queues"},
        }
    ]
    for row, (service, queues) in enumerate(services.items()):
        y = 1 + row * 6
        queue = queues.queue.name
        depth = [
            _sqs_line("ApproximateNumberOfMessagesVisible", queue, "visible"),
            _sqs_line("ApproximateNumberOfMessagesNotVisible", queue, "in flight"),
        ]
        widgets.append(_widget((0, y), region, f"{service}: queue depth", depth))
        if queues.dlq is not None:
            dlq_depth = [_sqs_line("ApproximateNumberOfMessagesVisible", queues.dlq.name, "DLQ")]
            widgets.append(_widget((8, y), region, f"{service}: DLQ depth", dlq_depth))
        age = [_sqs_line("ApproximateAgeOfOldestMessage", queue, "oldest")]
        extra: dict[str, Any] = {}
        if queues.max_age_seconds is not None:
            extra["annotations"] = {
                "horizontal": [{"label": "alarm", "value": queues.max_age_seconds}]
            }
        title = f"{service}: age of oldest message (s)"
        widgets.append(_widget((16, y), region, title, age, **extra))
    return json.dumps({"widgets": widgets}, sort_keys=True)


# --- what exists, and the difference -----------------------------------------------------------


def existing_alarms(cloudwatch: CloudWatchClient, stage: str) -> dict[str, dict[str, Any]]:
    """name -> DescribeAlarms entry, for every metric alarm this module owns in ``stage``."""
    owned = _owned(stage)
    found: dict[str, dict[str, Any]] = {}
    paginator = cloudwatch.get_paginator("describe_alarms")
    for page in paginator.paginate(
        AlarmNamePrefix=naming.prefix(stage), AlarmTypes=["MetricAlarm"]
    ):
        for alarm in page.get("MetricAlarms", []):
            if owned.match(alarm["AlarmName"]):
                found[alarm["AlarmName"]] = dict(alarm)
    return found


def plan_alarms(
    cloudwatch: CloudWatchClient,
    stage: str,
    desired: Sequence[AlarmSpec],
    dashboard: str,
) -> AlarmPlan:
    """Compare what should exist with what does."""
    existing = existing_alarms(cloudwatch, stage)
    plan = AlarmPlan(stage=stage, specs={s.name: s for s in desired}, dashboard_body=dashboard)
    for spec in desired:
        current = existing.get(spec.name)
        if current is None:
            action = CREATE
        elif _matches(_comparable(spec.request), current):
            action = UNCHANGED
        else:
            action = UPDATE
        plan.changes.append(AlarmChange(action, spec.name, spec.service, spec.kind))
    owned = _owned(stage)
    for name in sorted(set(existing) - plan.specs.keys()):
        match = owned.match(name)
        assert match is not None  # existing_alarms only returns owned names
        plan.changes.append(AlarmChange(DELETE, name, match["service"], match["kind"]))
    plan.dashboard = _dashboard_action(cloudwatch, stage, dashboard)
    return plan


def apply_plan(cloudwatch: CloudWatchClient, plan: AlarmPlan) -> None:
    """Make CloudWatch match the plan."""
    for change in plan.changes:
        if change.action in {CREATE, UPDATE}:
            cloudwatch.put_metric_alarm(**plan.specs[change.name].request)
    doomed = [c.name for c in plan.changes if c.action == DELETE]
    for start in range(0, len(doomed), 100):
        cloudwatch.delete_alarms(AlarmNames=doomed[start : start + 100])
    if plan.dashboard != UNCHANGED:
        cloudwatch.put_dashboard(
            DashboardName=naming.dashboard(plan.stage), DashboardBody=plan.dashboard_body
        )


def sync_alarms(
    cloudwatch: CloudWatchClient,
    stage: str,
    services: Mapping[str, ServiceQueues],
    paging_topic_arn: str,
    region: str,
    *,
    dry_run: bool = False,
) -> AlarmPlan:
    """Plan the stage's alarms and dashboard and, unless ``dry_run``, apply the plan."""
    desired, notes = desired_alarms(stage, services, paging_topic_arn)
    plan = plan_alarms(cloudwatch, stage, desired, dashboard_body(stage, services, region))
    plan.notes.extend(notes)
    if not dry_run:
        apply_plan(cloudwatch, plan)
    return plan


def _dashboard_action(cloudwatch: CloudWatchClient, stage: str, body: str) -> str:
    try:
        current = cloudwatch.get_dashboard(DashboardName=naming.dashboard(stage))
    except cloudwatch.exceptions.ResourceNotFound:
        return CREATE
    if json.loads(current.get("DashboardBody") or "{}") == json.loads(body):
        return UNCHANGED
    return UPDATE


def _comparable(request: Mapping[str, Any]) -> dict[str, Any]:
    # DescribeAlarms reports the other alarm form's fields empty; compare them too so that
    # switching an alarm between a single metric and metric math shows as an update.
    empty_form: dict[str, Any] = (
        {"Metrics": []} if "MetricName" in request else {"MetricName": None, "Namespace": None}
    )
    return {**empty_form, **request}


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, list | dict) and not value)


def _matches(desired: Any, current: Any) -> bool:
    """Whether ``current`` (DescribeAlarms) has every field of ``desired`` (PutMetricAlarm)."""
    if _empty(desired):
        return _empty(current)
    if isinstance(desired, Mapping):
        return isinstance(current, Mapping) and all(
            _matches(value, current.get(key)) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return isinstance(current, list) and _matches_list(desired, current)
    if isinstance(desired, bool) or isinstance(current, bool):
        return desired is current
    if isinstance(desired, int | float) and isinstance(current, int | float):
        return float(desired) == float(current)
    return bool(desired == current)


def _matches_list(desired: list[Any], current: list[Any]) -> bool:
    if len(current) != len(desired):
        return False
    if all(isinstance(v, str) for v in desired):
        # Action ARNs: order carries no meaning.
        return sorted(desired) == sorted(current)
    return all(_matches(d, c) for d, c in zip(desired, current, strict=True))


# --- alarm states ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmState:
    """An alarm's current state, for ``alarms ls`` and ``status``."""

    name: str
    service: str
    kind: str
    state: str
    reason: str
    updated: str


def alarm_states(cloudwatch: CloudWatchClient, stage: str) -> list[AlarmState]:
    """State of every alarm this module owns in ``stage``, by service and kind."""
    owned = _owned(stage)
    states: list[AlarmState] = []
    for name, alarm in existing_alarms(cloudwatch, stage).items():
        match = owned.match(name)
        assert match is not None
        updated = alarm.get("StateUpdatedTimestamp")
        states.append(
            AlarmState(
                name=name,
                service=match["service"],
                kind=match["kind"],
                state=str(alarm.get("StateValue", "INSUFFICIENT_DATA")),
                reason=" ".join(str(alarm.get("StateReason", "")).split()),
                updated=updated.isoformat(timespec="seconds") if updated else "",
            )
        )
    return sorted(states, key=lambda s: (*routing_order(s.service), KINDS.index(s.kind)))


SEVERITY = {"ALARM": 2, "INSUFFICIENT_DATA": 1, "OK": 0}


def worst_state(states: Sequence[AlarmState]) -> str:
    """The most severe of ``states`` (ALARM over INSUFFICIENT_DATA over OK), '-' if none."""
    if not states:
        return "-"
    return max((s.state for s in states), key=lambda s: SEVERITY.get(s, 1))
