"""``alarms sync`` on moto: the stage's alarms follow its queues, idempotently.

The growth alarm is also run on the emulator's SQS metrics and alarm evaluation, which publish
only active queues as SQS does ("Monitoring Amazon SQS queues using CloudWatch",
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/monitoring-using-cloudwatch.html)
and fill and diff as metric math does ("Using metric math",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderflow import naming
from orderflow.contracts import SERVICES, OrderEvent
from orderflow.emulator import alarm_evaluation, clock, sqs_metrics
from orderflow.emulator.clock import EmulatorClock
from orderflow.messaging import EventPublisher
from orderflow.platform.alarms import (
    CREATE,
    DELETE,
    UNCHANGED,
    UPDATE,
    alarm_states,
    sync_alarms,
)
from orderflow.platform.aws import AwsClients
from orderflow.platform.dlq import held_messages
from orderflow.platform.stage import discover_queues
from orderflow.testing import make_order

from .conftest import STAGE, StageOnMoto, consume_until_dead_lettered

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
    # AND growth is a DIFF of the DLQ's visible + in-flight messages, missing minutes filled
    # with 0, never NumberOfMessagesSent
    growth = alarms[f"orderflow-{STAGE}-payment-dlq-growth"]
    metrics = {m["Id"]: m for m in growth["Metrics"]}
    assert metrics["depth"]["Expression"] == "FILL(visible, 0) + FILL(in_flight, 0)"
    assert metrics["growth"]["Expression"] == "DIFF(depth)"
    assert [m["Id"] for m in growth["Metrics"] if m["ReturnData"]] == ["growth"]
    for query, metric in (
        ("visible", "ApproximateNumberOfMessagesVisible"),
        ("in_flight", "ApproximateNumberOfMessagesNotVisible"),
    ):
        stat = metrics[query]["MetricStat"]["Metric"]
        assert stat["MetricName"] == metric
        assert stat["Dimensions"] == [
            {"Name": "QueueName", "Value": f"orderflow-{STAGE}-payment-dlq"}
        ]
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
        aws.cloudwatch().get_dashboard(DashboardName=naming.dashboard(STAGE))["DashboardBody"]
    )

    # THEN per service it charts depth, DLQ depth and age of the oldest message
    titles = {w["properties"].get("title") for w in body["widgets"] if w["type"] == "metric"}
    for service in SERVICES:
        assert {
            f"{service}: queue depth",
            f"{service}: DLQ depth",
            f"{service}: age of oldest message (s)",
        } <= titles


# --- the growth alarm on emulated SQS metrics -------------------------------------------------

FACTOR = 60.0
"""Emulated time runs sixty times faster: an emulated minute is one real second."""
MINUTE = timedelta(seconds=1)
GROWTH = f"orderflow-{STAGE}-payment-dlq-growth"


@pytest.fixture
def minute(aws: AwsClients) -> Iterator[Callable[[datetime], None]]:
    """SQS's metrics then CloudWatch's alarm evaluation, for the emulated minute ending ``at``."""
    clock.set_clock(EmulatorClock(FACTOR))
    modules = (clock, sqs_metrics, alarm_evaluation)
    for module in modules:
        module.install()

    def run(at: datetime) -> None:
        sqs_metrics.publish_sqs_metrics(at)
        alarm_evaluation.evaluate_alarms(at + timedelta(milliseconds=1))

    yield run
    for module in reversed(modules):
        module.uninstall()
    clock.set_clock(EmulatorClock())


def fails(event: OrderEvent) -> None:
    raise RuntimeError(f"payment bug for {event.order_id}")


def dead_letter(aws: AwsClients, stage: StageOnMoto, *order_ids: str) -> None:
    """Orders that fail every payment retry and park in payment's DLQ."""
    EventPublisher(stage.topic_arn, aws.sns()).publish_batch([make_order(o) for o in order_ids])
    consume_until_dead_lettered(aws, stage, "payment", fails)


def growth_state(aws: AwsClients) -> str:
    alarm = aws.cloudwatch().describe_alarms(AlarmNames=[GROWTH])["MetricAlarms"][0]
    return str(alarm["StateValue"])


def test_dlq_growth_alarm_fires_after_a_quiet_night(
    aws: AwsClients, stage: StageOnMoto, minute: Callable[[datetime], None]
) -> None:
    # GIVEN a synced stage whose payment DLQ nobody touches for more than six (emulated) hours,
    # so SQS stops publishing its metrics
    sync(aws, stage)
    start = datetime.now(UTC)
    minute(start)
    morning = start + timedelta(seconds=clock.current_clock().real(6 * 3600)) + MINUTE
    for n in range(3):
        minute(morning + n * MINUTE)
    assert growth_state(aws) == "OK"  # a quiet, unpublished DLQ does not page on its own
    # WHEN the morning's first order fails every retry and lands in the DLQ
    dead_letter(aws, stage, "ord-morning")
    minute(morning + 3 * MINUTE)
    # THEN the growth alarm pages from that first datapoint
    assert growth_state(aws) == "ALARM"


def test_inspecting_a_dlq_does_not_page_but_a_new_message_does(
    aws: AwsClients, stage: StageOnMoto, minute: Callable[[datetime], None]
) -> None:
    # GIVEN two orders parked in payment's DLQ long enough for the growth alarm to be OK again
    sync(aws, stage)
    dead_letter(aws, stage, "ord-1", "ord-2")
    start = datetime.now(UTC)
    for n in range(7):
        minute(start + n * MINUTE)
    assert growth_state(aws) == "OK"
    dlq_url = stage.queue_url("payment", "dlq")
    # WHEN an operator's scan (dlq inspect, dlq redrive --group) holds every DLQ message while
    # SQS publishes its minute, then lets them go
    with held_messages(aws.sqs(), dlq_url) as held:
        assert len(held.messages) == 2
        minute(start + 7 * MINUTE)
    for n in range(8, 10):
        minute(start + n * MINUTE)
    # THEN nobody is paged: the messages never left the DLQ
    assert growth_state(aws) == "OK"
    # WHEN a third order fails for real
    dead_letter(aws, stage, "ord-3")
    minute(start + 10 * MINUTE)
    # THEN that is growth
    assert growth_state(aws) == "ALARM"
