"""``alarms sync`` on moto: the stage's alarms follow its queues, idempotently."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orderflow.contracts import SERVICES
from orderflow.platform.alarms import (
    CREATE,
    DELETE,
    UNCHANGED,
    UPDATE,
    alarm_states,
    dashboard_name,
    sync_alarms,
)
from orderflow.platform.aws import AwsClients
from orderflow.platform.stage import discover_queues

from .conftest import STAGE, StageOnMoto

pytestmark = pytest.mark.functional


def sync(aws: AwsClients, stage: StageOnMoto, *, dry_run: bool = False) -> Any:
    return sync_alarms(
        aws.cloudwatch(),
        STAGE,
        discover_queues(aws.sqs(), STAGE),
        stage.paging_topic_arn,
        "us-east-1",
        dry_run=dry_run,
    )


def alarms_by_name(aws: AwsClients) -> dict[str, dict[str, Any]]:
    return {a["AlarmName"]: a for a in aws.cloudwatch().describe_alarms()["MetricAlarms"]}


def test_first_sync_creates_three_alarms_per_service_paging_the_paging_topic(
    aws: AwsClients, stage: StageOnMoto
) -> None:
    # GIVEN a stage with the four services' queues and no alarms
    # WHEN alarms are synced
    plan = sync(aws, stage)

    # THEN every service gets DLQ depth, DLQ growth and queue age alarms, all created
    expected = {
        f"orderflow-{STAGE}-{s}-{k}"
        for s in SERVICES
        for k in ("dlq-depth", "dlq-growth", "queue-age")
    }
    assert {c.name for c in plan.changes} == expected
    assert {c.action for c in plan.changes} == {CREATE}
    alarms = alarms_by_name(aws)
    assert set(alarms) == expected
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [stage.paging_topic_arn]
        assert alarm["OKActions"] == [stage.paging_topic_arn]
        service = alarm["AlarmName"].split("-")[2]
        assert f"orderflow dlq inspect {service} --stage {STAGE}" in alarm["AlarmDescription"]


def test_thresholds_and_metrics_come_from_each_queue(aws: AwsClients, stage: StageOnMoto) -> None:
    # GIVEN the services' own age limits on their queue tags
    limits = {s: q.max_age_seconds for s, q in discover_queues(aws.sqs(), STAGE).items()}

    # WHEN alarms are synced
    sync(aws, stage)
    alarms = alarms_by_name(aws)

    # THEN queue age alarms use each service's limit on its source queue
    for service, limit in limits.items():
        age = alarms[f"orderflow-{STAGE}-{service}-queue-age"]
        assert age["MetricName"] == "ApproximateAgeOfOldestMessage"
        assert age["Dimensions"] == [{"Name": "QueueName", "Value": f"orderflow-{STAGE}-{service}"}]
        assert age["Threshold"] == float(limit)  # type: ignore[arg-type]
        depth = alarms[f"orderflow-{STAGE}-{service}-dlq-depth"]
        assert depth["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert depth["Dimensions"][0]["Value"] == f"orderflow-{STAGE}-{service}-dlq"
        assert (depth["ComparisonOperator"], depth["Threshold"]) == ("GreaterThanThreshold", 0.0)
    # AND growth is a DIFF of the DLQ's visible messages, never NumberOfMessagesSent
    growth = alarms[f"orderflow-{STAGE}-payment-dlq-growth"]
    metrics = {m["Id"]: m for m in growth["Metrics"]}
    assert metrics["growth"]["Expression"] == "DIFF(visible)"
    stat = metrics["visible"]["MetricStat"]["Metric"]
    assert stat["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert stat["Dimensions"] == [{"Name": "QueueName", "Value": f"orderflow-{STAGE}-payment-dlq"}]
    assert "NumberOfMessagesSent" not in json.dumps(alarms_by_name(aws), default=str)
    # AND the state shows up per service, not yet alarming
    assert {s.service for s in alarm_states(aws.cloudwatch(), STAGE)} == set(SERVICES)


def test_a_second_sync_changes_nothing(aws: AwsClients, stage: StageOnMoto) -> None:
    # GIVEN a synced stage
    sync(aws, stage)
    before = alarms_by_name(aws)

    # WHEN it is synced again
    plan = sync(aws, stage)

    # THEN every alarm and the dashboard are unchanged
    assert {c.action for c in plan.changes} == {UNCHANGED}
    assert plan.dashboard == UNCHANGED
    assert not plan.changes_anything
    after = alarms_by_name(aws)
    assert {n: a["AlarmConfigurationUpdatedTimestamp"] for n, a in after.items()} == {
        n: a["AlarmConfigurationUpdatedTimestamp"] for n, a in before.items()
    }


def test_an_alarm_edited_by_hand_is_put_back(aws: AwsClients, stage: StageOnMoto) -> None:
    # GIVEN a synced stage where someone raised the payment DLQ threshold by hand
    sync(aws, stage)
    edited = alarms_by_name(aws)[f"orderflow-{STAGE}-payment-dlq-depth"]
    keys = (
        "AlarmName", "AlarmDescription", "AlarmActions", "OKActions", "MetricName", "Namespace",
        "Statistic", "Dimensions", "Period", "EvaluationPeriods", "ComparisonOperator",
    )  # fmt: skip
    aws.cloudwatch().put_metric_alarm(**{k: edited[k] for k in keys}, Threshold=50.0)

    # WHEN the stage is synced
    plan = sync(aws, stage)

    # THEN exactly that alarm is updated back to the code's threshold
    assert [c.name for c in plan.changes if c.action == UPDATE] == [
        f"orderflow-{STAGE}-payment-dlq-depth"
    ]
    assert alarms_by_name(aws)[f"orderflow-{STAGE}-payment-dlq-depth"]["Threshold"] == 0.0


def test_removing_a_service_deletes_only_its_alarms(aws: AwsClients, stage: StageOnMoto) -> None:
    # GIVEN a synced stage, plus an alarm that is not ours and one of another stage
    sync(aws, stage)
    cloudwatch = aws.cloudwatch()
    for foreign in (
        f"orderflow-{STAGE}-payment-custom-latency",
        "orderflow-prod-payment-dlq-depth",
    ):
        cloudwatch.put_metric_alarm(
            AlarmName=foreign,
            MetricName="Errors",
            Namespace="AWS/Lambda",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )

    # WHEN the analytics service's queues are gone and the stage is synced
    for role in ("queue", "dlq"):
        aws.sqs().delete_queue(QueueUrl=stage.queue_url("analytics", role))
    plan = sync(aws, stage)

    # THEN its three alarms are deleted, the others unchanged, foreign alarms untouched
    deleted = sorted(c.name for c in plan.changes if c.action == DELETE)
    assert deleted == [
        f"orderflow-{STAGE}-analytics-{k}" for k in ("dlq-depth", "dlq-growth", "queue-age")
    ]
    assert {c.action for c in plan.changes if c.service != "analytics"} == {UNCHANGED}
    remaining = set(alarms_by_name(aws))
    assert not any("-analytics-" in name for name in remaining)
    assert {
        f"orderflow-{STAGE}-payment-custom-latency",
        "orderflow-prod-payment-dlq-depth",
    } <= remaining


def test_dry_run_reports_the_plan_and_changes_nothing(aws: AwsClients, stage: StageOnMoto) -> None:
    # GIVEN a stage without alarms
    # WHEN a dry run is made
    plan = sync(aws, stage, dry_run=True)

    # THEN it plans twelve creates and a dashboard, and creates none of them
    assert plan.count(CREATE) == 12
    assert plan.dashboard == CREATE
    assert alarms_by_name(aws) == {}
    assert aws.cloudwatch().list_dashboards()["DashboardEntries"] == []


def test_the_stage_dashboard_shows_each_queue(aws: AwsClients, stage: StageOnMoto) -> None:
    # GIVEN a synced stage
    sync(aws, stage)

    # WHEN its dashboard is read
    body = json.loads(
        aws.cloudwatch().get_dashboard(DashboardName=dashboard_name(STAGE))["DashboardBody"]
    )

    # THEN per service it charts depth, DLQ depth and age of the oldest message
    titles = {w["properties"].get("title") for w in body["widgets"] if w["type"] == "metric"}
    for service in SERVICES:
        assert {
            f"{service}: queue depth",
            f"{service}: DLQ depth",
            f"{service}: age of oldest message (s)",
        } <= titles
